/* qu8_qc8w_dwconv3x3_requant_ukernel_8c__avx2.c — 9-tap depthwise row, code output. */
#include "kernels/dwconv/dwconv-avx2.h"

void zsq_qu8_qc8w_dwconv3x3_requant_ukernel_8c__avx2(size_t channels, size_t width, size_t ks,
                                                     const uint8_t *const *input,
                                                     const int8_t *weights, void *output,
                                                     const zsq_dwconv_params *p) {
  (void)ks; /* 9 by contract */
  zsq_dwconv_avx2(channels, width, 9, input, weights, output, p, false);
}
