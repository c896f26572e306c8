/* qu8_qc8w_gemm_requant_ukernel_6x16c2__avx2.c — W8 x u8 GEMM, 6x16 tile, no VNNI. */
/* Codes widen to int16 for vpmaddwd (exact; vpmaddubsw could saturate on 8-bit operands). */
#include "kernels/gemm/requant-avx2.h"
#include "kernels/unroll.h"

#define MR 6

/* (a[0], a[1]) zero-extended to int16 and repeated in every 32-bit lane. */
static inline __m256i bcast2(uint16_t a01) {
  return _mm256_cvtepu8_epi16(_mm_set1_epi16((short)a01));
}

static inline __attribute__((always_inline)) void step(__m256i acc[MR][2],
                                                       const uint8_t *const ar[MR], size_t k,
                                                       int pair, const int8_t *wp) {
  const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wp));
  const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + 16)));
  ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
    uint16_t a01 = ar[i][k];
    if (pair) memcpy(&a01, ar[i] + k, 2);
    const __m256i va = bcast2(a01);
    acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(va, w0));
    acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(va, w1));
  }
}

void zsq_qu8_qc8w_gemm_requant_ukernel_6x16c2__avx2(size_t mr, size_t nc, size_t kc,
                                                    const uint8_t *a, size_t a_stride,
                                                    const void *w, uint8_t *c, size_t c_stride,
                                                    const zsq_gemm_requant_params *p) {
  const uint8_t *ar[MR];
  for (size_t i = 0; i < MR; i++) ar[i] = a + (i < mr ? i : mr - 1) * a_stride;
  const int8_t *wp = w;
  for (size_t n0 = 0; n0 < nc; n0 += 16) {
    __m256i acc[MR][2];
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    size_t k = 0;
    for (; k + 2 <= kc; k += 2, wp += sizeof(zsq_qc8w_block_16x2)) step(acc, ar, k, 1, wp);
    if (k < kc) { /* odd K: the last code alone (its padded weight is zero) */
      step(acc, ar, k, 0, wp);
      wp += sizeof(zsq_qc8w_block_16x2);
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
}
