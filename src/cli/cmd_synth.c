/* cmd_synth.c — `zsq synth MODEL --method M --count N -o FILE`: zero-shot calibration images. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char kHelp[] =
    "usage: zsq synth MODEL.onnx --method M --count N -o OUT.zsd [options]\n"
    "\n"
    "Synthesises calibration images from the model alone (docs/synthesis.md).\n"
    "\n"
    "methods: noise   Gaussian images, the floor every method must beat\n"
    "         zeroq   match each BN layer's per-image input mean/std (ZeroQ)\n"
    "         dsg     ZeroQ with DSG's slack margins and layer-wise sample enhancement\n"
    "         intraq  batch BN statistics + target-label loss + random-resized crop (IntraQ)\n"
    "         hast    intraq with HAST's hard-sample focal cross-entropy\n"
    "         centres intraq (hard targets, no MDC) pulling each image's deep BN statistics\n"
    "                 toward EMA centres of its class, apart from the other classes\n"
    "         gzsq    for BN-free models: conv-output statistics predicted from the weights + CE\n"
    "         genie   a small generator + per-image latents optimised on batch BN statistics\n"
    "\n"
    "options:\n"
    "  --count N          images to make (required)\n"
    "  -o, --output FILE  the calibration set (.zsd)\n"
    "  --batch B          images optimised together (default: the method's)\n"
    "  --iters I          Adam steps per batch (default: the method's)\n"
    "  --lr X             Adam learning rate (default: the method's)\n"
    "  --seed S           random seed (default 0); same seed and threads -> same file\n"
    "  --threads N        threads (default 1)\n"
    "  --format text|json quality figures on stdout\n"
    "  --soft-target X    intraq: half the images aim at p_y ~ U(X, 1) (default 0.95; 1: hard)\n"
    "  --mdc LO,HI|off    intraq: margins on 1 - cos(feature, class centroid) (default 0.05,0.8)\n"
    "  --centre-weight X  centres: weight of the centring term (default 0.2; 0: off)\n"
    "  --centre-sep X     centres: weight of the separation hinge (default 0.2; 0: off)\n"
    "  --fold-bn          fold BatchNorm into the convs first (synthesise as for a BN-free "
    "model)\n"
    "  --swing on|off     strided convs see a random reflect-padded +-1 pixel shift every step\n"
    "                     (GENIE's swing convolution; default: on for genie, off otherwise)\n"
    "  --clamp on|off     keep the images inside the normalised pixel range (not genie's;\n"
    "                     default: on when the normalisation is known: the flags below or\n"
    "                     the model's zsq.input_mean/std/scale metadata)\n"
    "  --mean M[,M..]     per-channel mean of pixels scaled to [0,1]\n"
    "  --std S[,S..]      per-channel std\n"
    "  --scale X          pixel scale to [0,1] (default 1/255)\n";

typedef struct progress_state {
  zsq_progress bar;
  int64_t batches, iters;
  double loss;
} progress_state;

static void on_progress(void *ctx, int64_t batch, int64_t batches, int64_t iter, int64_t iters,
                        double loss) {
  progress_state *p = ctx;
  if (p->bar.total <= 1) {
    zsq_progress_begin(&p->bar, "synth", batches * iters);
  }
  p->loss = loss;
  zsq_progress_update(&p->bar, batch * iters + iter);
  if (p->bar.tty) fprintf(stderr, " loss %.4g", loss);
}

/* A number in (lo, 1] (lo excluded). */
static int parse_fraction(const char *flag, const char *v, float lo, float *out) {
  if (v == NULL || zsq_cli_parse_floats(v, out, 1) != 1 || !(*out > lo && *out <= 1)) {
    zsq_cli_error("%s expects a number in (%g, 1]", flag, lo);
    return 0;
  }
  return 1;
}

/* A weight >= 0; 0 turns the term off (the option's negative value). */
static int parse_weight(const char *flag, const char *v, float *out) {
  if (v == NULL || zsq_cli_parse_floats(v, out, 1) != 1 || !(*out >= 0)) {
    zsq_cli_error("%s expects a number >= 0", flag);
    return 0;
  }
  if (*out == 0) *out = -1.0f;
  return 1;
}

/* --mdc LO,HI (0 <= LO < HI; LO 0 or HI >= 2 disables that side) or --mdc off. */
static int parse_mdc(const char *v, zsq_synth_options *o) {
  float m[2];
  if (v != NULL && strcmp(v, "off") == 0) {
    o->mdc_lower = o->mdc_upper = -1.0f;
    return 1;
  }
  if (v == NULL || zsq_cli_parse_floats(v, m, 2) != 2 || !(m[0] >= 0 && m[1] > m[0])) {
    zsq_cli_error("--mdc expects LO,HI with 0 <= LO < HI, or off");
    return 0;
  }
  o->mdc_lower = m[0] == 0 ? -1.0f : m[0];
  o->mdc_upper = m[1];
  return 1;
}

static int flag_value(const char *flag, const char *v, const char **dst) {
  if (v == NULL) return zsq_cli_error("%s needs a value", flag), 0;
  *dst = v;
  return 1;
}

int zsq_cmd_synth(int argc, char **argv) {
  const char *model = NULL, *out = NULL, *format = "text";
  zsq_synth_options o = {0};
  int64_t v64;
  int clamp = 0;
  zsq_norm_flags nf = {NULL, NULL, NULL};
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (zsq_cli_help_or_version(argv[i], kHelp)) {
      return ZSQ_EXIT_OK;
    } else if (zsq_cli_flag(argc, argv, &i, "--method", &v)) {
      if (v == NULL) return zsq_cli_error("--method needs a value"), ZSQ_EXIT_USAGE;
      o.method = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--count", &v)) {
      if (!zsq_cli_parse_int("--count", v, 1, 1 << 24, &o.count)) return ZSQ_EXIT_USAGE;
    } else if (zsq_cli_flag(argc, argv, &i, "-o", &v) ||
               zsq_cli_flag(argc, argv, &i, "--output", &v)) {
      if (v == NULL) return zsq_cli_error("-o needs a file"), ZSQ_EXIT_USAGE;
      out = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--batch", &v)) {
      if (!zsq_cli_parse_int("--batch", v, 1, 65536, &o.batch)) return ZSQ_EXIT_USAGE;
    } else if (zsq_cli_flag(argc, argv, &i, "--iters", &v)) {
      if (!zsq_cli_parse_int("--iters", v, 1, 10000000, &o.iters)) return ZSQ_EXIT_USAGE;
    } else if (zsq_cli_flag(argc, argv, &i, "--lr", &v)) {
      float lr;
      if (v == NULL || zsq_cli_parse_floats(v, &lr, 1) != 1 || !(lr > 0)) {
        return zsq_cli_error("--lr expects a positive number"), ZSQ_EXIT_USAGE;
      }
      o.lr = lr;
    } else if (zsq_cli_flag(argc, argv, &i, "--seed", &v)) {
      if (!zsq_cli_parse_int("--seed", v, 0, INT64_MAX, &v64)) return ZSQ_EXIT_USAGE;
      o.seed = (uint64_t)v64;
    } else if (zsq_cli_flag(argc, argv, &i, "--threads", &v)) {
      if (!zsq_cli_parse_int("--threads", v, 1, 256, &v64)) return ZSQ_EXIT_USAGE;
      o.threads = (int)v64;
    } else if (zsq_cli_flag(argc, argv, &i, "--soft-target", &v)) {
      if (!parse_fraction("--soft-target", v, 0, &o.target_lo)) return ZSQ_EXIT_USAGE;
    } else if (zsq_cli_flag(argc, argv, &i, "--mdc", &v)) {
      if (!parse_mdc(v, &o)) return ZSQ_EXIT_USAGE;
    } else if (zsq_cli_flag(argc, argv, &i, "--centre-weight", &v)) {
      if (!parse_weight("--centre-weight", v, &o.centre_weight)) return ZSQ_EXIT_USAGE;
    } else if (zsq_cli_flag(argc, argv, &i, "--centre-sep", &v)) {
      if (!parse_weight("--centre-sep", v, &o.centre_sep)) return ZSQ_EXIT_USAGE;
    } else if (strcmp(argv[i], "--fold-bn") == 0) {
      o.fold_batchnorm = 1;
    } else if (zsq_cli_flag(argc, argv, &i, "--swing", &v)) {
      if (v == NULL || (strcmp(v, "on") != 0 && strcmp(v, "off") != 0))
        return zsq_cli_error("--swing must be on or off"), ZSQ_EXIT_USAGE;
      o.swing = strcmp(v, "on") == 0 ? 1 : -1;
    } else if (zsq_cli_flag(argc, argv, &i, "--clamp", &v)) {
      if (v == NULL || (strcmp(v, "on") != 0 && strcmp(v, "off") != 0))
        return zsq_cli_error("--clamp must be on or off"), ZSQ_EXIT_USAGE;
      clamp = strcmp(v, "on") == 0 ? 1 : -1;
    } else if (zsq_cli_flag(argc, argv, &i, "--mean", &v)) {
      if (!flag_value("--mean", v, &nf.mean)) return ZSQ_EXIT_USAGE;
    } else if (zsq_cli_flag(argc, argv, &i, "--std", &v)) {
      if (!flag_value("--std", v, &nf.std)) return ZSQ_EXIT_USAGE;
    } else if (zsq_cli_flag(argc, argv, &i, "--scale", &v)) {
      if (!flag_value("--scale", v, &nf.scale)) return ZSQ_EXIT_USAGE;
    } else if (zsq_cli_flag(argc, argv, &i, "--format", &v)) {
      if (v == NULL || (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)) {
        return zsq_cli_error("--format must be text or json"), ZSQ_EXIT_USAGE;
      }
      format = v;
    } else if (argv[i][0] == '-') {
      return zsq_cli_error("synth: unknown option '%s'", argv[i]), ZSQ_EXIT_USAGE;
    } else if (model == NULL) {
      model = argv[i];
    } else {
      return zsq_cli_error("synth takes one model"), ZSQ_EXIT_USAGE;
    }
  }
  if (model == NULL)
    return zsq_cli_error("synth: no model given (see 'zsq synth --help')"), ZSQ_EXIT_USAGE;
  if (o.method == NULL) return zsq_cli_error("synth: --method is required"), ZSQ_EXIT_USAGE;
  if (o.count == 0) return zsq_cli_error("synth: --count is required"), ZSQ_EXIT_USAGE;
  if (out == NULL) return zsq_cli_error("synth: -o FILE is required"), ZSQ_EXIT_USAGE;
  if (clamp > 0 && strcmp(o.method, "genie") == 0) { /* docs/synthesis.md, "The pixel range" */
    return zsq_cli_error("--clamp on: genie's generator output is not clamped"), ZSQ_EXIT_USAGE;
  }
  zsq_model *m;
  zsq_calib *c;
  if (zsq_model_create(&m) != ZSQ_OK) return ZSQ_EXIT_INTERNAL;
  if (zsq_calib_create(&c) != ZSQ_OK) {
    zsq_model_destroy(m);
    return ZSQ_EXIT_INTERNAL;
  }
  progress_state ps = {0};
  o.progress = on_progress;
  o.progress_ctx = &ps;
  zsq_synth_report r;
  int rc = ZSQ_EXIT_OK;
  zsq_input_range range;
  zsq_status st = zsq_model_load(m, model);
  if (st == ZSQ_OK)
    rc = zsq_cli_input_range(m, model, &nf, clamp, &range, &o.input_lo, &o.input_hi);
  if (st == ZSQ_OK && rc == ZSQ_EXIT_OK) st = zsq_synthesize(m, &o, c, &r);
  if (ps.bar.total > 1) zsq_progress_end(&ps.bar);
  if (rc != ZSQ_EXIT_OK) { /* the input range's error is printed */
    zsq_calib_destroy(c);
    zsq_model_destroy(m);
    return rc;
  }
  if (st != ZSQ_OK) {
    zsq_cli_error("%s: %s", model, zsq_model_last_error(m));
    rc = zsq_cli_exit_for(st);
  } else if ((st = zsq_calib_save(c, out)) != ZSQ_OK) {
    zsq_cli_error("%s", zsq_calib_last_error(c));
    rc = zsq_cli_exit_for(st);
  } else if (strcmp(format, "json") == 0) {
    printf("{\"method\": ");
    zsq_json_string(stdout, o.method);
    printf(", \"count\": %lld, \"seed\": %llu, \"output\": ", (long long)o.count,
           (unsigned long long)o.seed);
    zsq_json_string(stdout, out);
    if (r.bn_layers > 0) {
      printf(", \"bn_distance\": %.6g", r.bn_distance);
    } else {
      printf(", \"bn_distance\": null");
    }
    printf(
        ", \"mean_confidence\": %.4f, \"label_agreement\": %.4f, "
        "\"class_entropy\": %.4f, "
        "\"min_class\": %lld, \"max_class\": %lld, \"final_loss\": %.6g, \"seconds\": %.2f}\n",
        r.mean_confidence, r.label_agreement, r.class_entropy, (long long)r.min_class,
        (long long)r.max_class, ps.loss, r.seconds);
  } else {
    printf("%s: %lld images by %s (seed %llu) -> %s in %.1f s\n", model, (long long)o.count,
           o.method, (unsigned long long)o.seed, out, r.seconds);
    char bn[32] = "n/a (no BN layers)";
    if (r.bn_layers > 0) snprintf(bn, sizeof bn, "%.4g", r.bn_distance);
    printf(
        "  BN-statistic distance %s, teacher confidence %.3f, label agreement %.3f, class "
        "balance %.3f "
        "(argmax counts %lld..%lld)\n",
        bn, r.mean_confidence, r.label_agreement, r.class_entropy, (long long)r.min_class,
        (long long)r.max_class);
  }
  zsq_calib_destroy(c);
  zsq_model_destroy(m);
  return rc;
}
