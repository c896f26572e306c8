/* alloc.c — aligned allocation and checked size arithmetic. */
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

void *zsq_aligned_alloc(size_t bytes) {
  size_t rounded = (bytes + ZSQ_ALIGN - 1) / ZSQ_ALIGN * ZSQ_ALIGN;
  if (rounded == 0) rounded = ZSQ_ALIGN;
  return aligned_alloc(ZSQ_ALIGN, rounded);
}

void *zsq_aligned_calloc(size_t bytes) {
  void *p = zsq_aligned_alloc(bytes);
  if (p != NULL) memset(p, 0, bytes);
  return p;
}

void zsq_aligned_free(void *p) {
  free(p);
}

int zsq_mul_overflow_i64(int64_t a, int64_t b, int64_t *out) {
  if (a < 0 || b < 0) return 0;
  if (__builtin_mul_overflow(a, b, out)) return 0;
  return 1;
}

int64_t zsq_dims_product(const int64_t *dims, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) {
    if (!zsq_mul_overflow_i64(p, dims[i], &p)) return -1;
  }
  return p;
}
