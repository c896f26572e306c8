/* qu8_qc8w_dwconv_f32_ukernel_1c__scalar.c — any-window depthwise row, float output. */
#include "kernels/dwconv/dwconv-scalar.h"

void zsq_qu8_qc8w_dwconv_f32_ukernel_1c__scalar(size_t channels, size_t width, size_t ks,
                                                const uint8_t *const *input, const int8_t *weights,
                                                void *output, const zsq_dwconv_params *p) {
  zsq_dwconv_scalar(channels, width, ks, input, weights, output, p, true);
}
