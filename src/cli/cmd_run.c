/* cmd_run.c — `zsq run MODEL --input X.f32`: runs a model on raw float32 images. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char kHelp[] =
    "usage: zsq run MODEL.onnx|MODEL.zsq --input IMAGES.f32 [options]\n"
    "\n"
    "Runs the model on raw little-endian float32 images (NCHW, already normalised, one after\n"
    "another) and prints each image's top class, or writes every output with -o. A quantized\n"
    "model (.zsq) runs on the integer runtime.\n"
    "\n"
    "options:\n"
    "  --input FILE           the images (a multiple of C·H·W floats)\n"
    "  -o, --output FILE      write the outputs as raw float32 (images × features)\n"
    "  --batch N              images per run (default 16)\n"
    "  --threads N            threads (default 1)\n"
    "  --simulate             quantized model: run the float simulation instead\n"
    "  --isa TIER             integer runtime kernels: scalar, avx2, avx512vnni, neon, neondot\n"
    "  --format text|json     result format on stdout\n";

typedef struct run_opts {
  const char *model, *input, *output;
  zsq_cli_run_flags rf;
} run_opts;

static int parse_args(int argc, char **argv, run_opts *o) {
  *o = (run_opts){.rf = {.batch = 16, .threads = 1, .format = "text"}};
  for (int i = 1; i < argc; i++) {
    const char *v;
    const int rf = zsq_cli_run_flag(argc, argv, &i, &o->rf);
    if (rf < 0) return 0;
    if (rf > 0) continue;
    if (zsq_cli_help_or_version(argv[i], kHelp)) {
      return -1;
    } else if (zsq_cli_flag(argc, argv, &i, "--input", &v)) {
      if (v == NULL) return zsq_cli_error("--input needs a file"), 0;
      o->input = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--output", &v) ||
               zsq_cli_flag(argc, argv, &i, "-o", &v)) {
      if (v == NULL) return zsq_cli_error("--output needs a file"), 0;
      o->output = v;
    } else if (argv[i][0] == '-') {
      return zsq_cli_error("run: unknown option '%s'", argv[i]), 0;
    } else if (o->model == NULL) {
      o->model = argv[i];
    } else {
      return zsq_cli_error("run takes one model"), 0;
    }
  }
  if (o->model == NULL) return zsq_cli_error("run: no model given (see 'zsq run --help')"), 0;
  if (o->input == NULL) return zsq_cli_error("run: --input FILE is required"), 0;
  return 1;
}

/* Reads the whole file; *n gets its size in bytes. NULL (message printed) on failure. */
static float *read_images(const char *path, size_t img, size_t *count) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return zsq_cli_error("%s: cannot open", path), NULL;
  float *x = NULL;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size <= 0 || (size_t)size % (img * sizeof(float)) != 0) {
    zsq_cli_error("%s: %ld bytes is not a whole number of %zu-float images", path, size, img);
  } else if ((x = malloc((size_t)size)) == NULL) {
    zsq_cli_error("out of memory");
  } else if (fseek(f, 0, SEEK_SET) != 0 || fread(x, 1, (size_t)size, f) != (size_t)size) {
    zsq_cli_error("%s: read failed", path);
    free(x);
    x = NULL;
  }
  fclose(f);
  *count = x ? (size_t)size / (img * sizeof(float)) : 0;
  return x;
}

static int run_model(zsq_model *m, const void *ctx) {
  const run_opts *o = ctx;
  int64_t in[4];
  zsq_status st = zsq_model_input_shape(m, in);
  if (st != ZSQ_OK)
    return zsq_cli_error("%s: %s", o->model, zsq_model_last_error(m)), zsq_cli_exit_for(st);
  const size_t img = (size_t)(in[1] * in[2] * in[3]), feat = (size_t)zsq_model_output_size(m);
  size_t count;
  float *x = read_images(o->input, img, &count);
  if (x == NULL) return ZSQ_EXIT_INPUT;
  const int64_t batch =
      in[0] > 0 ? in[0] : ((int64_t)count < o->rf.batch ? (int64_t)count : o->rf.batch);
  zsq_session_options so = {.batch = batch,
                            .threads = (int)o->rf.threads,
                            .fold_batchnorm = 1,
                            .simulate = o->rf.simulate,
                            .isa = o->rf.isa};
  zsq_session *s = NULL;
  float *xb = calloc((size_t)batch * img, sizeof(float));
  float *y = calloc(count * feat + (size_t)batch * feat, sizeof(float));
  int rc = ZSQ_EXIT_OK;
  if (xb == NULL || y == NULL) {
    rc = (zsq_cli_error("out of memory"), ZSQ_EXIT_INTERNAL);
  } else if ((st = zsq_session_create(m, &so, &s)) != ZSQ_OK) {
    zsq_cli_error("%s: %s", o->model, zsq_model_last_error(m));
    rc = zsq_cli_exit_for(st);
  }
  for (size_t first = 0; rc == ZSQ_EXIT_OK && first < count; first += (size_t)batch) {
    const size_t nb = count - first < (size_t)batch ? count - first : (size_t)batch;
    memcpy(xb, x + first * img, nb * img * sizeof(float)); /* a short last batch: stale tail */
    if ((st = zsq_session_run(s, xb, y + first * feat)) != ZSQ_OK) {
      zsq_cli_error("%s: %s", o->model, zsq_session_last_error(s));
      rc = zsq_cli_exit_for(st);
    }
  }
  if (rc == ZSQ_EXIT_OK && o->output) {
    FILE *f = fopen(o->output, "wb");
    if (f == NULL || fwrite(y, sizeof(float), count * feat, f) != count * feat)
      rc = (zsq_cli_error("%s: cannot write", o->output), ZSQ_EXIT_INPUT);
    if (f) fclose(f);
  }
  const int json = strcmp(o->rf.format, "json") == 0;
  if (rc == ZSQ_EXIT_OK && json) {
    printf("{\"model\": ");
    zsq_json_string(stdout, o->model);
    printf(", \"engine\": ");
    zsq_json_string(stdout, zsq_session_engine(s));
    printf(", \"top1\": [");
  }
  for (size_t i = 0; rc == ZSQ_EXIT_OK && i < count; i++) {
    size_t best = 0;
    for (size_t k = 1; k < feat; k++) best = y[i * feat + k] > y[i * feat + best] ? k : best;
    if (json)
      printf("%s%zu", i ? ", " : "", best);
    else if (o->output == NULL)
      printf("image %zu: class %zu (%.4f)\n", i, best, (double)y[i * feat + best]);
  }
  if (rc == ZSQ_EXIT_OK && json) printf("]}\n");
  if (rc == ZSQ_EXIT_OK && !json && o->output)
    printf("%s: %zu images, %zu outputs each, written to %s (%s)\n", o->model, count, feat,
           o->output, zsq_session_engine(s));
  zsq_session_destroy(s);
  free(x), free(xb), free(y);
  return rc;
}

int zsq_cmd_run(int argc, char **argv) {
  run_opts o;
  const int ok = parse_args(argc, argv, &o);
  if (ok < 0) return ZSQ_EXIT_OK;
  if (!ok) return ZSQ_EXIT_USAGE;
  return zsq_cli_with_model(o.model, run_model, &o);
}
