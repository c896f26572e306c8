/* main.c — the zsq program: global flags and subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char kUsage[] =
    "usage: zsq <command> [options]\n"
    "\n"
    "zsq quantizes CNNs without their training data and runs them on CPUs.\n"
    "\n"
    "commands:\n"
    "  inspect MODEL     operators, shapes, parameters, MACs, BatchNorm layers, CPU ISA\n"
    "  eval MODEL        top-1 accuracy on a dataset (Fashion-MNIST)\n"
    "  synth MODEL       synthesise calibration images from the model alone\n"
    "  quantize MODEL    post-training quantization with a per-layer report; writes MODEL.zsq\n"
    "  run MODEL         outputs for raw float32 images (a .zsq runs on the integer runtime)\n"
    "  bench MODEL       inference latency and throughput on this CPU\n"
    "  report MODEL.zsq  the per-layer quantization report stored in a quantized model\n"
    "Run 'zsq <command> --help' for a command's options. Exit codes: 0 ok, 2 usage,\n"
    "3 bad or unsupported input, 4 internal error.\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(kUsage, stderr);
    return ZSQ_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    fputs(kUsage, stdout);
    return ZSQ_EXIT_OK;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("zsq %s\n", zsq_version());
    return ZSQ_EXIT_OK;
  }
  if (strcmp(cmd, "inspect") == 0) return zsq_cmd_inspect(argc - 1, argv + 1);
  if (strcmp(cmd, "eval") == 0) return zsq_cmd_eval(argc - 1, argv + 1);
  if (strcmp(cmd, "synth") == 0) return zsq_cmd_synth(argc - 1, argv + 1);
  if (strcmp(cmd, "quantize") == 0) return zsq_cmd_quantize(argc - 1, argv + 1);
  if (strcmp(cmd, "run") == 0) return zsq_cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "bench") == 0) return zsq_cmd_bench(argc - 1, argv + 1);
  if (strcmp(cmd, "report") == 0) return zsq_cmd_report(argc - 1, argv + 1);
  zsq_cli_error("unknown command '%s' (see 'zsq --help')", cmd);
  return ZSQ_EXIT_USAGE;
}
