/* qconv_ref.c — zsq_qconv_ref: the semantics of qconv.h as direct loops (the operator's oracle). */
#include "kernels/requant2.h"
#include "ops/qconv-check.h"
#include "ops/qdwconv.h"

/* acc of output pixel (img, oy, ox) and channel co: Σ (a − za)·w over the taps inside the
 * input; padding reads za and adds nothing. Weights in ONNX order [cout][cin][kh][kw]. */
static int32_t conv_acc(const zsq_qconv_desc *d, const zsq_conv_geom *g, const uint8_t *image,
                        int64_t oy, int64_t ox, int64_t co) {
  int32_t acc = 0;
  for (int64_t c = 0; c < d->cin; c++) {
    for (int64_t ky = 0; ky < g->kh; ky++) {
      const int64_t iy = oy * g->sh - g->pt + ky * g->dh;
      if (iy < 0 || iy >= g->h) continue;
      for (int64_t kx = 0; kx < g->kw; kx++) {
        const int64_t ix = ox * g->sw - g->pl + kx * g->dw;
        if (ix < 0 || ix >= g->w) continue;
        const int32_t a = image[(iy * g->w + ix) * d->cin + c];
        const int32_t w = d->weights[((co * d->cin + c) * g->kh + ky) * g->kw + kx];
        acc += (a - d->in_zero_point) * w;
      }
    }
  }
  return acc;
}

zsq_status zsq_qconv_ref(const zsq_qconv_desc *d, int64_t n, int64_t h, int64_t w,
                         const uint8_t *in, const void *residual, void *out, zsq_err *err) {
  ZSQ_TRY(zsq_qconv_validate(d, err));
  if (d->groups != 1) return zsq_qdwconv_ref(d, n, h, w, in, residual, out, err);
  zsq_conv_geom g;
  zsq_conv_geom_init(d, h, w, &g);
  int64_t pixels = 0;
  ZSQ_TRY(zsq_qconv_check_run(d, &g, n, in, residual, out, &pixels, err));
  const zsq_requant2_params p = {
      .mult = d->mult,
      .offset = d->offset,
      .act_min = d->act_min,
      .act_max = d->act_max,
      .res_kind = (int)d->residual,
      .res_scale = d->res_scale,
      .res_zero_point = d->res_zero_point,
      .out_kind = (int)d->out,
      .qmult = d->qmult,
      .qoffset = d->qoffset,
      .qmin = d->qmin,
      .qmax = d->qmax,
  };
  const size_t res_bytes = d->residual == ZSQ_QRES_F32 ? sizeof(float) : 1;
  const size_t out_bytes = d->out == ZSQ_QOUT_F32 ? sizeof(float) : 1;
  for (int64_t m = 0; m < pixels; m++) {
    const int64_t img = m / (g.oh * g.ow), oy = m % (g.oh * g.ow) / g.ow, ox = m % g.ow;
    const uint8_t *image = in + img * h * w * d->cin;
    const void *res_row =
        residual != NULL ? (const uint8_t *)residual + (size_t)(m * d->cout) * res_bytes : NULL;
    uint8_t *out_row = (uint8_t *)out + (size_t)(m * d->cout) * out_bytes;
    for (int64_t co = 0; co < d->cout; co++) {
      const float y = zsq_requant2_y(conv_acc(d, &g, image, oy, ox, co), (size_t)co,
                                     d->residual != ZSQ_QRES_NONE ? res_row : NULL, &p);
      if (d->out == ZSQ_QOUT_F32) {
        ((float *)out_row)[co] = y;
      } else {
        out_row[co] = zsq_requant2_code(y, (size_t)co, &p);
      }
    }
  }
  return ZSQ_OK;
}
