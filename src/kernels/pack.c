/* pack.c — packs 8-bit and 4-bit weight codes into the (nr, kr) tile layout of gemm.h. */
#include <string.h>

#include "kernels/gemm.h"

size_t zsq_gemm_packed_size(size_t n, size_t k, size_t nr, size_t kr, int wbits) {
  return zsq_round_up(n, nr) * zsq_round_up(k, kr) * (size_t)wbits / 8;
}

static int8_t code_at(size_t n, size_t k, const int8_t *w, size_t w_stride, size_t i, size_t j) {
  return i < n && j < k ? w[i * w_stride + j] : 0;
}

void zsq_gemm_pack_qc8w(size_t n, size_t k, size_t nr, size_t kr, const int8_t *w, size_t w_stride,
                        void *out) {
  int8_t *o = out;
  for (size_t n0 = 0; n0 < n; n0 += nr) {
    for (size_t k0 = 0; k0 < k; k0 += kr) {
      for (size_t j = 0; j < nr; j++) {
        for (size_t kk = 0; kk < kr; kk++) *o++ = code_at(n, k, w, w_stride, n0 + j, k0 + kk);
      }
    }
  }
}

/* Low nibble lo_bias + w[j] (mod 16), high nibble w[j + nr/2] two's complement. */
static void pack_qc4w(size_t n, size_t k, size_t nr, size_t kr, const int8_t *w, size_t w_stride,
                      int lo_bias, void *out) {
  uint8_t *o = out;
  const size_t half = nr / 2;
  for (size_t n0 = 0; n0 < n; n0 += nr) {
    for (size_t k0 = 0; k0 < k; k0 += kr) {
      for (size_t j = 0; j < half; j++) {
        for (size_t kk = 0; kk < kr; kk++) {
          const uint8_t lo = (uint8_t)(code_at(n, k, w, w_stride, n0 + j, k0 + kk) + lo_bias) & 0xF;
          const uint8_t hi = (uint8_t)code_at(n, k, w, w_stride, n0 + half + j, k0 + kk) & 0xF;
          *o++ = (uint8_t)(lo | hi << 4);
        }
      }
    }
  }
}

void zsq_gemm_pack_qc4w(size_t n, size_t k, size_t nr, size_t kr, const int8_t *w, size_t w_stride,
                        void *out) {
  pack_qc4w(n, k, nr, kr, w, w_stride, 0, out);
}

void zsq_gemm_pack_qc4w_lo8(size_t n, size_t k, size_t nr, size_t kr, const int8_t *w,
                            size_t w_stride, void *out) {
  pack_qc4w(n, k, nr, kr, w, w_stride, 8, out);
}
