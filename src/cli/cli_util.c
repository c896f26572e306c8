/* cli_util.c — exit codes, number parsing, error printing, progress display and JSON strings. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

int zsq_cli_exit_for(zsq_status s) {
  switch (s) {
    case ZSQ_OK:
      return ZSQ_EXIT_OK;
    case ZSQ_ERR_INVALID_ARG:
      return ZSQ_EXIT_USAGE;
    case ZSQ_ERR_IO:
    case ZSQ_ERR_FORMAT:
    case ZSQ_ERR_UNSUPPORTED:
      return ZSQ_EXIT_INPUT;
    default:
      return ZSQ_EXIT_INTERNAL;
  }
}

void zsq_cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("zsq: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

int zsq_cli_parse_int(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out) {
  if (s == NULL) {
    zsq_cli_error("%s needs a value", flag);
    return 0;
  }
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
    zsq_cli_error("%s expects an integer in [%lld, %lld], got '%s'", flag, (long long)lo,
                  (long long)hi, s);
    return 0;
  }
  *out = v;
  return 1;
}

int zsq_cli_parse_floats(const char *s, float *out, int max) {
  int n = 0;
  const char *p = s;
  while (*p) {
    char *end;
    errno = 0;
    float v = strtof(p, &end);
    if (end == p || errno != 0 || n >= max) return -1;
    out[n++] = v;
    p = end;
    if (*p == ',') {
      p++;
      if (*p == '\0') return -1;
    } else if (*p != '\0') {
      return -1;
    }
  }
  return n > 0 ? n : -1;
}

double zsq_cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void zsq_progress_begin(zsq_progress *p, const char *label, int64_t total) {
  p->label = label;
  p->total = total > 0 ? total : 1;
  p->last_shown = -1;
  p->tty = isatty(STDERR_FILENO);
  p->start = zsq_cli_now();
}

void zsq_progress_update(zsq_progress *p, int64_t done) {
  int64_t step = p->tty ? p->total / 50 : p->total / 10;
  if (step < 1) step = 1;
  if (done != p->total && p->last_shown >= 0 && done - p->last_shown < step) return;
  p->last_shown = done;
  double el = zsq_cli_now() - p->start;
  if (p->tty) {
    int width = 30, fill = (int)(width * done / p->total);
    fprintf(stderr, "\r%s [", p->label);
    for (int i = 0; i < width; i++) fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld %.1fs", (long long)done, (long long)p->total, el);
  } else {
    fprintf(stderr, "%s: %lld/%lld (%.1fs)\n", p->label, (long long)done, (long long)p->total, el);
  }
  fflush(stderr);
}

void zsq_progress_end(zsq_progress *p) {
  if (p->tty) fputc('\n', stderr);
}

void zsq_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

int zsq_cli_flag(int argc, char **argv, int *i, const char *name, const char **val) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0) return 0;
  if (a[n] == '=') {
    *val = a + n + 1;
    return 1;
  }
  if (a[n] != '\0') return 0;
  *val = (*i + 1 < argc) ? argv[++*i] : NULL;
  return 1;
}

int zsq_cli_help_or_version(const char *arg, const char *help) {
  if (strcmp(arg, "--version") == 0) {
    printf("zsq %s\n", zsq_version());
    return 1;
  }
  if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
    fputs(help, stdout);
    return 1;
  }
  return 0;
}

int zsq_cli_run_flag(int argc, char **argv, int *i, zsq_cli_run_flags *f) {
  const char *v;
  if (strcmp(argv[*i], "--simulate") == 0) {
    f->simulate = 1;
  } else if (zsq_cli_flag(argc, argv, i, "--isa", &v)) {
    if (v == NULL) return zsq_cli_error("--isa needs a tier name"), -1;
    f->isa = v;
  } else if (zsq_cli_flag(argc, argv, i, "--batch", &v)) {
    if (!zsq_cli_parse_int("--batch", v, 1, 4096, &f->batch)) return -1;
  } else if (zsq_cli_flag(argc, argv, i, "--threads", &v)) {
    if (!zsq_cli_parse_int("--threads", v, 1, 256, &f->threads)) return -1;
  } else if (zsq_cli_flag(argc, argv, i, "--format", &v)) {
    if (v == NULL || (strcmp(v, "text") != 0 && strcmp(v, "json") != 0))
      return zsq_cli_error("--format must be text or json"), -1;
    f->format = v;
  } else {
    return 0;
  }
  return 1;
}

int zsq_cli_with_model(const char *path, int (*fn)(zsq_model *m, const void *ctx),
                       const void *ctx) {
  zsq_model *m;
  if (zsq_model_create(&m) != ZSQ_OK) return ZSQ_EXIT_INTERNAL;
  int rc;
  const zsq_status st = zsq_model_load(m, path);
  if (st != ZSQ_OK) {
    zsq_cli_error("%s: %s", path, zsq_model_last_error(m));
    rc = zsq_cli_exit_for(st);
  } else {
    rc = fn(m, ctx);
  }
  zsq_model_destroy(m);
  return rc;
}
