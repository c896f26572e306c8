/* qu8_qc8w_gemm_requant_ukernel_6x16c2__avx2.c — W8 x u8 GEMM, 6x16 tile, no VNNI. */
#include "kernels/gemm/avx2-6x16c2.h"

void zsq_qu8_qc8w_gemm_requant_ukernel_6x16c2__avx2(size_t mr, size_t nc, size_t kc,
                                                    const uint8_t *a, size_t a_stride,
                                                    const void *w, uint8_t *c, size_t c_stride,
                                                    const zsq_gemm_requant_params *p) {
  const zsq_a_rows src = zsq_a_rows_gemm(a, a_stride);
  zsq_avx2_6x16c2_tile(mr, nc, kc, &src, w, c, c_stride, p);
}
