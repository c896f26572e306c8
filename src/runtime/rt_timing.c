/* rt_timing.c — times every step of runtimes in place: the median over runs that take turns. */
#include <stdlib.h>
#include <time.h>

#include "runtime/runtime.h"

#define TARGET_SECONDS 0.5 /* all runtimes together */
#define MIN_RUNS 11
#define MAX_RUNS 201

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One run of every step of rt, step i's time into t[i]. */
static zsq_status timed_run(zsq_rt *rt, double *t, zsq_err *err) {
  double t0 = now();
  for (int i = 0; i < zsq_rt_step_count(rt); i++) {
    ZSQ_TRY(zsq_rt_run_steps(rt, i, i + 1, err));
    const double t1 = now();
    t[i] = t1 - t0;
    t0 = t1;
  }
  return ZSQ_OK;
}

zsq_status zsq_rt_time_steps(zsq_rt *const *rts, int n, double *const *step_seconds, zsq_err *err) {
  int steps =
      0; /* of all runtimes together: run r's times of runtime k start at r·steps + off[k] */
  int *off = malloc(((size_t)n + 1) * sizeof(int));
  if (off == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (int k = 0; k < n; k++) {
    off[k] = steps;
    steps += zsq_rt_step_count(rts[k]);
  }
  zsq_status st = ZSQ_OK;
  double warm = 0.0; /* one run of each */
  for (int k = 0; st == ZSQ_OK && k < n; k++) {
    st = timed_run(rts[k], step_seconds[k], err);
    for (int i = 0; i < zsq_rt_step_count(rts[k]); i++) warm += step_seconds[k][i];
  }
  const double want = TARGET_SECONDS / (warm > 1e-9 ? warm : 1e-9);
  const int runs = want < MIN_RUNS ? MIN_RUNS : want > MAX_RUNS ? MAX_RUNS : (int)want | 1;
  double *t = malloc(((size_t)runs * (size_t)steps + (size_t)runs) * sizeof(double));
  if (st == ZSQ_OK && t == NULL) st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (int r = 0; st == ZSQ_OK && r < runs; r++)
    for (int k = 0; st == ZSQ_OK && k < n; k++)
      st = timed_run(rts[k], t + (size_t)r * (size_t)steps + (size_t)off[k], err);
  double *col = t + (size_t)runs * (size_t)steps; /* one step's times over the runs */
  for (int k = 0; st == ZSQ_OK && k < n; k++) {
    for (int i = 0; i < zsq_rt_step_count(rts[k]); i++) {
      for (int r = 0; r < runs; r++) col[r] = t[(size_t)r * (size_t)steps + (size_t)(off[k] + i)];
      qsort(col, (size_t)runs, sizeof(double), by_value);
      step_seconds[k][i] = col[runs / 2];
    }
  }
  free(t);
  free(off);
  return st;
}
