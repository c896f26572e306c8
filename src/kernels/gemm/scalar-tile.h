/* scalar-tile.h — the scalar oracle loop shared by the requant and acc scalar gemm and igemm
 * ukernels. */
#ifndef ZSQ_KERNELS_GEMM_SCALAR_TILE_H
#define ZSQ_KERNELS_GEMM_SCALAR_TILE_H

#include "kernels/gemm/a-rows.h"
#include "kernels/gemm/requant-scalar.h"

/* Code w[n][k] of the scalar layouts: 8-bit row-major W[N][K] (nr = kr = 1), or 4-bit nibble
 * pairs (nr = 2, kr = 1) where byte k of pair n/2 holds w[2p][k] low and w[2p+1][k] high. */
static inline int32_t zsq_scalar_code(int wbits, const void *w, size_t kc, size_t n, size_t k) {
  if (wbits == 8) return ((const int8_t *)w)[n * kc + k];
  const uint8_t byte = ((const uint8_t *)w)[n / 2 * kc + k];
  const int32_t v = n % 2 ? byte >> 4 : byte & 0xF;
  return v >= 8 ? v - 16 : v;
}

/* C[mr][nc] over the rows of src (K = ks·kc codes, tap t at columns [t·kc, (t+1)·kc) of W):
 * requantized codes (p != NULL), or the raw int32 Σ a·w rows of the acc families (p == NULL; c
 * then points at int32 rows). c_stride is in bytes either way. */
static inline void zsq_scalar_tile(int wbits, size_t mr, size_t nc, size_t kc,
                                   const zsq_a_rows *src, const void *w, void *c, size_t c_stride,
                                   const zsq_gemm_requant_params *p) {
  const size_t kall = src->ks * kc;
  for (size_t m = 0; m < mr; m++) {
    uint8_t *cm = (uint8_t *)c + m * c_stride;
    for (size_t n = 0; n < nc; n++) {
      int32_t acc = 0;
      for (size_t t = 0; t < src->ks; t++) {
        const uint8_t *am = zsq_a_row(src, m, t);
        for (size_t k = 0; k < kc; k++) {
          acc += (int32_t)am[k] * zsq_scalar_code(wbits, w, kall, n, t * kc + k);
        }
      }
      if (p != NULL) {
        cm[n] = zsq_requant_scalar(acc, m, n, p);
      } else {
        ((int32_t *)cm)[n] = acc;
      }
    }
  }
}

#endif
