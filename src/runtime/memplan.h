/* memplan.h — activation memory planning: buffers whose lifetimes do not overlap share bytes. */
#ifndef ZSQ_RUNTIME_MEMPLAN_H
#define ZSQ_RUNTIME_MEMPLAN_H

#include <stddef.h>

typedef struct zsq_buf_life {
  size_t bytes;
  int first, last; /* steps that write it first and read it last (inclusive) */
  size_t offset;   /* out: 64-byte aligned */
} zsq_buf_life;

/* Assigns offsets (largest buffers first, each at the lowest gap free over its lifetime) and
 * returns the arena size. Returns (size_t)-1 when out of memory. */
size_t zsq_memplan(zsq_buf_life *b, int n);

#endif
