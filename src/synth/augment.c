/* augment.c — random-resized crop with bilinear resampling (align_corners = false) and its adjoint.
 */
#include "synth/augment.h"

#include <math.h>
#include <string.h>

void zsq_crop_sample(zsq_rng *r, int64_t h, int64_t w, double p, double scale_lo, zsq_crop *c) {
  memset(c, 0, sizeof *c);
  if (zsq_rng_uniform(r) >= p) return;
  c->active = 1;
  c->flip = zsq_rng_uniform(r) < 0.5;
  const double area = (double)(h * w), lr0 = log(3.0 / 4.0), lr1 = log(4.0 / 3.0);
  for (int t = 0; t < 10; t++) {
    const double target = area * (scale_lo + (1.0 - scale_lo) * zsq_rng_uniform(r));
    const double ratio = exp(lr0 + (lr1 - lr0) * zsq_rng_uniform(r));
    const double cw = round(sqrt(target * ratio)), ch = round(sqrt(target / ratio));
    if (cw > 0 && ch > 0 && cw <= (double)w && ch <= (double)h) {
      c->ch = ch;
      c->cw = cw;
      c->y0 = (double)zsq_rng_below(r, (uint32_t)(h - (int64_t)ch + 1));
      c->x0 = (double)zsq_rng_below(r, (uint32_t)(w - (int64_t)cw + 1));
      return;
    }
  }
  c->ch = (double)h;
  c->cw = (double)w;
  c->y0 = c->x0 = 0.0;
}

/* Source taps of output coordinate o along one axis: i0, i1 and the weight of i1. */
static void taps(double start, double len, int64_t out_len, int64_t o, int64_t *i0, int64_t *i1,
                 double *f) {
  double s = (o + 0.5) * len / (double)out_len - 0.5;
  if (s < 0) s = 0;
  const double lo = floor(s);
  *f = s - lo;
  *i0 = (int64_t)(start + lo);
  *i1 = *i0 + 1 < (int64_t)(start + len) ? *i0 + 1 : *i0;
}

/* Calls body(y0, y1, x0, x1, fy, fx, out_offset) for every output pixel. */
#define CROP_WALK(c, h, w, BODY)                                                    \
  for (int64_t oy = 0; oy < (h); oy++) {                                            \
    int64_t ya, yb;                                                                 \
    double fy;                                                                      \
    taps((c)->y0, (c)->ch, (h), oy, &ya, &yb, &fy);                                 \
    for (int64_t ox = 0; ox < (w); ox++) {                                          \
      int64_t xa, xb;                                                               \
      double fx;                                                                    \
      taps((c)->x0, (c)->cw, (w), (c)->flip ? (w)-1 - ox : ox, &xa, &xb, &fx);      \
      const float w00 = (float)((1 - fy) * (1 - fx)), w01 = (float)((1 - fy) * fx); \
      const float w10 = (float)(fy * (1 - fx)), w11 = (float)(fy * fx);             \
      const int64_t o = oy * (w) + ox, p00 = ya * (w) + xa, p01 = ya * (w) + xb;    \
      const int64_t p10 = yb * (w) + xa, p11 = yb * (w) + xb;                       \
      BODY;                                                                         \
    }                                                                               \
  }

void zsq_crop_forward(const zsq_crop *c, const float *in, float *out, int64_t h, int64_t w,
                      int64_t ch) {
  if (!c->active) {
    memcpy(out, in, (size_t)(h * w * ch) * sizeof(float));
    return;
  }
  CROP_WALK(c, h, w, {
    for (int64_t k = 0; k < ch; k++) {
      out[o * ch + k] = w00 * in[p00 * ch + k] + w01 * in[p01 * ch + k] + w10 * in[p10 * ch + k] +
                        w11 * in[p11 * ch + k];
    }
  })
}

void zsq_crop_adjoint(const zsq_crop *c, const float *gout, float *gin, int64_t h, int64_t w,
                      int64_t ch) {
  if (!c->active) {
    for (int64_t i = 0; i < h * w * ch; i++) gin[i] += gout[i];
    return;
  }
  CROP_WALK(c, h, w, {
    for (int64_t k = 0; k < ch; k++) {
      const float g = gout[o * ch + k];
      gin[p00 * ch + k] += w00 * g;
      gin[p01 * ch + k] += w01 * g;
      gin[p10 * ch + k] += w10 * g;
      gin[p11 * ch + k] += w11 * g;
    }
  })
}
