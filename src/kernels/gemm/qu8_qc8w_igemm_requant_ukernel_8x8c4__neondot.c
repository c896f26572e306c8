/* qu8_qc8w_igemm_requant_ukernel_8x8c4__neondot.c — W8 x u8 convolution by row pointers (igemm),
 * 8x8 UDOT-by-lane tile. */
#include "kernels/gemm/neondot-8x8c4.h"

void zsq_qu8_qc8w_igemm_requant_ukernel_8x8c4__neondot(size_t mr, size_t nc, size_t kc, size_t ks,
                                                       const uint8_t *const *a, size_t a_offset,
                                                       const uint8_t *zero, const void *w,
                                                       uint8_t *c, size_t c_stride,
                                                       const zsq_gemm_requant_params *p) {
  const zsq_a_rows src = zsq_a_rows_igemm(a, ks, a_offset, zero);
  zsq_neondot_8x8c4_tile(8, mr, nc, kc, &src, w, c, c_stride, p);
}
