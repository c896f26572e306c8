/* qu8_qc4w_gemm_requant_ukernel_14x32c4__avx512vnni.c — W4 x u8 GEMM, 14x32 vpdpbusd tile. */
#include "kernels/gemm/vnni-tile.h"

void zsq_qu8_qc4w_gemm_requant_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                           const uint8_t *a, size_t a_stride,
                                                           const void *w, uint8_t *c,
                                                           size_t c_stride,
                                                           const zsq_gemm_requant_params *p) {
  /* A 7-row instance for short tails (e.g. M = 49 = 3*14 + 7) halves their wasted work. */
  if (mr > 7) {
    zsq_vnni_gemm_tile(14, 4, mr, nc, kc, a, a_stride, w, c, c_stride, p);
  } else {
    zsq_vnni_gemm_tile(7, 4, mr, nc, kc, a, a_stride, w, c, c_stride, p);
  }
}
