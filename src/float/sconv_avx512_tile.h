/* sconv_avx512_tile.h — the MR x (16·NB) AVX-512 register tile of the f32 igemm kernels: per input
 * channel NB weight vectors, then one broadcast and NB FMAs per row (MR·NB accumulators). */
#ifndef ZSQ_FLOAT_SCONV_AVX512_TILE_H
#define ZSQ_FLOAT_SCONV_AVX512_TILE_H

#include <immintrin.h>

#include "float/sconv.h"
#include "kernels/unroll.h"

#define ZSQ_SCONV_AVX512_MAX_MR 14

/* acc[i][j] += a[i][c] · w[c][16j + lane] for c < cin (one tap); *wp advances past cin k-steps. */
static inline __attribute__((always_inline)) void zsq_sconv_avx512_krun(
    const size_t MR, const size_t NB, const float *const *a, size_t cin, const float **wp,
    __m512 acc[][2]) {
  const float *w = *wp;
  for (size_t c = 0; c < cin; c++) {
    __m512 wv[2];
    ZSQ_UNROLL for (size_t j = 0; j < NB; j++) wv[j] = _mm512_load_ps(w + 16 * j);
    w += 16 * NB;
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      const __m512 va = _mm512_set1_ps(a[i][c]);
      ZSQ_UNROLL for (size_t j = 0; j < NB; j++) acc[i][j] = _mm512_fmadd_ps(va, wv[j], acc[i][j]);
    }
  }
  *wp = w;
}

/* The body of every AVX-512 f32 igemm kernel (contract: sconv.h). MR and NB are constants after
 * inlining, so acc[][] lives in zmm registers. One instance per file: clang 14 left the
 * accumulators of the second of two instances in one file on the stack. */
static inline __attribute__((always_inline)) void zsq_sconv_avx512_tile(
    const size_t MR, const size_t NB, size_t mr, size_t nc, size_t m, const zsq_sconv_src *src,
    const float *w, float *y, size_t y_stride, float lo, float hi) {
  const size_t NR = 16 * NB, cin = src->cin, ks = src->ks;
  /* Each row's image and offset-table entry; rows >= mr repeat row mr - 1 and are not stored. */
  const float *base[ZSQ_SCONV_AVX512_MAX_MR];
  const int32_t *ind[ZSQ_SCONV_AVX512_MAX_MR];
  size_t b = m / src->pixels, p = m % src->pixels;
  ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
    base[i] = src->x + b * src->image_stride;
    ind[i] = src->ind + p * ks;
    if (i + 1 < mr) {
      for (p++; p >= src->pixels; p -= src->pixels) b++;
    }
  }
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (size_t n0 = 0; n0 < nc; n0 += NR) {
    __m512 acc[ZSQ_SCONV_AVX512_MAX_MR][2];
    ZSQ_UNROLL for (size_t j = 0; j < NB; j++) {
      const __m512 bias = _mm512_load_ps(w + 16 * j);
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) acc[i][j] = bias;
    }
    w += NR;
    for (size_t t = 0; t < ks; t++) {
      const float *a[ZSQ_SCONV_AVX512_MAX_MR];
      /* Branch-free select of the zero row: whether a tap is padding does not follow a pattern
       * the branch predictor learns. */
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
        const int32_t off = ind[i][t];
        const uintptr_t pad = (uintptr_t)(intptr_t)(off >> 31); /* all ones in the padding */
        const uintptr_t in = (uintptr_t)base[i] + (uintptr_t)(intptr_t)off * sizeof(float);
        a[i] = (const float *)((in & ~pad) | ((uintptr_t)src->zero & pad));
      }
      zsq_sconv_avx512_krun(MR, NB, a, cin, &w, acc);
    }
    const size_t left = nc - n0;
    const __mmask16 m0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    const __mmask16 m1 = left >= 32  ? (__mmask16)0xFFFF
                         : left > 16 ? (__mmask16)((1u << (left - 16)) - 1)
                                     : (__mmask16)0;
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      if (i < mr) {
        float *yi = y + i * y_stride + n0;
        _mm512_mask_storeu_ps(yi, m0, _mm512_min_ps(_mm512_max_ps(acc[i][0], vlo), vhi));
        if (NB == 2)
          _mm512_mask_storeu_ps(yi + 16, m1, _mm512_min_ps(_mm512_max_ps(acc[i][1], vlo), vhi));
      }
    }
  }
}

#endif
