/* cmd_eval.c — `zsq eval MODEL --data fmnist`: top-1 accuracy of a float model on a dataset. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char kHelp[] =
    "usage: zsq eval MODEL.onnx|MODEL.zsq --data fmnist [options]\n"
    "\n"
    "Top-1 accuracy of the model on the Fashion-MNIST test set. A quantized model (.zsq) runs\n"
    "on the integer runtime.\n"
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
    "  --simulate             quantized model: run the float simulation, not the integer runtime\n"
    "  --isa TIER             integer runtime kernels: scalar, avx2, avx512vnni, neon, neondot\n"
    "                         (default: the best this CPU runs)\n"
    "  --format text|json     result format on stdout\n";

typedef struct eval_opts {
  const char *model, *data, *dir;
  zsq_split split;
  int64_t limit;
  const char *mean_s, *std_s, *scale_s;
  int fold;
  zsq_cli_run_flags rf;
} eval_opts;

static int parse_args(int argc, char **argv, eval_opts *o) {
  memset(o, 0, sizeof *o);
  o->dir = "/usr/share/datasets/fashion-mnist";
  o->rf.format = "text";
  o->split = ZSQ_SPLIT_TEST;
  o->rf.batch = 100;
  o->rf.threads = 1;
  o->fold = 1;
  for (int i = 1; i < argc; i++) {
    const char *v;
    const int rf = zsq_cli_run_flag(argc, argv, &i, &o->rf);
    if (rf < 0) return 0;
    if (rf > 0) continue;
    if (zsq_cli_help_or_version(argv[i], kHelp)) {
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
    } else if (zsq_cli_flag(argc, argv, &i, "--mean", &v)) {
      if (v == NULL) return zsq_cli_error("--mean needs a value"), 0;
      o->mean_s = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--std", &v)) {
      if (v == NULL) return zsq_cli_error("--std needs a value"), 0;
      o->std_s = v;
    } else if (zsq_cli_flag(argc, argv, &i, "--scale", &v)) {
      if (v == NULL) return zsq_cli_error("--scale needs a value"), 0;
      o->scale_s = v;
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
static int run_eval(const eval_opts *o, zsq_model *m, zsq_dataset *d) {
  int c, h, w;
  zsq_dataset_geometry(d, &c, &h, &w);
  int rc = zsq_cli_check_geometry(m, o->model, d);
  zsq_norm nrm;
  if (rc == ZSQ_EXIT_OK) rc = zsq_cli_norm(m, o->model, o->mean_s, o->std_s, o->scale_s, c, &nrm);
  if (rc != ZSQ_EXIT_OK) return rc;
  zsq_acc_opts ao = {o->limit, o->rf.batch,    (int)o->rf.threads, o->fold,
                     "eval",   o->rf.simulate, o->rf.isa};
  zsq_acc_result r;
  rc = zsq_cli_accuracy(m, o->model, d, &nrm, &ao, &r);
  if (rc != ZSQ_EXIT_OK) return rc;
  const double acc = 100.0 * (double)r.correct / (double)r.count;
  const char *split = o->split == ZSQ_SPLIT_TEST ? "test" : "train";
  if (strcmp(o->rf.format, "json") == 0) {
    printf("{\"model\": ");
    zsq_json_string(stdout, o->model);
    printf(
        ", \"dataset\": \"fashion-mnist\", \"split\": \"%s\", \"images\": %lld, \"correct\": %lld, "
        "\"accuracy\": %.2f, \"seconds\": %.3f, \"images_per_s\": %.1f, \"engine\": ",
        split, (long long)r.count, (long long)r.correct, acc, r.seconds,
        (double)r.count / r.seconds);
    zsq_json_string(stdout, r.engine);
    printf("}\n");
  } else {
    printf("%s: top-1 %.2f %% (%lld/%lld) on fashion-mnist %s, %.2f s (%.0f images/s), %s\n",
           o->model, acc, (long long)r.correct, (long long)r.count, split, r.seconds,
           (double)r.count / r.seconds, r.engine);
  }
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
  zsq_status st = zsq_model_load(m, o.model);
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
