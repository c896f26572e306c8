/* qu8_qc8w_dwconv3x3_f32_ukernel_8c__neon.c — 9-tap depthwise row, float output. */
#include "kernels/dwconv/dwconv-neon.h"

void zsq_qu8_qc8w_dwconv3x3_f32_ukernel_8c__neon(size_t channels, size_t width, size_t ks,
                                                 const uint8_t *const *input, const int8_t *weights,
                                                 void *output, const zsq_dwconv_params *p) {
  (void)ks; /* 9 by contract */
  zsq_dwconv_neon(channels, width, 9, input, weights, output, p, true);
}
