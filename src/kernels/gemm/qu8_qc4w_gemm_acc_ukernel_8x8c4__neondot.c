/* qu8_qc4w_gemm_acc_ukernel_8x8c4__neondot.c — W4 x u8 GEMM to int32 Σ a·w, 8x8 UDOT-by-lane tile.
 */
#include "kernels/gemm/neondot-8x8c4.h"

void zsq_qu8_qc4w_gemm_acc_ukernel_8x8c4__neondot(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                                  size_t a_stride, const void *w, int32_t *c,
                                                  size_t c_stride) {
  const zsq_a_rows src = zsq_a_rows_gemm(a, a_stride);
  zsq_neondot_8x8c4_tile(4, mr, nc, kc, &src, w, c, c_stride, NULL);
}
