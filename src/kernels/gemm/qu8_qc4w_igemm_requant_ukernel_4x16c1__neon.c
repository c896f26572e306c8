/* qu8_qc4w_igemm_requant_ukernel_4x16c1__neon.c — W4 x u8 convolution by row pointers (igemm), 4x16
 * SMLAL-by-lane tile, no dot product. */
#include "kernels/gemm/neon-4x16c1.h"

void zsq_qu8_qc4w_igemm_requant_ukernel_4x16c1__neon(size_t mr, size_t nc, size_t kc, size_t ks,
                                                     const uint8_t *const *a, size_t a_offset,
                                                     const uint8_t *zero, const void *w, uint8_t *c,
                                                     size_t c_stride,
                                                     const zsq_gemm_requant_params *p) {
  const zsq_a_rows src = zsq_a_rows_igemm(a, ks, a_offset, zero);
  zsq_neon_4x16c1_tile(4, mr, nc, kc, &src, w, c, c_stride, p);
}
