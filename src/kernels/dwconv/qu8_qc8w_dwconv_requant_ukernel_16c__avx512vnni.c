/* qu8_qc8w_dwconv_requant_ukernel_16c__avx512vnni.c — any-window depthwise row, code output. */
#include "kernels/dwconv/dwconv-avx512.h"

void zsq_qu8_qc8w_dwconv_requant_ukernel_16c__avx512vnni(size_t channels, size_t width, size_t ks,
                                                         const uint8_t *const *input,
                                                         const int8_t *weights, void *output,
                                                         const zsq_dwconv_params *p) {
  zsq_dwconv_avx512(channels, 0, width, ks, input, weights, output, p, false);
}
