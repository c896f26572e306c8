/* rt_ops.c — the runtime's non-convolution steps (quantize, add, clamp, pools, layout, softmax). */
#include "runtime/rt_ops.h"

#include <math.h>

#include "float/layout.h"

void rt_quantize(const rt_val *x, rt_val *y, const rt_grid *q, int64_t begin, int64_t end) {
  uint8_t *out = y->data;
  const int64_t c = x->c;
  for (int64_t i = begin; i < end; i++) {
    const float v0 = rt_get(x, i);
    /* The simulation's arithmetic (src/float/op_fakequant.c), to the bit. */
    float v = q->qmult ? fmaf(v0, q->qmult[i % c], q->qoffset[i % c])
                       : v0 * q->inv_scale + q->zero_point + 0.5f;
    v = v < q->qmin ? q->qmin : v;
    v = v > q->qmax ? q->qmax : v;
    out[i] = (uint8_t)(int32_t)floorf(v);
  }
}

void rt_add(const rt_val *a, const rt_val *b, rt_val *y, float lo, float hi, int64_t begin,
            int64_t end) {
  float *out = y->data;
  for (int64_t i = begin; i < end; i++) out[i] = fminf(fmaxf(rt_get(a, i) + rt_get(b, i), lo), hi);
}

void rt_clamp(const rt_val *x, rt_val *y, float lo, float hi, int64_t begin, int64_t end) {
  float *out = y->data;
  for (int64_t i = begin; i < end; i++) out[i] = fminf(fmaxf(rt_get(x, i), lo), hi);
}

void rt_global_avgpool(const rt_val *x, rt_val *y, int64_t begin, int64_t end) {
  float *out = y->data;
  const int64_t hw = x->h * x->w, c = x->c;
  const float inv = 1.0f / (float)hw;
  for (int64_t i = begin; i < end; i++) {
    const int64_t b = i / c, ch = i % c;
    float sum = 0.0f;
    for (int64_t p = 0; p < hw; p++) sum += rt_get(x, (b * hw + p) * c + ch);
    out[i] = sum * inv;
  }
}

void rt_maxpool(const rt_val *x, rt_val *y, const zsq_geom *g, int64_t begin, int64_t end) {
  const int64_t c = x->c;
  const int codes = x->kind == RT_CODES;
  for (int64_t row = begin; row < end; row++) {
    const int64_t b = row / g->out_h, oy = row % g->out_h;
    for (int64_t ox = 0; ox < g->out_w; ox++) {
      const int64_t o = ((b * g->out_h + oy) * g->out_w + ox) * c;
      uint8_t *yq = (uint8_t *)y->data + o;
      float *yf = (float *)y->data + o;
      for (int64_t ch = 0; ch < c; ch++) {
        if (codes)
          yq[ch] = 0;
        else
          yf[ch] = -INFINITY;
      }
      for (int64_t ky = 0; ky < g->kh; ky++) {
        const int64_t iy = oy * g->sh - g->pad_top + ky * g->dh;
        for (int64_t kx = 0; iy >= 0 && iy < x->h && kx < g->kw; kx++) {
          const int64_t ix = ox * g->sw - g->pad_left + kx * g->dw;
          if (ix < 0 || ix >= x->w) continue;
          const int64_t i = ((b * x->h + iy) * x->w + ix) * c;
          const uint8_t *xq = (const uint8_t *)x->data + i;
          const float *xf = (const float *)x->data + i;
          if (codes) {
            for (int64_t ch = 0; ch < c; ch++) yq[ch] = xq[ch] > yq[ch] ? xq[ch] : yq[ch];
          } else {
            for (int64_t ch = 0; ch < c; ch++) yf[ch] = xf[ch] > yf[ch] ? xf[ch] : yf[ch];
          }
        }
      }
    }
  }
}

void rt_to_nchw(const rt_val *x, rt_val *y) {
  const int64_t hw = x->h * x->w, c = x->c;
  const size_t esize = x->kind == RT_CODES ? 1 : sizeof(float);
  for (int64_t b = 0; b < x->n; b++) {
    for (int64_t p = 0; p < hw; p++) {
      for (int64_t ch = 0; ch < c; ch++) {
        const int64_t src = (b * hw + p) * c + ch, dst = (b * c + ch) * hw + p;
        if (esize == 1)
          ((uint8_t *)y->data)[dst] = ((const uint8_t *)x->data)[src];
        else
          ((float *)y->data)[dst] = ((const float *)x->data)[src];
      }
    }
  }
}

void rt_softmax(const rt_val *x, rt_val *y) {
  float *out = y->data;
  const int64_t rows = x->n * x->h * x->w, c = x->c;
  for (int64_t r = 0; r < rows; r++) {
    float mx = -INFINITY, sum = 0.0f;
    for (int64_t ch = 0; ch < c; ch++) { /* not fmaxf: gcc 12 (aarch64) crashes vectorising it */
      const float v = rt_get(x, r * c + ch);
      mx = v > mx ? v : mx;
    }
    for (int64_t ch = 0; ch < c; ch++) {
      out[r * c + ch] = expf(rt_get(x, r * c + ch) - mx);
      sum += out[r * c + ch];
    }
    for (int64_t ch = 0; ch < c; ch++) out[r * c + ch] /= sum;
  }
}

void rt_write_output(const rt_val *x, float *out) {
  const int64_t hw = x->h * x->w, c = x->c;
  for (int64_t b = 0; b < x->n; b++) {
    for (int64_t p = 0; p < hw; p++) {
      for (int64_t ch = 0; ch < c; ch++)
        out[(b * c + ch) * hw + p] = rt_get(x, (b * hw + p) * c + ch);
    }
  }
}
