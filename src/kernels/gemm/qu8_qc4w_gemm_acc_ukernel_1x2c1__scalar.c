/* qu8_qc4w_gemm_acc_ukernel_1x2c1__scalar.c — W4 x u8 GEMM to int32 Σ a·w, scalar oracle on nibble
 * pairs (nr=2, kr=1). */
#include "kernels/gemm/scalar-tile.h"

void zsq_qu8_qc4w_gemm_acc_ukernel_1x2c1__scalar(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                                 size_t a_stride, const void *w, int32_t *c,
                                                 size_t c_stride) {
  const zsq_a_rows src = zsq_a_rows_gemm(a, a_stride);
  zsq_scalar_tile(4, mr, nc, kc, &src, w, c, c_stride, NULL);
}
