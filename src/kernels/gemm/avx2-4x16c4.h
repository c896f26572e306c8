/* avx2-4x16c4.h — the 4x16c4 vpmaddubsw tile of the W4 AVX2 kernels (requant and acc). */
/* Nibbles widen to int8 through a vpshufb table; vpmaddubsw cannot saturate (2·255·8 < 32767);
 * vpmaddwd by ones sums the pairs. */
#ifndef ZSQ_KERNELS_GEMM_AVX2_4X16C4_H
#define ZSQ_KERNELS_GEMM_AVX2_4X16C4_H

#include "kernels/gemm/a-rows.h"
#include "kernels/gemm/requant-avx2.h"
#include "kernels/unroll.h"

#define ZSQ_AVX2_C4_MR 4

/* One k-step of 4 codes; n < 4 only at the end of a row (bytes past it read as zero). */
static inline __attribute__((always_inline)) void zsq_avx2_c4_step(
    __m256i acc[ZSQ_AVX2_C4_MR][2], const uint8_t *const ar[ZSQ_AVX2_C4_MR], size_t k, size_t n,
    const uint8_t *wp) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1,
                                       2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i v = _mm256_loadu_si256((const __m256i *)wp);
  const __m256i w0 = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low4));
  const __m256i w1 = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
  ZSQ_UNROLL for (size_t i = 0; i < ZSQ_AVX2_C4_MR; i++) {
    int32_t x = 0;
    memcpy(&x, ar[i] + k, n);
    const __m256i va = _mm256_set1_epi32(x);
    acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(va, w0), ones));
    acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(va, w1), ones));
  }
}

/* C[mr][nc] over the rows and taps of src (gemm or igemm): requantized codes (p != NULL) or, with p
 * == NULL (a literal: the gemm_acc family), int32 rows of the raw Σ a·w. c_stride is in bytes
 * either way. */
static inline __attribute__((always_inline)) void zsq_avx2_4x16c4_tile(
    size_t mr, size_t nc, size_t kc, const zsq_a_rows *src, const void *w, void *cv,
    size_t c_stride, const zsq_gemm_requant_params *p) {
  uint8_t *c = cv;
  const uint8_t *wp = w;
  for (size_t n0 = 0; n0 < nc; n0 += 16) {
    __m256i acc[ZSQ_AVX2_C4_MR][2];
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_AVX2_C4_MR; i++) {
      acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    }
    for (size_t t = 0; t < src->ks; t++) {
      const uint8_t *ar[ZSQ_AVX2_C4_MR];
      for (size_t i = 0; i < ZSQ_AVX2_C4_MR; i++) ar[i] = zsq_a_row(src, i < mr ? i : mr - 1, t);
      size_t k = 0;
      for (; k + 4 <= kc; k += 4, wp += sizeof(zsq_qc4w_block_16x4)) {
        zsq_avx2_c4_step(acc, ar, k, 4, wp);
      }
      if (k < kc) {
        zsq_avx2_c4_step(acc, ar, k, kc - k, wp);
        wp += sizeof(zsq_qc4w_block_16x4);
      }
    }
    zsq_store_tile_avx2(ZSQ_AVX2_C4_MR, acc, mr, n0, nc, c, c_stride, p);
  }
}

#endif
