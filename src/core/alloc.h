/* alloc.h — 64-byte aligned allocation and overflow-checked size arithmetic. */
#ifndef ZSQ_CORE_ALLOC_H
#define ZSQ_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#define ZSQ_ALIGN 64

void *zsq_aligned_alloc(size_t bytes);
void *zsq_aligned_calloc(size_t bytes);
void zsq_aligned_free(void *p);

/* a*b into *out; returns 0 on overflow (or a negative operand). */
int zsq_mul_overflow_i64(int64_t a, int64_t b, int64_t *out);
/* Product of dims[0..n); returns -1 on overflow or a negative dim. */
int64_t zsq_dims_product(const int64_t *dims, int n);

#endif
