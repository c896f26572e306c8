/* parallel.c — zsq_parallel_for on pthreadpool_parallelize_1d_tile_1d. */
#include "float/parallel.h"

typedef struct range_task {
  zsq_range_fn fn;
  void *ctx;
  size_t n;
} range_task;

static void run_tile(void *p, size_t start, size_t tile) {
  const range_task *t = p;
  const size_t end = start + tile < t->n ? start + tile : t->n;
  t->fn(t->ctx, start, end);
}

void zsq_parallel_for(pthreadpool_t tp, size_t n, size_t grain, zsq_range_fn fn, void *ctx) {
  const size_t threads = tp ? pthreadpool_get_threads_count(tp) : 1;
  if (threads <= 1 || n <= grain) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  size_t tile = (n + threads * 4 - 1) / (threads * 4);
  if (tile < grain) tile = grain;
  range_task t = {fn, ctx, n};
  pthreadpool_parallelize_1d_tile_1d(tp, run_tile, &t, n, tile, 0);
}
