/* sconv_ref.c — the scalar f32 igemm microkernel: the oracle of the SIMD builds (sconv.h). */
#include <math.h>

#include "float/sconv.h"

#define NR 16

void zsq_f32_igemm_minmax_ukernel_1x16__scalar(size_t mr, size_t nc, size_t m,
                                               const zsq_sconv_src *src, const float *w, float *y,
                                               size_t y_stride, float lo, float hi) {
  const size_t k = src->ks * src->cin;
  for (size_t i = 0; i < mr; i++) {
    const size_t row = m + i, p = row % src->pixels;
    const float *base = src->x + row / src->pixels * src->image_stride;
    const int32_t *ind = src->ind + p * src->ks;
    for (size_t n = 0; n < nc; n++) {
      const float *wb = w + n / NR * NR * (1 + k) + n % NR;
      float v = wb[0];
      for (size_t t = 0; t < src->ks; t++) {
        const float *a = ind[t] < 0 ? src->zero : base + ind[t];
        for (size_t c = 0; c < src->cin; c++) v = fmaf(a[c], wb[NR * (1 + t * src->cin + c)], v);
      }
      v = v > lo ? v : lo;
      y[i * y_stride + n] = v < hi ? v : hi;
    }
  }
}
