/* requant-avx2.h — the docs/kernels.md epilogue on 8 int32 lanes and a 16-code store (AVX2). */
#ifndef ZSQ_KERNELS_GEMM_REQUANT_AVX2_H
#define ZSQ_KERNELS_GEMM_REQUANT_AVX2_H

#include <immintrin.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/unroll.h"

/* Per-column operands of 8 output columns (and the clamp bounds), loaded once per NR block. */
typedef struct zsq_requant_cols_avx2 {
  __m256i bias, zw;
  __m256 mult, offset, qmin, qmax;
} zsq_requant_cols_avx2;

static inline zsq_requant_cols_avx2 zsq_requant_cols_avx2_load(const zsq_gemm_requant_params *p,
                                                               size_t n0, size_t nc) {
  const int left = nc > n0 ? (int)(nc - n0 < 8 ? nc - n0 : 8) : 0;
  const __m256i mask =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  zsq_requant_cols_avx2 c;
  c.bias = _mm256_maskload_epi32(p->bias + n0, mask);
  c.mult = _mm256_maskload_ps(p->mult + n0, mask);
  c.offset = _mm256_maskload_ps(p->offset + n0, mask);
  c.zw = p->zw != NULL ? _mm256_maskload_epi32(p->zw + n0, mask) : _mm256_setzero_si256();
  c.qmin = _mm256_set1_ps((float)p->qmin);
  c.qmax = _mm256_set1_ps((float)p->qmax);
  return c;
}

/* The output codes of acc (row m of this call), as int32 in [qmin, qmax]. */
static inline __m256i zsq_requant_avx2(__m256i acc, const zsq_requant_cols_avx2 *cols,
                                       const zsq_gemm_requant_params *p, size_t m) {
  __m256i t = _mm256_add_epi32(acc, cols->bias);
  if (p->zw != NULL) {
    t = _mm256_sub_epi32(t, _mm256_mullo_epi32(cols->zw, _mm256_set1_epi32(p->rowsum[m])));
  }
  __m256 v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), cols->mult, cols->offset);
  v = _mm256_max_ps(v, _mm256_set1_ps((float)p->qmin));
  v = _mm256_min_ps(v, _mm256_set1_ps((float)p->qmax));
  return _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
}

/* Stores the first n (<= 16) of the codes q0 (columns 0..7) and q1 (columns 8..15). */
static inline void zsq_store16_avx2(__m256i q0, __m256i q1, size_t n, uint8_t *c) {
  const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
  const __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
  if (n >= 16) {
    _mm_storeu_si128((__m128i *)c, b);
  } else {
    uint8_t tmp[16];
    _mm_storeu_si128((__m128i *)tmp, b);
    memcpy(c, tmp, n);
  }
}

/* Stores rows < mr of an MR x 16 accumulator tile for columns n0.. (nc in all): requantized
 * codes (p != NULL) or the raw int32 sums (p == NULL, the gemm_acc family). */
static inline __attribute__((always_inline)) void zsq_store_tile_avx2(
    const size_t MR, __m256i acc[][2], size_t mr, size_t n0, size_t nc, uint8_t *c, size_t c_stride,
    const zsq_gemm_requant_params *p) {
  if (p == NULL) {
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      if (i >= mr) continue;
      int32_t tmp[16];
      _mm256_storeu_si256((__m256i *)tmp, acc[i][0]);
      _mm256_storeu_si256((__m256i *)(tmp + 8), acc[i][1]);
      memcpy((int32_t *)(c + i * c_stride) + n0, tmp, (nc - n0 < 16 ? nc - n0 : 16) * 4);
    }
    return;
  }
  const zsq_requant_cols_avx2 c0 = zsq_requant_cols_avx2_load(p, n0, nc);
  const zsq_requant_cols_avx2 c1 = zsq_requant_cols_avx2_load(p, n0 + 8, nc);
  ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
    if (i < mr) {
      zsq_store16_avx2(zsq_requant_avx2(acc[i][0], &c0, p, i),
                       zsq_requant_avx2(acc[i][1], &c1, p, i), nc - n0, c + i * c_stride + n0);
    }
  }
}

#endif
