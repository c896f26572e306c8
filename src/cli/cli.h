/* cli.h — shared pieces of the zsq program: exit codes, option parsing helpers, progress, JSON. */
#ifndef ZSQ_CLI_CLI_H
#define ZSQ_CLI_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "zsq.h"

enum {
  ZSQ_EXIT_OK = 0,
  ZSQ_EXIT_USAGE = 2,    /* bad flags or arguments */
  ZSQ_EXIT_INPUT = 3,    /* bad or unsupported input: model, dataset, file */
  ZSQ_EXIT_INTERNAL = 4, /* out of memory or a bug */
};

/* Maps a library status to an exit code. */
int zsq_cli_exit_for(zsq_status s);

/* Parses a whole decimal integer in [lo, hi]; prints a usage error naming flag otherwise. */
int zsq_cli_parse_int(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out);
/* Parses a comma-separated list of floats (at most max values); returns the count or -1. */
int zsq_cli_parse_floats(const char *s, float *out, int max);

/* Matches argv[*i] against "--name VALUE" or "--name=VALUE"; sets *val (NULL when the value is
 * missing) and advances *i past a separate value. Returns 1 on a match. */
int zsq_cli_flag(int argc, char **argv, int *i, const char *name, const char **val);

/* The flags of every command that runs a model. */
typedef struct zsq_cli_run_flags {
  int64_t batch, threads;
  int simulate;       /* --simulate */
  const char *isa;    /* --isa TIER */
  const char *format; /* --format text|json */
} zsq_cli_run_flags;
/* Parses argv[*i] when it is --batch, --threads, --simulate, --isa or --format: returns 1 (parsed),
 * 0 (not one of them) or -1 (a usage error, printed). */
int zsq_cli_run_flag(int argc, char **argv, int *i, zsq_cli_run_flags *f);

/* Loads the model at path (ONNX or .zsq), runs fn on it and returns fn's exit code, or prints why
 * it could not load and returns that exit code. */
int zsq_cli_with_model(const char *path, int (*fn)(zsq_model *m, const void *ctx), const void *ctx);

/* Handles --help/-h (prints help) and --version; returns 1 when arg was one of them. */
int zsq_cli_help_or_version(const char *arg, const char *help);

/* Prints "zsq: error: ..." to stderr. */
void zsq_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Progress on stderr: a bar on a TTY, a plain line every ~10 % otherwise. */
typedef struct zsq_progress {
  const char *label;
  int64_t total, last_shown;
  int tty;
  double start;
} zsq_progress;
void zsq_progress_begin(zsq_progress *p, const char *label, int64_t total);
void zsq_progress_update(zsq_progress *p, int64_t done);
void zsq_progress_end(zsq_progress *p);

double zsq_cli_now(void);
/* Writes s as a JSON string literal. */
void zsq_json_string(FILE *f, const char *s);

#define ZSQ_CLI_MAX_CH 16

/* Input normalisation x = (p·scale − mean[c]) / std[c]. */
typedef struct zsq_norm {
  float mean[ZSQ_CLI_MAX_CH], std[ZSQ_CLI_MAX_CH], scale;
  int channels;
} zsq_norm;

/* The --mean, --std and --scale values (NULL when absent). */
typedef struct zsq_norm_flags {
  const char *mean, *std, *scale;
} zsq_norm_flags;

/* From --mean/--std/--scale (NULL when absent), else the model's zsq.input_* metadata; returns an
 * exit code, having printed what is missing. */
int zsq_cli_norm(zsq_model *m, const char *path, const char *mean_s, const char *std_s,
                 const char *scale_s, int channels, zsq_norm *out);
/* The normalised pixel range per input channel, [(0 − mean) / std, (255·scale − mean) / std], for
 * synthesis to stay inside; the normalisation as zsq_cli_norm. want: 1 on (the normalisation
 * must be known), 0 when it is known, -1 off. Points lo and hi at r's arrays, or sets them NULL;
 * returns an exit code. */
typedef struct zsq_input_range {
  float lo[ZSQ_CLI_MAX_CH], hi[ZSQ_CLI_MAX_CH];
} zsq_input_range;
int zsq_cli_input_range(zsq_model *m, const char *path, const zsq_norm_flags *f, int want,
                        zsq_input_range *r, const float **lo, const float **hi);
/* One CHW uint8 image (hw pixels per channel) to normalised floats. */
void zsq_cli_normalise(const zsq_norm *n, const uint8_t *px, size_t hw, float *out);
/* Exit code: whether the model takes the dataset's images. */
int zsq_cli_check_geometry(zsq_model *m, const char *path, zsq_dataset *d);

typedef struct zsq_acc_opts {
  int64_t limit, batch;
  int threads, fold;
  const char *label; /* progress label */
  int simulate;      /* quantized models: the float simulation instead of the integer runtime */
  const char *isa;   /* integer runtime tier, NULL for the best */
} zsq_acc_opts;

typedef struct zsq_acc_result {
  int64_t correct, count;
  double seconds;
  char engine[160]; /* what ran: zsq_session_engine() */
} zsq_acc_result;

/* Top-1 accuracy of m on d; returns an exit code. */
int zsq_cli_accuracy(zsq_model *m, const char *path, zsq_dataset *d, const zsq_norm *nrm,
                     const zsq_acc_opts *o, zsq_acc_result *r);

/* The per-layer report of quantized model q: bits, input range, SQNRs, the layer that hurts most
 * and the size of the weight codes (and what a latency budget measured, in JSON); a table, or
 * JSON. */
void zsq_cli_print_report(zsq_model *q, FILE *f, int json);
/* What a latency budget measured (nothing without one): the predicted, all-8-bit and fastest
 * latencies and every layer's time at its width, as text. */
void zsq_cli_print_latency(zsq_model *q, FILE *f);

int zsq_cmd_inspect(int argc, char **argv);
int zsq_cmd_eval(int argc, char **argv);
int zsq_cmd_synth(int argc, char **argv);
int zsq_cmd_quantize(int argc, char **argv);
int zsq_cmd_run(int argc, char **argv);
int zsq_cmd_bench(int argc, char **argv);
int zsq_cmd_report(int argc, char **argv);

#endif
