/* qu8_qc8w_igemm_requant_ukernel_1x1c1__scalar.c — W8 x u8 convolution by row pointers (igemm),
 * scalar oracle on nr=kr=1. */
#include "kernels/gemm/scalar-tile.h"

void zsq_qu8_qc8w_igemm_requant_ukernel_1x1c1__scalar(size_t mr, size_t nc, size_t kc, size_t ks,
                                                      const uint8_t *const *a, size_t a_offset,
                                                      const uint8_t *zero, const void *w,
                                                      uint8_t *c, size_t c_stride,
                                                      const zsq_gemm_requant_params *p) {
  const zsq_a_rows src = zsq_a_rows_igemm(a, ks, a_offset, zero);
  zsq_scalar_tile(8, mr, nc, kc, &src, w, c, c_stride, p);
}
