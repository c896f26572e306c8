/* qu8_qc8w_gemm_requant_ukernel_1x1c1__scalar.c — W8 oracle on row-major W[N][K] (nr=kr=1). */
#include "kernels/gemm/requant-scalar.h"

void zsq_qu8_qc8w_gemm_requant_ukernel_1x1c1__scalar(size_t mr, size_t nc, size_t kc,
                                                     const uint8_t *a, size_t a_stride,
                                                     const void *w, uint8_t *c, size_t c_stride,
                                                     const zsq_gemm_requant_params *p) {
  const int8_t *wn = w;
  for (size_t m = 0; m < mr; m++) {
    const uint8_t *am = a + m * a_stride;
    for (size_t n = 0; n < nc; n++) {
      int32_t acc = 0;
      for (size_t k = 0; k < kc; k++) acc += (int32_t)am[k] * (int32_t)wn[n * kc + k];
      c[m * c_stride + n] = zsq_requant_scalar(acc, m, n, p);
    }
  }
}
