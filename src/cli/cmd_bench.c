/* cmd_bench.c — `zsq bench MODEL`: inference latency and throughput of a model on this CPU. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char kHelp[] =
    "usage: zsq bench MODEL.onnx|MODEL.zsq [options]\n"
    "\n"
    "Times inference on synthetic inputs: the median of --runs timed runs after warm-up.\n"
    "A quantized model (.zsq) runs on the integer runtime.\n"
    "\n"
    "options:\n"
    "  --batch N              images per run (default 1)\n"
    "  --threads N            threads (default 1)\n"
    "  --runs N               timed runs (default 20)\n"
    "  --simulate             quantized model: time the float simulation instead\n"
    "  --isa TIER             integer runtime kernels: scalar, avx2, avx512vnni, neon, neondot\n"
    "  --format text|json     result format on stdout\n";

typedef struct bench_opts {
  const char *model;
  zsq_cli_run_flags rf;
  int64_t runs;
} bench_opts;

static int parse_args(int argc, char **argv, bench_opts *o) {
  *o = (bench_opts){.rf = {.batch = 1, .threads = 1, .format = "text"}, .runs = 20};
  for (int i = 1; i < argc; i++) {
    const char *v;
    const int rf = zsq_cli_run_flag(argc, argv, &i, &o->rf);
    if (rf < 0) return 0;
    if (rf > 0) continue;
    if (zsq_cli_help_or_version(argv[i], kHelp)) {
      return -1;
    } else if (zsq_cli_flag(argc, argv, &i, "--runs", &v)) {
      if (!zsq_cli_parse_int("--runs", v, 1, 100000, &o->runs)) return 0;
    } else if (argv[i][0] == '-') {
      return zsq_cli_error("bench: unknown option '%s'", argv[i]), 0;
    } else if (o->model == NULL) {
      o->model = argv[i];
    } else {
      return zsq_cli_error("bench takes one model"), 0;
    }
  }
  if (o->model == NULL) return zsq_cli_error("bench: no model given (see 'zsq bench --help')"), 0;
  return 1;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int run_bench(zsq_model *m, const void *ctx) {
  const bench_opts *o = ctx;
  int64_t in[4];
  zsq_status st = zsq_model_input_shape(m, in);
  if (st != ZSQ_OK)
    return zsq_cli_error("%s: %s", o->model, zsq_model_last_error(m)), zsq_cli_exit_for(st);
  const int64_t batch = in[0] > 0 ? in[0] : o->rf.batch;
  zsq_session_options so = {.batch = batch,
                            .threads = (int)o->rf.threads,
                            .fold_batchnorm = 1,
                            .simulate = o->rf.simulate,
                            .isa = o->rf.isa};
  zsq_session *s;
  if ((st = zsq_session_create(m, &so, &s)) != ZSQ_OK) {
    zsq_cli_error("%s: %s", o->model, zsq_model_last_error(m));
    return zsq_cli_exit_for(st);
  }
  const size_t nin = (size_t)(batch * in[1] * in[2] * in[3]);
  float *x = malloc(nin * sizeof(float));
  float *y = malloc((size_t)(batch * zsq_model_output_size(m)) * sizeof(float));
  double *t = malloc((size_t)o->runs * sizeof(double));
  if (x == NULL || y == NULL || t == NULL) {
    free(x), free(y), free(t);
    zsq_session_destroy(s);
    return zsq_cli_error("out of memory"), ZSQ_EXIT_INTERNAL;
  }
  uint32_t r = 12345u; /* a fixed pseudo-random input in about [-2, 2] */
  for (size_t i = 0; i < nin; i++) {
    r = r * 1664525u + 1013904223u;
    x[i] = (float)(r >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
  }
  if ((st = zsq_session_run(s, x, y)) != ZSQ_OK) { /* warm-up, and the only checked run */
    zsq_cli_error("%s: %s", o->model, zsq_session_last_error(s));
    free(x), free(y), free(t);
    zsq_session_destroy(s);
    return zsq_cli_exit_for(st);
  }
  for (int k = 0; k < 2; k++) zsq_session_run(s, x, y);
  for (int64_t k = 0; k < o->runs; k++) {
    const double t0 = zsq_cli_now();
    zsq_session_run(s, x, y);
    t[k] = zsq_cli_now() - t0;
  }
  qsort(t, (size_t)o->runs, sizeof(double), cmp_double);
  const double med = t[o->runs / 2], ips = (double)batch / med;
  if (strcmp(o->rf.format, "json") == 0) {
    printf("{\"model\": ");
    zsq_json_string(stdout, o->model);
    printf(", \"engine\": ");
    zsq_json_string(stdout, zsq_session_engine(s));
    printf(
        ", \"batch\": %lld, \"threads\": %lld, \"runs\": %lld, \"median_ms\": %.4f, "
        "\"min_ms\": %.4f, \"images_per_s\": %.1f}\n",
        (long long)batch, (long long)o->rf.threads, (long long)o->runs, med * 1e3, t[0] * 1e3, ips);
  } else {
    printf("%s: %s, batch %lld, %lld thread(s): median %.3f ms per run (min %.3f), %.0f images/s\n",
           o->model, zsq_session_engine(s), (long long)batch, (long long)o->rf.threads, med * 1e3,
           t[0] * 1e3, ips);
  }
  free(x), free(y), free(t);
  zsq_session_destroy(s);
  return ZSQ_EXIT_OK;
}

int zsq_cmd_bench(int argc, char **argv) {
  bench_opts o;
  const int ok = parse_args(argc, argv, &o);
  if (ok < 0) return ZSQ_EXIT_OK;
  if (!ok) return ZSQ_EXIT_USAGE;
  return zsq_cli_with_model(o.model, run_bench, &o);
}
