/* requant-avx512.h — the docs/kernels.md epilogue on 16 int32 lanes (AVX-512F, inline). */
#ifndef ZSQ_KERNELS_GEMM_REQUANT_AVX512_H
#define ZSQ_KERNELS_GEMM_REQUANT_AVX512_H

#include <immintrin.h>

#include "kernels/gemm.h"

/* Per-column operands of 16 output columns (and the clamp bounds), loaded once per NR block. */
typedef struct zsq_requant_cols_avx512 {
  __m512i bias, zw;
  __m512 mult, offset, qmin, qmax;
  __mmask16 mask;
} zsq_requant_cols_avx512;

static inline zsq_requant_cols_avx512 zsq_requant_cols_avx512_load(const zsq_gemm_requant_params *p,
                                                                   size_t n0, size_t nc) {
  zsq_requant_cols_avx512 c;
  const size_t left = nc > n0 ? nc - n0 : 0;
  c.mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
  c.bias = _mm512_maskz_loadu_epi32(c.mask, p->bias + n0);
  c.mult = _mm512_maskz_loadu_ps(c.mask, p->mult + n0);
  c.offset = _mm512_maskz_loadu_ps(c.mask, p->offset + n0);
  c.zw = p->zw != NULL ? _mm512_maskz_loadu_epi32(c.mask, p->zw + n0) : _mm512_setzero_si512();
  c.qmin = _mm512_set1_ps((float)p->qmin);
  c.qmax = _mm512_set1_ps((float)p->qmax);
  return c;
}

/* Requantizes acc (row m of this call) and stores the columns selected by cols->mask. */
static inline void zsq_requant_store_avx512(__m512i acc, const zsq_requant_cols_avx512 *cols,
                                            const zsq_gemm_requant_params *p, size_t m,
                                            uint8_t *c) {
  __m512i t = _mm512_add_epi32(acc, cols->bias);
  if (p->zw != NULL) {
    t = _mm512_sub_epi32(t, _mm512_mullo_epi32(cols->zw, _mm512_set1_epi32(p->rowsum[m])));
  }
  __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), cols->mult, cols->offset);
  v = _mm512_max_ps(v, _mm512_set1_ps((float)p->qmin));
  v = _mm512_min_ps(v, _mm512_set1_ps((float)p->qmax));
  const __m512i q = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  _mm512_mask_cvtepi32_storeu_epi8(c, cols->mask, q);
}

#endif
