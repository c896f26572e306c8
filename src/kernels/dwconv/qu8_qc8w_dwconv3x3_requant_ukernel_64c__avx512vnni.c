/* qu8_qc8w_dwconv3x3_requant_ukernel_64c__avx512vnni.c — 9-tap depthwise row, code output. */
#include "kernels/dwconv/dwconv3x3-avx512.h"

void zsq_qu8_qc8w_dwconv3x3_requant_ukernel_64c__avx512vnni(size_t channels, size_t width,
                                                            size_t ks, const uint8_t *const *input,
                                                            const int8_t *weights, void *output,
                                                            const zsq_dwconv_params *p) {
  (void)ks; /* 9 by contract */
  zsq_dwconv3x3_avx512(channels, width, input, weights, output, p, false);
}
