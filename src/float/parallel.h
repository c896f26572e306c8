/* parallel.h — split a loop over [0, n) across the plan's pthreadpool in contiguous ranges. */
#ifndef ZSQ_FLOAT_PARALLEL_H
#define ZSQ_FLOAT_PARALLEL_H

#include <pthreadpool.h>
#include <stddef.h>

typedef void (*zsq_range_fn)(void *ctx, size_t begin, size_t end);

/* Runs fn over ranges of at least `grain` items (inline when tp is NULL or n is small). */
void zsq_parallel_for(pthreadpool_t tp, size_t n, size_t grain, zsq_range_fn fn, void *ctx);

#endif
