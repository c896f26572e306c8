/* qu8_qc8w_igemm_acc_ukernel_6x16c2__avx2.c — W8 x u8 convolution by row pointers (igemm) to int32
 * Σ a·w, 6x16 tile, no VNNI. */
#include "kernels/gemm/avx2-6x16c2.h"

void zsq_qu8_qc8w_igemm_acc_ukernel_6x16c2__avx2(size_t mr, size_t nc, size_t kc, size_t ks,
                                                 const uint8_t *const *a, size_t a_offset,
                                                 const uint8_t *zero, const void *w, int32_t *c,
                                                 size_t c_stride) {
  const zsq_a_rows src = zsq_a_rows_igemm(a, ks, a_offset, zero);
  zsq_avx2_6x16c2_tile(mr, nc, kc, &src, w, c, c_stride, NULL);
}
