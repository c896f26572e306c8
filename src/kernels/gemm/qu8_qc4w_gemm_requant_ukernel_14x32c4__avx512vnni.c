/* qu8_qc4w_gemm_requant_ukernel_14x32c4__avx512vnni.c — W4 x u8 GEMM, 14x32 vpdpbusd tile. */
#include "kernels/gemm/vnni-tile.h"

void zsq_qu8_qc4w_gemm_requant_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                           const uint8_t *a, size_t a_stride,
                                                           const void *w, uint8_t *c,
                                                           size_t c_stride,
                                                           const zsq_gemm_requant_params *p) {
  const zsq_a_rows src = zsq_a_rows_gemm(a, a_stride);
  zsq_vnni_tile_14(2, 4, mr, nc, kc, &src, w, c, c_stride, p);
}
