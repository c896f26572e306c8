/* qconv-check.c — desc validation, output geometry and run-argument checks for qconv. */
#include "ops/qconv-check.h"

#include <math.h>

#include "core/alloc.h"

/* Bound on kernel, stride, dilation and pads: keeps every index product far from int64 overflow. */
#define MAX_WINDOW (1 << 16)

static int all_finite(const float *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(v[i])) return 0;
  }
  return 1;
}

static zsq_status check_window(const zsq_qconv_desc *d, zsq_err *err) {
  for (int i = 0; i < 2; i++) {
    if (d->kernel[i] < 1 || d->stride[i] < 1 || d->dilation[i] < 1 || d->kernel[i] > MAX_WINDOW ||
        d->stride[i] > MAX_WINDOW || d->dilation[i] > MAX_WINDOW) {
      return zsq_fail(
          err, ZSQ_ERR_INVALID_ARG,
          "qconv: kernel, stride and dilation must lie in [1, %d] (got kernel %lldx%lld, "
          "stride %lldx%lld, dilation %lldx%lld)",
          MAX_WINDOW, (long long)d->kernel[0], (long long)d->kernel[1], (long long)d->stride[0],
          (long long)d->stride[1], (long long)d->dilation[0], (long long)d->dilation[1]);
    }
  }
  for (int i = 0; i < 4; i++) {
    if (d->pads[i] < 0 || d->pads[i] > MAX_WINDOW) {
      return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: pads[%d] = %lld is outside [0, %d]", i,
                      (long long)d->pads[i], MAX_WINDOW);
    }
  }
  return ZSQ_OK;
}

static zsq_status check_codes(const zsq_qconv_desc *d, int64_t count, zsq_err *err) {
  if (d->wbits != 8 && d->wbits != 4 && d->wbits != 3 && d->wbits != 2) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: wbits must be 8, 4, 3 or 2 (got %d)",
                    d->wbits);
  }
  if (d->abits < 2 || d->abits > 8) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: abits must lie in [2, 8] (got %d)", d->abits);
  }
  if (d->in_zero_point < 0 || d->in_zero_point >= 1 << d->abits) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                    "qconv: input zero point %d is outside [0, %d] for %d-bit codes",
                    (int)d->in_zero_point, (1 << d->abits) - 1, d->abits);
  }
  const int lo = -(1 << (d->wbits - 1)), hi = (1 << (d->wbits - 1)) - 1;
  for (int64_t i = 0; i < count; i++) {
    if (d->weights[i] < lo || d->weights[i] > hi) {
      return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                      "qconv: weight code %d at index %lld is outside [%d, %d] for %d-bit weights",
                      d->weights[i], (long long)i, lo, hi, d->wbits);
    }
  }
  return ZSQ_OK;
}

static zsq_status check_epilogue(const zsq_qconv_desc *d, zsq_err *err) {
  if (!all_finite(d->mult, d->cout) || !all_finite(d->offset, d->cout)) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: mult and offset must be finite");
  }
  if (isnan(d->act_min) || isnan(d->act_max) || d->act_min > d->act_max) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: act_min (%g) must not exceed act_max (%g)",
                    (double)d->act_min, (double)d->act_max);
  }
  if (d->residual != ZSQ_QRES_NONE && d->residual != ZSQ_QRES_CODES &&
      d->residual != ZSQ_QRES_F32) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: unknown residual kind %d", (int)d->residual);
  }
  if (d->residual == ZSQ_QRES_CODES &&
      (!isfinite(d->res_scale) || d->res_zero_point < 0 || d->res_zero_point > 255)) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                    "qconv: residual codes need a finite res_scale and res_zero_point in [0, 255]");
  }
  if (d->out == ZSQ_QOUT_F32) return ZSQ_OK;
  if (d->out != ZSQ_QOUT_CODES) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: unknown output kind %d", (int)d->out);
  }
  if (d->qmult == NULL || d->qoffset == NULL) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: code output needs qmult and qoffset");
  }
  if (!all_finite(d->qmult, d->cout) || !all_finite(d->qoffset, d->cout)) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: qmult and qoffset must be finite");
  }
  if (d->qmin < 0 || d->qmin > d->qmax || d->qmax > 255) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: need 0 <= qmin <= qmax <= 255 (got %d, %d)",
                    (int)d->qmin, (int)d->qmax);
  }
  return ZSQ_OK;
}

zsq_status zsq_qconv_validate(const zsq_qconv_desc *d, zsq_err *err) {
  if (d == NULL) return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: desc is NULL");
  if (d->cin < 1 || d->cout < 1 || d->cin > 1 << 24 || d->cout > 1 << 24) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                    "qconv: cin and cout must lie in [1, 2^24] (got %lld, "
                    "%lld)",
                    (long long)d->cin, (long long)d->cout);
  }
  if (d->groups < 1 || d->cin % d->groups != 0 || d->cout % d->groups != 0) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                    "qconv: groups = %lld must be >= 1 and divide cin = %lld and cout = %lld",
                    (long long)d->groups, (long long)d->cin, (long long)d->cout);
  }
  ZSQ_TRY(check_window(d, err));
  if (d->weights == NULL || d->mult == NULL || d->offset == NULL) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: weights, mult and offset must not be NULL");
  }
  if (d->groups != 1 && !(d->groups == d->cin && d->groups == d->cout)) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "qconv: grouped convolution (groups = %lld, cin = %lld, cout = %lld) is "
                    "supported only as depthwise (groups == cin == cout)",
                    (long long)d->groups, (long long)d->cin, (long long)d->cout);
  }
  const int64_t k = d->kernel[0] * d->kernel[1] * (d->cin / d->groups);
  if (k > ZSQ_QCONV_MAX_K) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "qconv: K = kh*kw*cin/groups = %lld exceeds %d (int32 accumulators)",
                    (long long)k, ZSQ_QCONV_MAX_K);
  }
  ZSQ_TRY(check_codes(d, d->cout * k, err));
  return check_epilogue(d, err);
}

static int64_t out_extent(int64_t in, int64_t pad0, int64_t pad1, int64_t k, int64_t s,
                          int64_t dil) {
  const int64_t padded = in + pad0 + pad1, window = (k - 1) * dil + 1;
  return padded < window ? 0 : (padded - window) / s + 1;
}

void zsq_conv_geom_init(const zsq_qconv_desc *d, int64_t h, int64_t w, zsq_conv_geom *g) {
  g->h = h;
  g->w = w;
  g->cin = d->cin;
  g->kh = d->kernel[0];
  g->kw = d->kernel[1];
  g->sh = d->stride[0];
  g->sw = d->stride[1];
  g->dh = d->dilation[0];
  g->dw = d->dilation[1];
  g->pt = d->pads[0];
  g->pl = d->pads[1];
  g->oh = out_extent(h, d->pads[0], d->pads[2], g->kh, g->sh, g->dh);
  g->ow = out_extent(w, d->pads[1], d->pads[3], g->kw, g->sw, g->dw);
}

zsq_status zsq_qconv_check_run(const zsq_qconv_desc *d, const zsq_conv_geom *g, int64_t n,
                               const uint8_t *in, const void *residual, const void *out,
                               int64_t *pixels, zsq_err *err) {
  const int64_t in_dims[4] = {n, g->h, g->w, d->cin}, out_dims[4] = {n, g->oh, g->ow, d->cout};
  if (n < 0 || g->h < 1 || g->w < 1 || g->h > 1 << 24 || g->w > 1 << 24 ||
      zsq_dims_product(in_dims, 4) < 0 || zsq_dims_product(out_dims, 4) < 0) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: bad input shape %lld x %lld x %lld x %lld",
                    (long long)n, (long long)g->h, (long long)g->w, (long long)d->cin);
  }
  *pixels = n * g->oh * g->ow;
  if (*pixels == 0) return ZSQ_OK;
  if (in == NULL || out == NULL) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: input and output must not be NULL");
  }
  if (d->residual != ZSQ_QRES_NONE && residual == NULL) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: the desc asks for a residual but it is NULL");
  }
  return ZSQ_OK;
}
