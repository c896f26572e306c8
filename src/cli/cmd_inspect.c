/* cmd_inspect.c — `zsq inspect MODEL`: operators, shapes, parameters, MACs, BN layers, ISA. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char kHelp[] =
    "usage: zsq inspect MODEL.onnx [--format text|json]\n"
    "       zsq inspect --isa\n"
    "\n"
    "Prints every layer (operator, output shape for one image, parameters, MACs), the\n"
    "BatchNorm layers synthesis will match, totals, and the instruction set zsq's kernels\n"
    "use on this CPU. --isa prints only the latter.\n";

static void shape_str(const zsq_layer_info *li, char *buf, size_t n) {
  size_t w = 0;
  buf[0] = '\0';
  for (int d = 0; d < li->out_rank && w < n; d++) {
    w += (size_t)snprintf(buf + w, n - w, "%s%lld", d ? "x" : "", (long long)li->out_dims[d]);
  }
  if (li->out_rank == 0) snprintf(buf, n, "scalar");
}

static void print_text(const char *path, zsq_model *m) {
  int64_t in[4];
  printf("model: %s\n", path);
  if (zsq_model_input_shape(m, in) == ZSQ_OK) {
    printf("input: N x %lld x %lld x %lld (NCHW)\n", (long long)in[1], (long long)in[2],
           (long long)in[3]);
  }
  printf("output features: %lld\n\n", (long long)zsq_model_output_size(m));
  printf("%-4s %-28s %-20s %-16s %10s %12s\n", "#", "name", "op", "output", "params", "MACs");
  int64_t params = 0, macs = 0;
  size_t n = zsq_model_layer_count(m), bn = 0;
  for (size_t i = 0; i < n; i++) {
    zsq_layer_info li;
    zsq_model_layer(m, i, &li);
    char shape[96];
    shape_str(&li, shape, sizeof shape);
    printf("%-4zu %-28.28s %-20s %-16s %10lld %12lld\n", i, li.name, li.op, shape,
           (long long)li.params, (long long)li.macs);
    params += li.params;
    macs += li.macs;
    bn += (size_t)li.is_batchnorm;
  }
  printf("\ntotal: %zu layers, %lld parameters, %lld MACs per image (%.2f MMAC)\n", n,
         (long long)params, (long long)macs, (double)macs / 1e6);
  printf("BatchNorm layers (%zu):", bn);
  for (size_t i = 0; i < n; i++) {
    zsq_layer_info li;
    zsq_model_layer(m, i, &li);
    if (li.is_batchnorm) printf(" %s", li.name);
  }
  printf("\nisa: %s (cpu features: %s)\n", zsq_cpu_isa(), zsq_cpu_features());
}

static void print_json(const char *path, zsq_model *m) {
  int64_t in[4] = {0};
  zsq_model_input_shape(m, in);
  printf("{\"model\": ");
  zsq_json_string(stdout, path);
  printf(", \"input\": [%lld, %lld, %lld], \"output_features\": %lld, \"isa\": ", (long long)in[1],
         (long long)in[2], (long long)in[3], (long long)zsq_model_output_size(m));
  zsq_json_string(stdout, zsq_cpu_isa());
  printf(", \"layers\": [");
  int64_t params = 0, macs = 0;
  size_t n = zsq_model_layer_count(m);
  for (size_t i = 0; i < n; i++) {
    zsq_layer_info li;
    zsq_model_layer(m, i, &li);
    printf("%s\n  {\"name\": ", i ? "," : "");
    zsq_json_string(stdout, li.name);
    printf(", \"op\": ");
    zsq_json_string(stdout, li.op);
    printf(", \"output\": [");
    for (int d = 0; d < li.out_rank; d++)
      printf("%s%lld", d ? ", " : "", (long long)li.out_dims[d]);
    printf("], \"params\": %lld, \"macs\": %lld, \"batchnorm\": %s}", (long long)li.params,
           (long long)li.macs, li.is_batchnorm ? "true" : "false");
    params += li.params;
    macs += li.macs;
  }
  printf("],\n \"params\": %lld, \"macs\": %lld}\n", (long long)params, (long long)macs);
}

int zsq_cmd_inspect(int argc, char **argv) {
  const char *path = NULL, *format = "text";
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (zsq_cli_help_or_version(argv[i], kHelp)) {
      return ZSQ_EXIT_OK;
    } else if (strcmp(argv[i], "--isa") == 0) {
      char kernels[1024];
      const zsq_status st = zsq_kernels_describe(NULL, kernels, sizeof kernels);
      printf("isa: %s\ncpu features: %s\n%s", zsq_cpu_isa(), zsq_cpu_features(),
             st == ZSQ_OK ? kernels : "");
      return ZSQ_EXIT_OK;
    } else if (zsq_cli_flag(argc, argv, &i, "--format", &v)) {
      if (v == NULL || (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)) {
        zsq_cli_error("--format must be text or json");
        return ZSQ_EXIT_USAGE;
      }
      format = v;
    } else if (argv[i][0] == '-') {
      zsq_cli_error("inspect: unknown option '%s'", argv[i]);
      return ZSQ_EXIT_USAGE;
    } else if (path == NULL) {
      path = argv[i];
    } else {
      zsq_cli_error("inspect takes one model");
      return ZSQ_EXIT_USAGE;
    }
  }
  if (path == NULL) {
    fputs(kHelp, stderr);
    return ZSQ_EXIT_USAGE;
  }
  zsq_model *m;
  if (zsq_model_create(&m) != ZSQ_OK) return ZSQ_EXIT_INTERNAL;
  zsq_status st = zsq_model_load(m, path);
  if (st != ZSQ_OK) {
    zsq_cli_error("%s: %s", path, zsq_model_last_error(m));
    zsq_model_destroy(m);
    return zsq_cli_exit_for(st);
  }
  if (strcmp(format, "json") == 0)
    print_json(path, m);
  else
    print_text(path, m);
  zsq_model_destroy(m);
  return ZSQ_EXIT_OK;
}
