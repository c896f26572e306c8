/* a-rows.h — where a GEMM tile's A rows come from: strided rows (gemm) or row pointers (igemm). */
#ifndef ZSQ_KERNELS_GEMM_A_ROWS_H
#define ZSQ_KERNELS_GEMM_A_ROWS_H

#include <stddef.h>
#include <stdint.h>

/* Row i of A is the concatenation over taps t < ks of kc codes at zsq_a_row(s, i, t): for a gemm
 * (ind == NULL, ks == 1) a + i·a_stride; for an igemm ind[i·ks + t], moved by a_offset unless it
 * is the zero row (gemm.h, zsq_igemm_requant_ukernel_fn). */
typedef struct zsq_a_rows {
  const uint8_t *a;
  size_t a_stride;
  const uint8_t *const *ind;
  size_t ks;
  size_t a_offset;
  const uint8_t *zero;
} zsq_a_rows;

static inline zsq_a_rows zsq_a_rows_gemm(const uint8_t *a, size_t a_stride) {
  const zsq_a_rows s = {a, a_stride, NULL, 1, 0, NULL};
  return s;
}

static inline zsq_a_rows zsq_a_rows_igemm(const uint8_t *const *ind, size_t ks, size_t a_offset,
                                          const uint8_t *zero) {
  const zsq_a_rows s = {NULL, 0, ind, ks, a_offset, zero};
  return s;
}

static inline const uint8_t *zsq_a_row(const zsq_a_rows *s, size_t i, size_t t) {
  if (s->ind == NULL) return s->a + i * s->a_stride;
  const uint8_t *r = s->ind[i * s->ks + t];
  return r == s->zero ? r : r + s->a_offset;
}

#endif
