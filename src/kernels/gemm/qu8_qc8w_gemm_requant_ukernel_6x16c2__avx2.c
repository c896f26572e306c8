/* qu8_qc8w_gemm_requant_ukernel_6x16c2__avx2.c — W8 x u8 GEMM without VNNI: codes widened to
 * int16 and multiplied with vpmaddwd (exact; vpmaddubsw could saturate on 8-bit operands). */
#include "kernels/gemm/requant-avx2.h"

#define MR 6

/* (a[0], a[1]) zero-extended to int16 and repeated in every 32-bit lane. */
static inline __m256i bcast2(const uint8_t *a, size_t n) {
  uint16_t u = a[0];
  if (n > 1) u = (uint16_t) (u | a[1] << 8);
  return _mm256_cvtepu8_epi16(_mm_set1_epi16((short) u));
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
    for (size_t i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    for (size_t k = 0; k < kc; k += 2) {
      const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) wp));
      const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) (wp + 16)));
      wp += sizeof(zsq_qc8w_block_16x2);
      for (size_t i = 0; i < MR; i++) {
        const __m256i va = bcast2(ar[i] + k, kc - k);
        acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(va, w0));
        acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(va, w1));
      }
    }
    const zsq_requant_cols_avx2 c0 = zsq_requant_cols_avx2_load(p, n0, nc);
    const zsq_requant_cols_avx2 c1 = zsq_requant_cols_avx2_load(p, n0 + 8, nc);
    for (size_t i = 0; i < MR; i++) {
      if (i < mr) {
        zsq_store16_avx2(zsq_requant_avx2(acc[i][0], &c0, p, i),
                         zsq_requant_avx2(acc[i][1], &c1, p, i), nc - n0, c + i * c_stride + n0);
      }
    }
  }
}
