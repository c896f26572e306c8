/* pack_a_bitplanes_2b__avx512vpopcnt.c — 2-bit activation rows to bit planes, 64 codes a step. */
#include <immintrin.h>

#include "kernels/bitserial.h"

/* vptestmb turns bit p of 64 code bytes into the 64-bit mask word of plane p (bit i = code i). */
static inline void pack_word(__m512i v, zsq_bitplanes_2b_block *row, size_t j) {
  row[j / 2].plane[0][j % 2] = _mm512_test_epi8_mask(v, _mm512_set1_epi8(1));
  row[j / 2].plane[1][j % 2] = _mm512_test_epi8_mask(v, _mm512_set1_epi8(2));
}

void zsq_pack_a_bitplanes_2b__avx512vpopcnt(size_t m, size_t kc, const uint8_t *a, size_t a_stride,
                                            void *out, size_t out_stride) {
  const size_t full = kc / 64, words = zsq_bitplanes_2b_row_bytes(kc) / 16;
  /* The last, partial word: masked-off bytes are neither read nor faulted on. */
  const __mmask64 tail = ((__mmask64)1 << (kc % 64)) - 1;
  for (size_t i = 0; i < m; i++) {
    const uint8_t *ai = a + i * a_stride;
    zsq_bitplanes_2b_block *row = (zsq_bitplanes_2b_block *)((uint8_t *)out + i * out_stride);
    size_t j = 0;
    for (; j < full; j++) pack_word(_mm512_loadu_si512(ai + 64 * j), row, j);
    if (tail != 0) {
      pack_word(_mm512_maskz_loadu_epi8(tail, ai + 64 * j), row, j);
      j++;
    }
    for (; j < words; j++) pack_word(_mm512_setzero_si512(), row, j);
  }
}
