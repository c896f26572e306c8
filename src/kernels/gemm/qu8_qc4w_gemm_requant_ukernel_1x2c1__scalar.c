/* qu8_qc4w_gemm_requant_ukernel_1x2c1__scalar.c — W4 oracle on nibble pairs (nr=2, kr=1). */
/* Byte k of column pair p holds w[2p][k] (low nibble) and w[2p+1][k] (high nibble). */
#include "kernels/gemm/requant-scalar.h"

static int32_t nibble(uint8_t byte, size_t high) {
  const int32_t v = high ? byte >> 4 : byte & 0xF;
  return v >= 8 ? v - 16 : v;
}

void zsq_qu8_qc4w_gemm_requant_ukernel_1x2c1__scalar(size_t mr, size_t nc, size_t kc,
                                                     const uint8_t *a, size_t a_stride,
                                                     const void *w, uint8_t *c, size_t c_stride,
                                                     const zsq_gemm_requant_params *p) {
  const uint8_t *wp = w;
  for (size_t m = 0; m < mr; m++) {
    const uint8_t *am = a + m * a_stride;
    for (size_t n = 0; n < nc; n++) {
      const uint8_t *col = wp + n / 2 * kc;
      int32_t acc = 0;
      for (size_t k = 0; k < kc; k++) acc += (int32_t)am[k] * nibble(col[k], n % 2);
      c[m * c_stride + n] = zsq_requant_scalar(acc, m, n, p);
    }
  }
}
