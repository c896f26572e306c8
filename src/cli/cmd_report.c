/* cmd_report.c — `zsq report MODEL.zsq`: the per-layer quantization report stored in a model. */
#include <string.h>

#include "cli/cli.h"

static const char kHelp[] =
    "usage: zsq report MODEL.zsq [--format text|json]\n"
    "\n"
    "Prints the per-layer report `zsq quantize` stored in the model: weight and activation bits,\n"
    "the weight scheme (W zp: sym, or the range of an asymmetric layer's zero points), the input\n"
    "range seen on the calibration data, the weight, isolated and accumulated SQNR, the layer\n"
    "that hurts most, and the size of the weight codes.\n";

static int print_stored_report(zsq_model *m, const void *format) {
  if (!zsq_model_is_quantized(m)) {
    zsq_cli_error("not a quantized model (report reads the records of a .zsq file)");
    return ZSQ_EXIT_INPUT;
  }
  zsq_cli_print_report(m, stdout, strcmp(format, "json") == 0);
  return ZSQ_EXIT_OK;
}

int zsq_cmd_report(int argc, char **argv) {
  const char *path = NULL, *format = "text";
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (zsq_cli_help_or_version(argv[i], kHelp)) return ZSQ_EXIT_OK;
    if (zsq_cli_flag(argc, argv, &i, "--format", &v)) {
      if (v == NULL || (strcmp(v, "text") != 0 && strcmp(v, "json") != 0))
        return zsq_cli_error("--format must be text or json"), ZSQ_EXIT_USAGE;
      format = v;
    } else if (argv[i][0] == '-') {
      return zsq_cli_error("report: unknown option '%s'", argv[i]), ZSQ_EXIT_USAGE;
    } else if (path == NULL) {
      path = argv[i];
    } else {
      return zsq_cli_error("report takes one model"), ZSQ_EXIT_USAGE;
    }
  }
  if (path == NULL)
    return zsq_cli_error("report: no model given (see 'zsq report --help')"), ZSQ_EXIT_USAGE;
  return zsq_cli_with_model(path, print_stored_report, format);
}
