/* sconv_pack.c — the f32 convolution's packed weight blocks and its per-image offset table. */
#include <string.h>

#include "float/sconv.h"

size_t zsq_sconv_packed_floats(size_t cout, size_t ks, size_t cin, size_t nr) {
  const size_t blocks = (cout + nr - 1) / nr;
  return blocks * nr * (1 + ks * cin);
}

void zsq_sconv_pack(size_t cout, size_t ks, size_t cin, size_t nr, const float *w,
                    const float *bias, float *packed) {
  const size_t k = ks * cin;
  memset(packed, 0, zsq_sconv_packed_floats(cout, ks, cin, nr) * sizeof(float));
  for (size_t n0 = 0; n0 < cout; n0 += nr) {
    const size_t cols = cout - n0 < nr ? cout - n0 : nr;
    for (size_t j = 0; j < cols; j++) {
      if (bias != NULL) packed[j] = bias[n0 + j];
      for (size_t i = 0; i < k; i++) packed[nr * (1 + i) + j] = w[(n0 + j) * k + i];
    }
    packed += nr * (1 + k);
  }
}

void zsq_sconv_offsets(const zsq_geom *g, size_t cin, int32_t *ind) {
  for (int64_t oy = 0; oy < g->out_h; oy++) {
    for (int64_t ox = 0; ox < g->out_w; ox++) {
      for (int64_t ky = 0; ky < g->kh; ky++) {
        const int64_t iy = oy * g->sh - g->pad_top + ky * g->dh;
        for (int64_t kx = 0; kx < g->kw; kx++) {
          const int64_t ix = ox * g->sw - g->pad_left + kx * g->dw;
          const int inside = iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w;
          *ind++ = inside ? (int32_t)((iy * g->in_w + ix) * (int64_t)cin) : -1;
        }
      }
    }
  }
}
