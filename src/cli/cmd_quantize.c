/* cmd_quantize.c — `zsq quantize MODEL --bits wXaY --calib SRC`: post-training quantization
 * (simulated), the per-layer error report, and float vs quantized accuracy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char kHelp[] =
    "usage: zsq quantize MODEL.onnx --bits wXaY [options]\n"
    "\n"
    "Quantizes the model post-training (BN folded, per-channel weights, symmetric by default,\n"
    "per-tensor activations, first and last layer at 8 bits) and reports the error of every\n"
    "layer. The result is the simulated quantized model (docs/quantization.md).\n"
    "\n"
    "options:\n"
    "  --bits wXaY          weight and activation bits, X and Y in {8, 4, 3, 2} (e.g. w4a4)\n"
    "  --calib SRC          calibration data: synth:METHOD (zero-shot, default synth:zeroq),\n"
    "                       noise, fmnist (real training images: the upper bound) or FILE.zsd\n"
    "  --calib-count N      calibration images (default 256)\n"
    "  --synth-iters I      optimisation steps for synth:METHOD (default: the method's)\n"
    "  --synth-batch B      images optimised together for synth:METHOD (default: the method's)\n"
    "  --range R            activation ranges: mse (default), minmax or percentile\n"
    "  --weight-range R     weight ranges: mse (default) or minmax\n"
    "  --weight-scheme S    weights: sym (default) or asym (a zero point per output channel on\n"
    "                       every layer below 8 bits; 8-bit layers stay symmetric); the integer\n"
    "                       runtime holds asym layers at 8 bits per weight\n"
    "  --quantize-all       first and last layer at the target bits too (by default they,\n"
    "                       the first layer's output and the last layer's input stay 8-bit)\n"
    "  --bias-correction [M]  bias correction: empirical (the default when M is left out: each\n"
    "                       layer's mean output error on the calibration images) or analytic\n"
    "                       (DFQ: the expected error from the BatchNorm statistics)\n"
    "  --cle                cross-layer equalisation (DFQ) of the folded model before\n"
    "                       calibration; a ReLU6 between equalised convs becomes a ReLU\n"
    "  --recon M            learned weight rounding: adaround (per layer) or brecq (per\n"
    "                       residual block, activation quantization included)\n"
    "  --recon-iters N      Adam steps per layer or block for --recon (default 1000)\n"
    "  --qdrop P            QDrop: while reconstructing, drop each activation quantization\n"
    "                       with probability P in (0, 1) (0.5 in the paper); needs --recon\n"
    "  --border B           activation rounding: nearest (default) or aquant (per-channel\n"
    "                       borders learned in reconstruction); needs --recon\n"
    "  --lsq                LSQ: learn the activation steps with the rounding; needs --recon\n"
    "  --genie-m            GENIE-M: learn the per-channel weight steps with the rounding;\n"
    "                       needs --recon\n"
    "  --pd-loss            PD-Quant: add the KL from the float logits to those of each unit's\n"
    "                       output run through the float rest of the network (T = 4,\n"
    "                       weight 1/0.1); needs --recon\n"
    "  --pd-dc              PD-Quant's distribution correction: each unit's float input is\n"
    "                       first optimised towards the BatchNorm statistics inside the unit\n"
    "                       (Adam, lr 1e-3) and builds the float targets; needs --recon\n"
    "  --pd-dc-lamb C       its lamb_c: ||x - x0||^2 weighs 1/C (default 0.02)\n"
    "  --pd-dc-steps N      its Adam steps per minibatch of 32 images (default 500)\n"
    "  --budget B           mixed precision: weight bits per layer (8/4/3/2, at most the X of\n"
    "                       wXaY) chosen by sensitivity so the model fits B: the size of its\n"
    "                       weight codes in bytes (60000, 120k, 1.5M) or as a percentage of\n"
    "                       their 8-bit size (40%), or a latency per image (1.5ms, 800us,\n"
    "                       0.002s): batch 1 in the integer runtime with --threads, every\n"
    "                       layer timed at every width on this machine while quantizing\n"
    "  --eval               top-1 on the Fashion-MNIST test set, float and quantized\n"
    "  --limit N            evaluate the first N test images only\n"
    "  --report FILE        the per-layer report as JSON\n"
    "  --seed S, --threads N\n"
    "  -o OUT.zsq           save the quantized model (docs/file-format.md); `zsq eval OUT.zsq`\n"
    "                       runs it through the simulation\n";

typedef struct q_opts {
  const char *model, *calib, *report, *out, *range, *wrange, *wscheme, *recon, *border;
  double qdrop, budget_bytes, budget_fraction, budget_seconds, dc_lamb;
  int64_t count, iters, sbatch, limit, seed, threads, recon_iters, dc_steps;
  int wbits, abits, all, eval, bias, cle, lsq, genie_m, pd_loss, pd_dc;
} q_opts;

/* "N%" (0 < N <= 100) into *fraction, "N", "Nk", "NM" into *bytes, or a time per image "Ns",
 * "Nms", "Nus" into *seconds. */
static int parse_budget(const char *s, double *bytes, double *fraction, double *seconds) {
  if (s == NULL) return 0;
  char *end;
  const double v = strtod(s, &end);
  if (end == s || !(v > 0) || !isfinite(v)) return 0;
  if (strcmp(end, "%") == 0) {
    *fraction = v / 100.0;
    return v <= 100.0;
  }
  static const struct {
    const char *suffix;
    double unit;
    int is_time;
  } kUnits[] = {{"", 1.0, 0},  {"k", 1e3, 0},   {"M", 1e6, 0},
                {"s", 1.0, 1}, {"ms", 1e-3, 1}, {"us", 1e-6, 1}};
  for (size_t i = 0; i < sizeof kUnits / sizeof kUnits[0]; i++) {
    if (strcmp(end, kUnits[i].suffix) != 0) continue;
    *(kUnits[i].is_time ? seconds : bytes) = v * kUnits[i].unit;
    return 1;
  }
  return 0;
}

static int parse_bits(const char *s, int *w, int *a) {
  if (s == NULL || sscanf(s, "w%da%d", w, a) != 2) return 0;
  const int ok[] = {2, 3, 4, 8};
  int wo = 0, ao = 0;
  for (int i = 0; i < 4; i++) {
    wo |= *w == ok[i];
    ao |= *a == ok[i];
  }
  return wo && ao;
}

/* --bias-correction [empirical|analytic] (or =M): a following argument that does not begin with
 * '-' is its value; bare, it is empirical. */
static int parse_bias(int argc, char **argv, int *i, int *out) {
  const char *v = NULL;
  if (strncmp(argv[*i], "--bias-correction=", 18) == 0)
    v = argv[*i] + 18;
  else if (*i + 1 < argc && argv[*i + 1][0] != '-')
    v = argv[++*i];
  if (v == NULL || strcmp(v, "empirical") == 0) {
    *out = ZSQ_BIAS_CORRECTION_EMPIRICAL;
  } else if (strcmp(v, "analytic") == 0) {
    *out = ZSQ_BIAS_CORRECTION_ANALYTIC;
  } else {
    zsq_cli_error(
        "--bias-correction expects empirical or analytic, not '%s' (alone it means "
        "empirical; put it after the model)",
        v);
    return 0;
  }
  return 1;
}

static int parse(int argc, char **argv, q_opts *o) {
  memset(o, 0, sizeof *o);
  o->calib = "synth:zeroq";
  o->count = 256;
  o->threads = 1;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (zsq_cli_help_or_version(argv[i], kHelp)) {
      return -1;
    } else if (strcmp(argv[i], "--quantize-all") == 0) {
      o->all = 1;
    } else if (strcmp(argv[i], "--bias-correction") == 0 ||
               strncmp(argv[i], "--bias-correction=", 18) == 0) {
      if (!parse_bias(argc, argv, &i, &o->bias)) return 0;
    } else if (strcmp(argv[i], "--cle") == 0) {
      o->cle = 1;
    } else if (strcmp(argv[i], "--eval") == 0) {
      o->eval = 1;
    } else if (strcmp(argv[i], "--lsq") == 0) {
      o->lsq = 1;
    } else if (strcmp(argv[i], "--genie-m") == 0) {
      o->genie_m = 1;
    } else if (strcmp(argv[i], "--pd-loss") == 0) {
      o->pd_loss = 1;
    } else if (strcmp(argv[i], "--pd-dc") == 0) {
      o->pd_dc = 1;
    } else if (zsq_cli_flag(argc, argv, &i, "--pd-dc-lamb", &v)) {
      char *end = NULL;
      o->dc_lamb = v ? strtod(v, &end) : 0.0;
      if (v == NULL || *end != '\0' || !(o->dc_lamb > 0.0 && o->dc_lamb < 1e6))
        return zsq_cli_error("--pd-dc-lamb expects a positive number, e.g. 0.02"), 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--pd-dc-steps", &v)) {
      if (!zsq_cli_parse_int("--pd-dc-steps", v, 1, 1000000, &o->dc_steps)) return 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--budget", &v)) {
      if (!parse_budget(v, &o->budget_bytes, &o->budget_fraction, &o->budget_seconds)) {
        return zsq_cli_error(
                   "--budget expects bytes (60000, 120k, 1.5M), a percentage (40%%) or a time "
                   "per image (1.5ms, 800us, 0.002s)"),
               0;
      }
    } else if (zsq_cli_flag(argc, argv, &i, "--bits", &v)) {
      if (!parse_bits(v, &o->wbits, &o->abits)) {
        return zsq_cli_error("--bits expects wXaY with X, Y in {8, 4, 3, 2}, e.g. w4a4"), 0;
      }
    } else if (zsq_cli_flag(argc, argv, &i, "--calib", &v)) {
      if (v == NULL) return zsq_cli_error("--calib needs a source"), 0;
      o->calib = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--calib-count", &v)) {
      if (!zsq_cli_parse_int("--calib-count", v, 1, 1 << 20, &o->count)) return 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--synth-iters", &v)) {
      if (!zsq_cli_parse_int("--synth-iters", v, 1, 1000000, &o->iters)) return 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--synth-batch", &v)) {
      if (!zsq_cli_parse_int("--synth-batch", v, 1, 65536, &o->sbatch)) return 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--recon", &v)) {
      if (v == NULL || (strcmp(v, "adaround") != 0 && strcmp(v, "brecq") != 0)) {
        return zsq_cli_error("--recon expects adaround or brecq (GENIE-M: --genie-m)"), 0;
      }
      o->recon = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--qdrop", &v)) {
      char *end = NULL;
      o->qdrop = v ? strtod(v, &end) : 0.0;
      if (v == NULL || *end != '\0' || !(o->qdrop > 0.0 && o->qdrop < 1.0))
        return zsq_cli_error("--qdrop expects a probability P with 0 < P < 1, e.g. 0.5"), 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--border", &v)) {
      if (v == NULL || (strcmp(v, "nearest") != 0 && strcmp(v, "aquant") != 0))
        return zsq_cli_error("--border expects nearest or aquant"), 0;
      o->border = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--recon-iters", &v)) {
      if (!zsq_cli_parse_int("--recon-iters", v, 1, 1000000, &o->recon_iters)) return 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--limit", &v)) {
      if (!zsq_cli_parse_int("--limit", v, 1, INT64_MAX, &o->limit)) return 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--seed", &v)) {
      if (!zsq_cli_parse_int("--seed", v, 0, INT64_MAX, &o->seed)) return 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--threads", &v)) {
      if (!zsq_cli_parse_int("--threads", v, 1, 256, &o->threads)) return 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--range", &v)) {
      o->range = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--weight-range", &v)) {
      o->wrange = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--weight-scheme", &v)) {
      if (v == NULL || (strcmp(v, "sym") != 0 && strcmp(v, "asym") != 0))
        return zsq_cli_error("--weight-scheme expects sym or asym"), 0;
      o->wscheme = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--report", &v)) {
      if (v == NULL) return zsq_cli_error("--report needs a file"), 0;
      o->report = v;
    } else if (zsq_cli_flag(argc, argv, &i, "-o", &v) ||
               zsq_cli_flag(argc, argv, &i, "--output", &v)) {
      o->out = v;
    } else if (argv[i][0] == '-') {
      return zsq_cli_error("quantize: unknown option '%s'", argv[i]), 0;
    } else if (o->model == NULL) {
      o->model = argv[i];
    } else {
      return zsq_cli_error("quantize takes one model"), 0;
    }
  }
  if (o->model == NULL)
    return zsq_cli_error("quantize: no model given (see 'zsq quantize --help')"), 0;
  if (o->wbits == 0) return zsq_cli_error("quantize: --bits is required (e.g. --bits w4a4)"), 0;
  if (o->recon == NULL &&
      (o->recon_iters > 0 || o->qdrop > 0 || o->lsq || o->genie_m || o->pd_loss || o->pd_dc ||
       (o->border && strcmp(o->border, "aquant") == 0))) {
    return zsq_cli_error(
               "quantize: --recon-iters, --qdrop, --lsq, --genie-m, --pd-loss, --pd-dc and "
               "--border aquant need --recon adaround or brecq"),
           0;
  }
  if (!o->pd_dc && (o->dc_lamb > 0 || o->dc_steps > 0))
    return zsq_cli_error("quantize: --pd-dc-lamb and --pd-dc-steps need --pd-dc"), 0;
  return 1;
}

/* Real training images as a calibration set (seeded random subset). */
static int fmnist_calib(zsq_model *m, const q_opts *o, zsq_calib *c) {
  zsq_dataset *d;
  if (zsq_dataset_create(&d) != ZSQ_OK) return ZSQ_EXIT_INTERNAL;
  zsq_status st = zsq_dataset_load_idx(d, "/usr/share/datasets/fashion-mnist", ZSQ_SPLIT_TRAIN);
  int rc = ZSQ_EXIT_OK, ch, h, w;
  if (st != ZSQ_OK) {
    zsq_cli_error("fashion-mnist: %s", zsq_dataset_last_error(d));
    rc = zsq_cli_exit_for(st);
  }
  zsq_norm nrm;
  if (rc == ZSQ_EXIT_OK) rc = zsq_cli_check_geometry(m, o->model, d);
  if (rc == ZSQ_EXIT_OK) {
    zsq_dataset_geometry(d, &ch, &h, &w);
    rc = zsq_cli_norm(m, o->model, NULL, NULL, NULL, ch, &nrm);
  }
  if (rc == ZSQ_EXIT_OK) {
    const size_t img = (size_t)ch * h * w, n = (size_t)o->count, total = zsq_dataset_count(d);
    float *x = malloc(n * img * sizeof(float));
    int *lab = malloc(n * sizeof(int));
    if (x && lab) {
      uint64_t r = (uint64_t)o->seed * 0x9e3779b97f4a7c15ULL + 1;
      for (size_t i = 0; i < n; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        const size_t k = (size_t)((r >> 33) % total);
        zsq_cli_normalise(&nrm, zsq_dataset_image(d, k), (size_t)h * w, x + i * img);
        lab[i] = zsq_dataset_label(d, k);
      }
      st = zsq_calib_set(c, (int64_t)n, ch, h, w, x, lab, "fmnist", (uint64_t)o->seed);
      if (st != ZSQ_OK) rc = zsq_cli_exit_for(st);
    } else {
      rc = ZSQ_EXIT_INTERNAL;
    }
    free(x);
    free(lab);
  }
  zsq_dataset_destroy(d);
  return rc;
}

static int get_calib(zsq_model *m, const q_opts *o, zsq_calib *c) {
  if (strcmp(o->calib, "fmnist") == 0) return fmnist_calib(m, o, c);
  const char *method = strncmp(o->calib, "synth:", 6) == 0
                           ? o->calib + 6
                           : (strcmp(o->calib, "noise") == 0 ? "noise" : NULL);
  zsq_status st;
  if (method != NULL) {
    zsq_synth_options so = {.method = method,
                            .count = o->count,
                            .iters = o->iters,
                            .batch = o->sbatch,
                            .seed = (uint64_t)o->seed,
                            .threads = (int)o->threads};
    zsq_input_range range;
    const zsq_norm_flags nf = {NULL, NULL, NULL};
    const int rc = zsq_cli_input_range(m, o->model, &nf, 0, &range, &so.input_lo, &so.input_hi);
    if (rc != ZSQ_EXIT_OK) return rc;
    st = zsq_synthesize(m, &so, c, NULL);
    if (st != ZSQ_OK) zsq_cli_error("%s: %s", o->model, zsq_model_last_error(m));
    return zsq_cli_exit_for(st);
  }
  st = zsq_calib_load(c, o->calib);
  if (st != ZSQ_OK) zsq_cli_error("%s", zsq_calib_last_error(c));
  return zsq_cli_exit_for(st);
}

int zsq_cmd_quantize(int argc, char **argv) {
  q_opts o;
  const int ok = parse(argc, argv, &o);
  if (ok < 0) return ZSQ_EXIT_OK;
  if (!ok) return ZSQ_EXIT_USAGE;
  zsq_model *m = NULL, *q = NULL;
  zsq_calib *c = NULL;
  zsq_dataset *d = NULL;
  int rc = ZSQ_EXIT_INTERNAL;
  if (zsq_model_create(&m) || zsq_model_create(&q) || zsq_calib_create(&c) ||
      zsq_dataset_create(&d))
    goto out;
  zsq_status st = zsq_model_load_onnx(m, o.model);
  if (st != ZSQ_OK) {
    zsq_cli_error("%s: %s", o.model, zsq_model_last_error(m));
    rc = zsq_cli_exit_for(st);
    goto out;
  }
  double t0 = zsq_cli_now();
  rc = get_calib(m, &o, c);
  if (rc != ZSQ_EXIT_OK) goto out;
  const double t_calib = zsq_cli_now() - t0;
  zsq_quant_options qo = {.wbits = o.wbits,
                          .abits = o.abits,
                          .quantize_all = o.all,
                          .act_range = o.range,
                          .weight_range = o.wrange,
                          .weight_scheme = o.wscheme,
                          .threads = (int)o.threads,
                          .bias_correction = o.bias,
                          .cle = o.cle,
                          .recon = o.recon,
                          .recon_iters = (int)o.recon_iters,
                          .qdrop = (float)o.qdrop,
                          .border = o.border,
                          .learn_act_steps = o.lsq,
                          .learn_weight_steps = o.genie_m,
                          .pd_loss = o.pd_loss,
                          .pd_dc = o.pd_dc,
                          .pd_dc_lamb = (float)o.dc_lamb,
                          .pd_dc_steps = (int)o.dc_steps,
                          .seed = (uint64_t)o.seed,
                          .budget_bytes = o.budget_bytes,
                          .budget_fraction = o.budget_fraction,
                          .budget_seconds = o.budget_seconds};
  t0 = zsq_cli_now();
  st = zsq_quantize(m, &qo, c, q);
  if (st != ZSQ_OK) {
    zsq_cli_error("%s: %s", o.model, zsq_model_last_error(m));
    rc = zsq_cli_exit_for(st);
    goto out;
  }
  const double t_quant = zsq_cli_now() - t0;
  zsq_recon_summary rs;
  zsq_model_recon_summary(q, &rs);
  if (o.pd_loss) fprintf(stderr, "pd-loss: %d of %d units\n", rs.pd_units, rs.units);
  if (o.pd_dc) fprintf(stderr, "pd-dc: %d of %d units corrected\n", rs.dc_units, rs.units);
  static const char *const kBias[] = {"", ", empirical bias correction",
                                      ", analytic bias correction"};
  const int asym = o.wscheme && strcmp(o.wscheme, "asym") == 0;
  printf("%s: W%dA%d (%s%s%s%s), calibration %s (%lld images, %.1f s), quantization %.1f s\n",
         o.model, o.wbits, o.abits, o.all ? "all layers" : "first/last 8-bit",
         asym ? ", asymmetric weights" : "", o.cle ? ", CLE" : "", kBias[o.bias], o.calib,
         (long long)zsq_calib_count(c), t_calib, t_quant);
  zsq_cli_print_report(q, stdout, 0);
  zsq_cli_print_latency(q, stderr);
  if (o.out != NULL) {
    st = zsq_model_save(q, o.out);
    if (st != ZSQ_OK) {
      zsq_cli_error("%s", zsq_model_last_error(q));
      rc = zsq_cli_exit_for(st);
      goto out;
    }
    printf("wrote %s\n", o.out);
  }
  if (o.report != NULL) {
    FILE *f = fopen(o.report, "w");
    if (f == NULL) {
      zsq_cli_error("cannot write '%s'", o.report);
      rc = ZSQ_EXIT_INPUT;
      goto out;
    }
    zsq_cli_print_report(q, f, 1);
    fclose(f);
  }
  if (o.eval) {
    st = zsq_dataset_load_idx(d, "/usr/share/datasets/fashion-mnist", ZSQ_SPLIT_TEST);
    if (st != ZSQ_OK) {
      zsq_cli_error("fashion-mnist: %s", zsq_dataset_last_error(d));
      rc = zsq_cli_exit_for(st);
      goto out;
    }
    int ch, h, w;
    zsq_dataset_geometry(d, &ch, &h, &w);
    zsq_norm nrm;
    rc = zsq_cli_norm(m, o.model, NULL, NULL, NULL, ch, &nrm);
    zsq_acc_opts ao = {o.limit, 100, (int)o.threads, 1, "eval float", 1, NULL}; /* simulated */
    zsq_acc_result rf, rq;
    if (rc == ZSQ_EXIT_OK) rc = zsq_cli_accuracy(m, o.model, d, &nrm, &ao, &rf);
    ao.label = "eval quantized";
    if (rc == ZSQ_EXIT_OK) rc = zsq_cli_accuracy(q, o.model, d, &nrm, &ao, &rq);
    if (rc == ZSQ_EXIT_OK) {
      printf(
          "top-1 on fashion-mnist test (%lld images): float %.2f %%, W%dA%d %.2f %% (%+.2f), "
          "simulated\n",
          (long long)rf.count, 100.0 * rf.correct / rf.count, o.wbits, o.abits,
          100.0 * rq.correct / rq.count, 100.0 * (rq.correct - rf.correct) / rf.count);
    }
  }
  rc = rc == ZSQ_EXIT_OK ? ZSQ_EXIT_OK : rc;
out:
  zsq_dataset_destroy(d);
  zsq_calib_destroy(c);
  zsq_model_destroy(q);
  zsq_model_destroy(m);
  return rc;
}
