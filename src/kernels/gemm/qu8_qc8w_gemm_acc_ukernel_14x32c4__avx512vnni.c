/* qu8_qc8w_gemm_acc_ukernel_14x32c4__avx512vnni.c — W8 x u8 GEMM to int32 Σ a·w, 14x32 tile. */
#include "kernels/gemm/vnni-tile.h"

void zsq_qu8_qc8w_gemm_acc_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                       const uint8_t *a, size_t a_stride,
                                                       const void *w, int32_t *c, size_t c_stride) {
  /* The 7-row instance for short tails, as in the requant kernel. */
  if (mr > 7) {
    zsq_vnni_gemm_tile(14, 8, mr, nc, kc, a, a_stride, w, c, c_stride, NULL);
  } else {
    zsq_vnni_gemm_tile(7, 8, mr, nc, kc, a, a_stride, w, c, c_stride, NULL);
  }
}
