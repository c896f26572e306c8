/* cmd_eval.c — `zsq eval MODEL --data fmnist`: top-1 accuracy of a float model on a dataset. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define MAX_CH 16

static const char kHelp[] =
    "usage: zsq eval MODEL.onnx --data fmnist [options]\n"
    "\n"
    "Top-1 accuracy of the model on the Fashion-MNIST test set.\n"
    "\n"
    "options:\n"
    "  --data fmnist          the dataset (only Fashion-MNIST for now)\n"
    "  --data-dir DIR         where its IDX files are (default /usr/share/datasets/fashion-mnist)\n"
    "  --split test|train     which split (default test)\n"
    "  --limit N              only the first N images\n"
    "  --mean M[,M..]         per-channel mean of the normalisation x = (p*scale - mean) / std\n"
    "  --std S[,S..]          per-channel std (both default to the model's zsq.input_mean and\n"
    "                         zsq.input_std metadata; without either, eval stops)\n"
    "  --scale X              pixel scale (default: zsq.input_scale metadata, else 1/255)\n"
    "  --batch N              images per run (default 100)\n"
    "  --threads N            threads (default 1)\n"
    "  --no-fold              keep BatchNorm as its own layer instead of folding it into conv\n"
    "  --format text|json     result format on stdout\n";

typedef struct eval_opts {
  const char *model, *data, *dir, *format;
  zsq_split split;
  int64_t limit, batch, threads;
  const char *mean_s, *std_s, *scale_s;
  int fold;
} eval_opts;

static int parse_scale(const char *s, float *out) {
  if (strncmp(s, "1/", 2) == 0) {
    float d;
    if (zsq_cli_parse_floats(s + 2, &d, 1) != 1 || !(d > 0)) return 0;
    *out = 1.0f / d;
    return 1;
  }
  return zsq_cli_parse_floats(s, out, 1) == 1 && *out > 0;
}

static int parse_args(int argc, char **argv, eval_opts *o) {
  memset(o, 0, sizeof *o);
  o->dir = "/usr/share/datasets/fashion-mnist";
  o->format = "text";
  o->split = ZSQ_SPLIT_TEST;
  o->batch = 100;
  o->threads = 1;
  o->fold = 1;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (strcmp(argv[i], "--version") == 0) {
      printf("zsq %s\n", zsq_version());
      return -1;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(kHelp, stdout);
      return -1;
    } else if (strcmp(argv[i], "--no-fold") == 0) {
      o->fold = 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--data", &v)) {
      if (v == NULL || strcmp(v, "fmnist") != 0) {
        zsq_cli_error("--data: only 'fmnist' (Fashion-MNIST) is supported");
        return 0;
      }
      o->data = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--data-dir", &v)) {
      if (v == NULL) return zsq_cli_error("--data-dir needs a directory"), 0;
      o->dir = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--split", &v)) {
      if (v == NULL || (strcmp(v, "test") != 0 && strcmp(v, "train") != 0)) {
        return zsq_cli_error("--split must be test or train"), 0;
      }
      o->split = strcmp(v, "train") == 0 ? ZSQ_SPLIT_TRAIN : ZSQ_SPLIT_TEST;
    } else if (zsq_cli_flag(argc, argv, &i, "--limit", &v)) {
      if (!zsq_cli_parse_int("--limit", v, 1, INT64_MAX, &o->limit)) return 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--batch", &v)) {
      if (!zsq_cli_parse_int("--batch", v, 1, 4096, &o->batch)) return 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--threads", &v)) {
      if (!zsq_cli_parse_int("--threads", v, 1, 256, &o->threads)) return 0;
    } else if (zsq_cli_flag(argc, argv, &i, "--mean", &v)) {
      if (v == NULL) return zsq_cli_error("--mean needs a value"), 0;
      o->mean_s = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--std", &v)) {
      if (v == NULL) return zsq_cli_error("--std needs a value"), 0;
      o->std_s = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--scale", &v)) {
      if (v == NULL) return zsq_cli_error("--scale needs a value"), 0;
      o->scale_s = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--format", &v)) {
      if (v == NULL || (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)) {
        return zsq_cli_error("--format must be text or json"), 0;
      }
      o->format = v;
    } else if (argv[i][0] == '-') {
      return zsq_cli_error("eval: unknown option '%s'", argv[i]), 0;
    } else if (o->model == NULL) {
      o->model = argv[i];
    } else {
      return zsq_cli_error("eval takes one model"), 0;
    }
  }
  if (o->model == NULL) return zsq_cli_error("eval: no model given (see 'zsq eval --help')"), 0;
  if (o->data == NULL) return zsq_cli_error("eval: --data fmnist is required"), 0;
  return 1;
}

/* Resolves the normalisation from flags, then metadata; returns an exit code. */
static int resolve_norm(const eval_opts *o, zsq_model *m, int channels, float *mean, float *std,
                        float *scale) {
  const char *ms = o->mean_s ? o->mean_s : zsq_model_metadata(m, "zsq.input_mean");
  const char *ss = o->std_s ? o->std_s : zsq_model_metadata(m, "zsq.input_std");
  if (ms == NULL || ss == NULL) {
    zsq_cli_error(
        "eval needs the input normalisation: %s has no zsq.input_mean/zsq.input_std metadata, "
        "so pass --mean M --std S (per channel, for pixels scaled to [0,1])",
        o->model);
    return ZSQ_EXIT_USAGE;
  }
  int nm = zsq_cli_parse_floats(ms, mean, MAX_CH), ns = zsq_cli_parse_floats(ss, std, MAX_CH);
  if (nm < 0 || ns < 0) {
    zsq_cli_error("cannot read the normalisation mean '%s' / std '%s'", ms, ss);
    return o->mean_s ? ZSQ_EXIT_USAGE : ZSQ_EXIT_INPUT;
  }
  if (nm == 1)
    for (int c = 1; c < channels; c++) mean[c] = mean[0];
  if (ns == 1)
    for (int c = 1; c < channels; c++) std[c] = std[0];
  if ((nm != 1 && nm != channels) || (ns != 1 && ns != channels)) {
    zsq_cli_error("the normalisation has %d means and %d stds for %d channels", nm, ns, channels);
    return ZSQ_EXIT_USAGE;
  }
  for (int c = 0; c < channels; c++) {
    if (!(std[c] > 0)) {
      zsq_cli_error("std must be positive");
      return ZSQ_EXIT_USAGE;
    }
  }
  const char *sc = o->scale_s ? o->scale_s : zsq_model_metadata(m, "zsq.input_scale");
  *scale = 1.0f / 255.0f;
  if (sc != NULL && !parse_scale(sc, scale)) {
    zsq_cli_error("cannot read the pixel scale '%s' (a number or 1/N)", sc);
    return ZSQ_EXIT_USAGE;
  }
  return ZSQ_EXIT_OK;
}

static int argmax(const float *v, int64_t n) {
  int best = 0;
  for (int64_t i = 1; i < n; i++) {
    if (v[i] > v[best]) best = (int)i;
  }
  return best;
}

static int run_eval(const eval_opts *o, zsq_model *m, zsq_dataset *d) {
  int c, h, w;
  zsq_dataset_geometry(d, &c, &h, &w);
  int64_t in[4];
  if (zsq_model_input_shape(m, in) != ZSQ_OK) {
    zsq_cli_error("%s: the model's input is not an image (rank-4 NCHW)", o->model);
    return ZSQ_EXIT_INPUT;
  }
  if (in[1] != c || in[2] != h || in[3] != w) {
    zsq_cli_error("%s expects %lldx%lldx%lld images; the dataset has %dx%dx%d", o->model,
                  (long long)in[1], (long long)in[2], (long long)in[3], c, h, w);
    return ZSQ_EXIT_INPUT;
  }
  float mean[MAX_CH], std[MAX_CH], scale;
  if (c > MAX_CH) return zsq_cli_error("too many channels"), ZSQ_EXIT_INPUT;
  int rc = resolve_norm(o, m, c, mean, std, &scale);
  if (rc != ZSQ_EXIT_OK) return rc;
  int64_t count = (int64_t)zsq_dataset_count(d);
  if (o->limit > 0 && o->limit < count) count = o->limit;
  int64_t batch = o->batch < count ? o->batch : count;
  if (in[0] > 0) batch = in[0]; /* a model with a fixed batch runs at that batch */
  zsq_session_options so = {.batch = batch, .threads = (int)o->threads, .fold_batchnorm = o->fold};
  zsq_session *s;
  zsq_status st = zsq_session_create(m, &so, &s);
  if (st != ZSQ_OK) {
    zsq_cli_error("%s: %s", o->model, zsq_model_last_error(m));
    return zsq_cli_exit_for(st);
  }
  int64_t classes = zsq_model_output_size(m);
  const size_t img = (size_t)c * h * w;
  float *x = calloc((size_t)batch * img, sizeof(float));
  float *y = calloc((size_t)(batch * classes), sizeof(float));
  if (x == NULL || y == NULL) {
    free(x);
    free(y);
    zsq_session_destroy(s);
    return zsq_cli_error("out of memory"), ZSQ_EXIT_INTERNAL;
  }
  int64_t correct = 0;
  zsq_progress prog;
  zsq_progress_begin(&prog, "eval", count);
  double t0 = zsq_cli_now();
  for (int64_t start = 0; start < count; start += batch) {
    int64_t nb = count - start < batch ? count - start : batch;
    memset(x, 0, (size_t)batch * img * sizeof(float));
    for (int64_t b = 0; b < nb; b++) {
      const uint8_t *px = zsq_dataset_image(d, (size_t)(start + b));
      for (size_t k = 0; k < img; k++) {
        size_t ch = k / ((size_t)h * w);
        x[b * img + k] = ((float)px[k] * scale - mean[ch]) / std[ch];
      }
    }
    zsq_session_run(s, x, y);
    for (int64_t b = 0; b < nb; b++)
      correct += argmax(y + b * classes, classes) == zsq_dataset_label(d, (size_t)(start + b));
    zsq_progress_update(&prog, start + nb);
  }
  double secs = zsq_cli_now() - t0;
  zsq_progress_end(&prog);
  double acc = 100.0 * (double)correct / (double)count;
  if (strcmp(o->format, "json") == 0) {
    printf("{\"model\": ");
    zsq_json_string(stdout, o->model);
    printf(
        ", \"dataset\": \"fashion-mnist\", \"split\": \"%s\", \"images\": %lld, \"correct\": %lld, "
        "\"accuracy\": %.2f, \"seconds\": %.3f, \"images_per_s\": %.1f}\n",
        o->split == ZSQ_SPLIT_TEST ? "test" : "train", (long long)count, (long long)correct, acc,
        secs, (double)count / secs);
  } else {
    printf("%s: top-1 %.2f %% (%lld/%lld) on fashion-mnist %s, %.2f s (%.0f images/s)\n", o->model,
           acc, (long long)correct, (long long)count, o->split == ZSQ_SPLIT_TEST ? "test" : "train",
           secs, (double)count / secs);
  }
  free(x);
  free(y);
  zsq_session_destroy(s);
  return ZSQ_EXIT_OK;
}

int zsq_cmd_eval(int argc, char **argv) {
  eval_opts o;
  int ok = parse_args(argc, argv, &o);
  if (ok < 0) return ZSQ_EXIT_OK;
  if (!ok) return ZSQ_EXIT_USAGE;
  zsq_model *m;
  zsq_dataset *d;
  if (zsq_model_create(&m) != ZSQ_OK) return ZSQ_EXIT_INTERNAL;
  if (zsq_dataset_create(&d) != ZSQ_OK) {
    zsq_model_destroy(m);
    return ZSQ_EXIT_INTERNAL;
  }
  int rc;
  zsq_status st = zsq_model_load_onnx(m, o.model);
  if (st != ZSQ_OK) {
    zsq_cli_error("%s: %s", o.model, zsq_model_last_error(m));
    rc = zsq_cli_exit_for(st);
  } else if ((st = zsq_dataset_load_idx(d, o.dir, o.split)) != ZSQ_OK) {
    zsq_cli_error("fashion-mnist: %s (install dataset-fashion-mnist or pass --data-dir)",
                  zsq_dataset_last_error(d));
    rc = zsq_cli_exit_for(st);
  } else {
    rc = run_eval(&o, m, d);
  }
  zsq_dataset_destroy(d);
  zsq_model_destroy(m);
  return rc;
}
