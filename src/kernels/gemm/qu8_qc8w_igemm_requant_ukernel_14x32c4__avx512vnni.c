/* qu8_qc8w_igemm_requant_ukernel_14x32c4__avx512vnni.c — W8 x u8 convolution by row pointers
 * (igemm), 14x32 vpdpbusd tile. */
#include "kernels/gemm/vnni-tile.h"

void zsq_qu8_qc8w_igemm_requant_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                            size_t ks, const uint8_t *const *a,
                                                            size_t a_offset, const uint8_t *zero,
                                                            const void *w, uint8_t *c,
                                                            size_t c_stride,
                                                            const zsq_gemm_requant_params *p) {
  const zsq_a_rows src = zsq_a_rows_igemm(a, ks, a_offset, zero);
  zsq_vnni_tile_14(2, 8, mr, nc, kc, &src, w, c, c_stride, p);
}
