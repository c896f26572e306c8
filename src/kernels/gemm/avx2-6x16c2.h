/* avx2-6x16c2.h — the 6x16c2 vpmaddwd tile of the W8 AVX2 kernels (requant and acc). */
/* Codes widen to int16 for vpmaddwd (exact; vpmaddubsw could saturate on 8-bit operands). */
#ifndef ZSQ_KERNELS_GEMM_AVX2_6X16C2_H
#define ZSQ_KERNELS_GEMM_AVX2_6X16C2_H

#include "kernels/gemm/a-rows.h"
#include "kernels/gemm/requant-avx2.h"
#include "kernels/unroll.h"

#define ZSQ_AVX2_C2_MR 6

/* (a[0], a[1]) zero-extended to int16 and repeated in every 32-bit lane. */
static inline __m256i zsq_avx2_c2_bcast2(uint16_t a01) {
  return _mm256_cvtepu8_epi16(_mm_set1_epi16((short)a01));
}

static inline __attribute__((always_inline)) void zsq_avx2_c2_step(
    __m256i acc[ZSQ_AVX2_C2_MR][2], const uint8_t *const ar[ZSQ_AVX2_C2_MR], size_t k, int pair,
    const int8_t *wp) {
  const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wp));
  const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + 16)));
  ZSQ_UNROLL for (size_t i = 0; i < ZSQ_AVX2_C2_MR; i++) {
    uint16_t a01 = ar[i][k];
    if (pair) memcpy(&a01, ar[i] + k, 2);
    const __m256i va = zsq_avx2_c2_bcast2(a01);
    acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(va, w0));
    acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(va, w1));
  }
}

/* C[mr][nc] over the rows and taps of src (gemm or igemm): requantized codes (p != NULL) or, with p
 * == NULL (a literal: the gemm_acc family), int32 rows of the raw Σ a·w. c_stride is in bytes
 * either way. */
static inline __attribute__((always_inline)) void zsq_avx2_6x16c2_tile(
    size_t mr, size_t nc, size_t kc, const zsq_a_rows *src, const void *w, void *cv,
    size_t c_stride, const zsq_gemm_requant_params *p) {
  uint8_t *c = cv;
  const int8_t *wp = w;
  for (size_t n0 = 0; n0 < nc; n0 += 16) {
    __m256i acc[ZSQ_AVX2_C2_MR][2];
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_AVX2_C2_MR; i++) {
      acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    }
    for (size_t t = 0; t < src->ks; t++) {
      const uint8_t *ar[ZSQ_AVX2_C2_MR];
      for (size_t i = 0; i < ZSQ_AVX2_C2_MR; i++) ar[i] = zsq_a_row(src, i < mr ? i : mr - 1, t);
      size_t k = 0;
      for (; k + 2 <= kc; k += 2, wp += sizeof(zsq_qc8w_block_16x2)) {
        zsq_avx2_c2_step(acc, ar, k, 1, wp);
      }
      if (k < kc) { /* odd K: the last code alone (its padded weight is zero) */
        zsq_avx2_c2_step(acc, ar, k, 0, wp);
        wp += sizeof(zsq_qc8w_block_16x2);
      }
    }
    zsq_store_tile_avx2(ZSQ_AVX2_C2_MR, acc, mr, n0, nc, c, c_stride, p);
  }
}

#endif
