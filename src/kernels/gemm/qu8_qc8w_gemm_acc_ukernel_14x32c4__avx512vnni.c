/* qu8_qc8w_gemm_acc_ukernel_14x32c4__avx512vnni.c — W8 x u8 GEMM to int32 Σ a·w, 14x32 vpdpbusd
 * tile. */
#include "kernels/gemm/vnni-tile.h"

void zsq_qu8_qc8w_gemm_acc_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                       const uint8_t *a, size_t a_stride,
                                                       const void *w, int32_t *c, size_t c_stride) {
  const zsq_a_rows src = zsq_a_rows_gemm(a, a_stride);
  zsq_vnni_tile_14(2, 8, mr, nc, kc, &src, w, c, c_stride, NULL);
}
