/* qu8_qc8w_gemm_requant_ukernel_4x16c1__neon.c — W8 x u8 GEMM, 4x16 SMLAL-by-lane tile, no dot
 * product. */
#include "kernels/gemm/neon-4x16c1.h"

void zsq_qu8_qc8w_gemm_requant_ukernel_4x16c1__neon(size_t mr, size_t nc, size_t kc,
                                                    const uint8_t *a, size_t a_stride,
                                                    const void *w, uint8_t *c, size_t c_stride,
                                                    const zsq_gemm_requant_params *p) {
  const zsq_a_rows src = zsq_a_rows_gemm(a, a_stride);
  zsq_neon_4x16c1_tile(8, mr, nc, kc, &src, w, c, c_stride, p);
}
