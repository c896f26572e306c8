/* pack.c — scalar bit-plane packing of 2-bit activation rows and weights (bitserial.h). */
#include <string.h>

#include "kernels/bitserial.h"

void zsq_pack_a_bitplanes_2b(size_t m, size_t kc, const uint8_t *a, size_t a_stride, void *out,
                             size_t out_stride) {
  for (size_t i = 0; i < m; i++) {
    const uint8_t *ai = a + i * a_stride;
    zsq_bitplanes_2b_block *row = (zsq_bitplanes_2b_block *)((uint8_t *)out + i * out_stride);
    memset(row, 0, zsq_bitplanes_2b_row_bytes(kc));
    for (size_t k = 0; k < kc; k++) {
      uint64_t *word0 = &row[k / 128].plane[0][k / 64 % 2];
      uint64_t *word1 = &row[k / 128].plane[1][k / 64 % 2];
      *word0 |= (uint64_t)(ai[k] & 1) << (k % 64);
      *word1 |= (uint64_t)(ai[k] >> 1 & 1) << (k % 64);
    }
  }
}

size_t zsq_bitserial_packed_size(size_t n, size_t k, size_t nr, size_t kw) {
  return zsq_round_up(n, nr) * zsq_round_up(k, kw) / 4; /* 2 planes x 1 bit per code */
}

void zsq_bitserial_pack_qc2w(size_t n, size_t k, size_t nr, size_t kw, const int8_t *w,
                             size_t w_stride, void *out) {
  uint8_t *o = out;
  memset(o, 0, zsq_bitserial_packed_size(n, k, nr, kw));
  const size_t col_bytes = kw / 8;
  for (size_t n0 = 0; n0 < n; n0 += nr) {
    for (size_t k0 = 0; k0 < k; k0 += kw) {
      for (size_t j = 0; j < nr && n0 + j < n; j++) {
        for (size_t kk = 0; kk < kw && k0 + kk < k; kk++) {
          const uint8_t code = (uint8_t)w[(n0 + j) * w_stride + k0 + kk]; /* two's complement */
          for (size_t p = 0; p < 2; p++) {
            o[(p * nr + j) * col_bytes + kk / 8] |= (uint8_t)((code >> p & 1) << (kk % 8));
          }
        }
      }
      o += 2 * nr * col_bytes;
    }
  }
}
