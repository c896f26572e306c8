/* dwconv-scalar.h — the depthwise row skeleton and epilogue of kernels/dwconv.h, scalar (oracle).
 */
#ifndef ZSQ_KERNELS_DWCONV_DWCONV_SCALAR_H
#define ZSQ_KERNELS_DWCONV_DWCONV_SCALAR_H

#include <math.h>
#include <stdbool.h>

#include "kernels/dwconv.h"

static inline void zsq_dwconv_scalar(size_t channels, size_t width, size_t ks,
                                     const uint8_t *const *input, const int8_t *weights,
                                     void *output, const zsq_dwconv_params *p, bool f32) {
  for (size_t x = 0; x < width; x++) {
    const uint8_t *const *in = input + x * ks;
    for (size_t c = 0; c < channels; c++) {
      /* int32 arithmetic wraps like the SIMD kernels' (unsigned here to stay defined in C). */
      uint32_t acc = (uint32_t)p->bias[c];
      for (size_t k = 0; k < ks; k++) {
        acc += (uint32_t)((int32_t)in[k][c] * (int32_t)weights[k * channels + c]);
      }
      const float v =
          zsq_dwconv_clamp(fmaf((float)(int32_t)acc, p->mult[c], p->offset[c]), p->min, p->max);
      if (f32) {
        ((float *)output)[x * channels + c] = v;
      } else {
        ((uint8_t *)output)[x * channels + c] = (uint8_t)(int32_t)floorf(v);
      }
    }
  }
}

#endif
