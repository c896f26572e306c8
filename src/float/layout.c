/* layout.c — layout transposes and window geometry (ONNX Conv/Pool output-shape rules). */
#include "float/layout.h"

void zsq_nchw_to_nhwc(const float *src, float *dst, int64_t n, int64_t c, int64_t hw) {
  for (int64_t b = 0; b < n; b++) {
    const float *s = src + b * c * hw;
    float *d = dst + b * c * hw;
    for (int64_t ch = 0; ch < c; ch++) {
      for (int64_t p = 0; p < hw; p++) d[p * c + ch] = s[ch * hw + p];
    }
  }
}

void zsq_nhwc_to_nchw(const float *src, float *dst, int64_t n, int64_t c, int64_t hw) {
  for (int64_t b = 0; b < n; b++) {
    const float *s = src + b * c * hw;
    float *d = dst + b * c * hw;
    for (int64_t p = 0; p < hw; p++) {
      for (int64_t ch = 0; ch < c; ch++) d[ch * hw + p] = s[p * c + ch];
    }
  }
}

static void resolve_axis(zsq_auto_pad ap, int64_t in, int64_t k, int64_t s, int64_t d,
                         int64_t pad_b, int64_t pad_e, int ceil_mode, int64_t *out, int64_t *pb,
                         int64_t *pe) {
  int64_t ext = (k - 1) * d + 1;
  if (ap == ZSQ_PAD_SAME_UPPER || ap == ZSQ_PAD_SAME_LOWER) {
    int64_t o = (in + s - 1) / s;
    int64_t total = (o - 1) * s + ext - in;
    if (total < 0) total = 0;
    *pb = ap == ZSQ_PAD_SAME_UPPER ? total / 2 : total - total / 2;
    *pe = total - *pb;
    *out = o;
    return;
  }
  if (ap == ZSQ_PAD_VALID) pad_b = pad_e = 0;
  *pb = pad_b;
  *pe = pad_e;
  int64_t span = in + pad_b + pad_e - ext;
  if (span < 0) {
    *out = 0;
    return;
  }
  *out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  /* ceil_mode: a last window that would start inside the end padding is dropped. */
  if (ceil_mode && (*out - 1) * s >= in + pad_b) (*out)--;
}

int zsq_window_resolve(const zsq_window *w, int64_t in_h, int64_t in_w, int64_t kh, int64_t kw,
                       int ceil_mode, zsq_geom *g) {
  g->in_h = in_h;
  g->in_w = in_w;
  g->kh = kh;
  g->kw = kw;
  g->sh = w->strides[0];
  g->sw = w->strides[1];
  g->dh = w->dilations[0];
  g->dw = w->dilations[1];
  resolve_axis(w->auto_pad, in_h, kh, g->sh, g->dh, w->pads[0], w->pads[2], ceil_mode, &g->out_h,
               &g->pad_top, &g->pad_bottom);
  resolve_axis(w->auto_pad, in_w, kw, g->sw, g->dw, w->pads[1], w->pads[3], ceil_mode, &g->out_w,
               &g->pad_left, &g->pad_right);
  return g->out_h > 0 && g->out_w > 0;
}
