/* qdwconv.c — depthwise integer convolution (src/ops/qconv.h semantics): weights transposed to
 * the dwconv ukernels' tap-major layout, an indirection row per output row, pthreadpool over
 * slices of (image, output row), stage 2 folded into the ukernel when that is provably safe. */
#include "ops/qdwconv.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/configs/dwconv-config.h"

#define MAX_TAPS 65536 /* 255 · 128 · 65536 < 2^31: the int32 accumulator stays exact */
/* 2^20: folded offsets this small keep the float rounding of the folded path far below a code. */
#define FOLD_LIMIT 1048576.0f

struct zsq_qdwconv {
  int64_t c, kh, kw, sh, sw, dh, dw, pads[4];
  int32_t za;
  zsq_qres_kind residual;
  float res_scale;
  int32_t res_zero_point;
  zsq_qout_kind out;
  float act_min, act_max;
  int32_t qmin, qmax;
  bool folded; /* codes straight from the requant ukernel (mult·qmult, offset·qmult + qoffset) */
  const zsq_dwconv_config *kernel;
  int8_t *weights; /* [kh·kw][c] */
  int32_t *bias;   /* [c] −za · Σ_k w */
  float *mult;     /* [4][c]: mult, offset (both folded when `folded`), qmult, qoffset */
  const float *offset, *qmult, *qoffset;
};

/* Stage 2 of qconv.h from the float conv output y of channel ch: residual, act clamp, and the
 * output code (ZSQ_QOUT_CODES) or float. The residual of codes is fmaf(res_scale, r − zp, y), as
 * qconv.c's requant2 epilogue computes it. */
static inline float stage2_y(const zsq_qdwconv *op, float y, const void *res, size_t i) {
  if (op->residual == ZSQ_QRES_F32) {
    y += ((const float *)res)[i];
  } else if (op->residual == ZSQ_QRES_CODES) {
    const int32_t r = ((const uint8_t *)res)[i];
    y = fmaf(op->res_scale, (float)(r - op->res_zero_point), y);
  }
  return zsq_dwconv_clamp(y, op->act_min, op->act_max);
}

static inline void stage2_store(const zsq_qdwconv *op, float y, int64_t ch, void *out, size_t i) {
  if (op->out == ZSQ_QOUT_F32) {
    ((float *)out)[i] = y;
    return;
  }
  const float v = fmaf(y, op->qmult[ch], op->qoffset[ch]);
  ((uint8_t *)out)[i] =
      (uint8_t)(int32_t)floorf(zsq_dwconv_clamp(v, (float)op->qmin, (float)op->qmax));
}

static bool finite_all(const float *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(v[i])) return false;
  }
  return true;
}

static zsq_status validate(const zsq_qconv_desc *d, zsq_err *err) {
  if (d == NULL) return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: NULL desc");
  if (d->cin < 1 || d->cout < 1 || d->groups < 1 || d->cin % d->groups != 0 ||
      d->cout % d->groups != 0) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                    "qdwconv: cin %lld / cout %lld not divisible into %lld groups",
                    (long long)d->cin, (long long)d->cout, (long long)d->groups);
  }
  if (d->groups != d->cin) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "qdwconv: %lld groups of %lld input channels is not depthwise (groups == cin)",
                    (long long)d->groups, (long long)(d->cin / d->groups));
  }
  if (d->cout != d->cin) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "qdwconv: channel multiplier %lld (cout %lld / cin %lld) is not implemented",
                    (long long)(d->cout / d->cin), (long long)d->cout, (long long)d->cin);
  }
  for (int i = 0; i < 2; i++) {
    if (d->kernel[i] < 1 || d->stride[i] < 1 || d->dilation[i] < 1) {
      return zsq_fail(
          err, ZSQ_ERR_INVALID_ARG,
          "qdwconv: kernel %lldx%lld, stride %lldx%lld, dilation %lldx%lld must be >= 1",
          (long long)d->kernel[0], (long long)d->kernel[1], (long long)d->stride[0],
          (long long)d->stride[1], (long long)d->dilation[0], (long long)d->dilation[1]);
    }
  }
  if (d->kernel[0] > MAX_TAPS / d->kernel[1]) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "qdwconv: window %lldx%lld exceeds %d taps",
                    (long long)d->kernel[0], (long long)d->kernel[1], MAX_TAPS);
  }
  for (int i = 0; i < 4; i++) {
    if (d->pads[i] < 0 || d->pads[i] > 1 << 20) {
      return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: pad %d is %lld", i,
                      (long long)d->pads[i]);
    }
  }
  if (d->wbits != 8 && d->wbits != 4 && d->wbits != 3 && d->wbits != 2) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: wbits %d (need 8, 4, 3 or 2)", d->wbits);
  }
  if (d->abits < 2 || d->abits > 8) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: abits %d (need 2..8)", d->abits);
  }
  if (d->in_zero_point < 0 || d->in_zero_point >= 1 << d->abits) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: input zero point %d outside [0, %d)",
                    d->in_zero_point, 1 << d->abits);
  }
  const int64_t c = d->cin, taps = d->kernel[0] * d->kernel[1];
  if (d->weights == NULL || d->mult == NULL || d->offset == NULL) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: NULL weights, mult or offset");
  }
  const int wlo = -(1 << (d->wbits - 1)), whi = (1 << (d->wbits - 1)) - 1;
  for (int64_t i = 0; i < c * taps; i++) {
    if (d->weights[i] < wlo || d->weights[i] > whi) {
      return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                      "qdwconv: weight code %d at %lld outside [%d, %d] (wbits %d)", d->weights[i],
                      (long long)i, wlo, whi, d->wbits);
    }
  }
  if (!finite_all(d->mult, c) || !finite_all(d->offset, c)) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: mult / offset not finite");
  }
  if (!(d->act_min <= d->act_max)) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: act_min %g > act_max %g (or NaN)",
                    (double)d->act_min, (double)d->act_max);
  }
  if (d->residual != ZSQ_QRES_NONE && d->residual != ZSQ_QRES_CODES &&
      d->residual != ZSQ_QRES_F32) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: residual kind %d", (int)d->residual);
  }
  if (d->residual == ZSQ_QRES_CODES &&
      (!isfinite(d->res_scale) || d->res_zero_point < 0 || d->res_zero_point > 255)) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                    "qdwconv: residual scale %g / zero point %d (need finite, 0..255)",
                    (double)d->res_scale, d->res_zero_point);
  }
  if (d->out == ZSQ_QOUT_CODES) {
    if (d->qmult == NULL || d->qoffset == NULL) {
      return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: code output without qmult / qoffset");
    }
    if (!finite_all(d->qmult, c) || !finite_all(d->qoffset, c)) {
      return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: qmult / qoffset not finite");
    }
    if (d->qmin < 0 || d->qmin > d->qmax || d->qmax > 255) {
      return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                      "qdwconv: code range [%d, %d] (need 0 <= qmin "
                      "<= qmax <= 255)",
                      d->qmin, d->qmax);
    }
  } else if (d->out != ZSQ_QOUT_F32) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: output kind %d", (int)d->out);
  }
  return ZSQ_OK;
}

/* Folding stage 2 into the kernel changes only the rounding (codes within 1 of the reference)
 * when: code output, no residual, qmult > 0 (fmaf(·, qmult, qoffset) is then monotone, so a y
 * below act_min maps below the code of act_min), the act clamp is implied by the code clamp
 * (act_min maps below qmin + 1, act_max at or above qmax), and the folded offset is small enough
 * that float rounding stays far below one code. */
static bool can_fold(const zsq_qconv_desc *d) {
  if (d->out != ZSQ_QOUT_CODES || d->residual != ZSQ_QRES_NONE) return false;
  for (int64_t ch = 0; ch < d->cin; ch++) {
    const float qm = d->qmult[ch], qo = d->qoffset[ch];
    if (!(qm > 0.0f)) return false;
    if (!(fmaf(d->act_min, qm, qo) < (float)(d->qmin + 1))) return false;
    if (!(fmaf(d->act_max, qm, qo) >= (float)d->qmax)) return false;
    if (!(fabsf(d->offset[ch] * qm) + fabsf(qo) < FOLD_LIMIT)) return false;
    if (!isfinite(d->mult[ch] * qm)) return false;
  }
  return true;
}

zsq_status zsq_qdwconv_create(const zsq_qconv_desc *d, zsq_qdwconv **out, zsq_err *err) {
  if (out == NULL) return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv: NULL output handle");
  *out = NULL;
  ZSQ_TRY(validate(d, err));
  const bool folded = can_fold(d);
  const zsq_dwconv_kind kind = d->kernel[0] * d->kernel[1] == 9
                                   ? (folded ? ZSQ_DWCONV_3X3_REQUANT : ZSQ_DWCONV_3X3_F32)
                                   : (folded ? ZSQ_DWCONV_REQUANT : ZSQ_DWCONV_F32);
  const zsq_dwconv_config *kernel = NULL;
  if (d->isa == NULL) {
    kernel = zsq_dwconv_config_best(kind);
  } else {
    const zsq_status s = zsq_dwconv_config_for_isa(d->isa, kind, &kernel);
    if (s != ZSQ_OK) {
      return zsq_fail(
          err, s, "qdwconv: ISA \"%s\" %s", d->isa,
          s == ZSQ_ERR_UNSUPPORTED ? "is not supported by this host or build" : "is unknown");
    }
  }
  zsq_qdwconv *op = calloc(1, sizeof(*op));
  if (op == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "qdwconv: out of memory");
  const int64_t c = d->cin, taps = d->kernel[0] * d->kernel[1];
  op->c = c;
  op->kh = d->kernel[0];
  op->kw = d->kernel[1];
  op->sh = d->stride[0];
  op->sw = d->stride[1];
  op->dh = d->dilation[0];
  op->dw = d->dilation[1];
  memcpy(op->pads, d->pads, sizeof(op->pads));
  op->za = d->in_zero_point;
  op->residual = d->residual;
  op->res_scale = d->res_scale;
  op->res_zero_point = d->res_zero_point;
  op->out = d->out;
  op->act_min = d->act_min;
  op->act_max = d->act_max;
  op->qmin = d->qmin;
  op->qmax = d->qmax;
  op->folded = folded;
  op->kernel = kernel;
  op->weights = zsq_aligned_alloc((size_t)(c * taps));
  op->bias = zsq_aligned_alloc((size_t)c * sizeof(int32_t));
  op->mult = zsq_aligned_alloc((size_t)c * 4 * sizeof(float));
  if (op->weights == NULL || op->bias == NULL || op->mult == NULL) {
    zsq_qdwconv_destroy(op);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "qdwconv: out of memory for %lld channels", (long long)c);
  }
  float *offset = op->mult + c, *qmult = op->mult + 2 * c, *qoffset = op->mult + 3 * c;
  op->offset = offset;
  op->qmult = qmult;
  op->qoffset = qoffset;
  for (int64_t ch = 0; ch < c; ch++) {
    int32_t wsum = 0;
    for (int64_t k = 0; k < taps; k++) {
      const int8_t wk = d->weights[ch * taps + k];
      op->weights[k * c + ch] = wk;
      wsum += wk;
    }
    op->bias[ch] = -op->za * wsum;
    const bool codes = d->out == ZSQ_QOUT_CODES;
    qmult[ch] = codes ? d->qmult[ch] : 1.0f;
    qoffset[ch] = codes ? d->qoffset[ch] : 0.0f;
    op->mult[ch] = folded ? d->mult[ch] * qmult[ch] : d->mult[ch];
    offset[ch] = folded ? fmaf(d->offset[ch], qmult[ch], qoffset[ch]) : d->offset[ch];
  }
  *out = op;
  return ZSQ_OK;
}

void zsq_qdwconv_destroy(zsq_qdwconv *op) {
  if (op == NULL) return;
  zsq_aligned_free(op->weights);
  zsq_aligned_free(op->bias);
  zsq_aligned_free(op->mult);
  free(op);
}

static size_t align64(size_t bytes) {
  return (bytes + ZSQ_ALIGN - 1) / ZSQ_ALIGN * ZSQ_ALIGN;
}

static int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t dil, int64_t p0, int64_t p1) {
  const int64_t span = in + p0 + p1 - dil * (k - 1);
  return span < 1 ? 0 : (span - 1) / s + 1;
}

/* Scratch: a zero-point row (c codes), then per thread an indirection row (ow · taps pointers)
 * and, where stage 2 runs separately on codes, a float row (ow · c). */
static size_t slot_bytes(const zsq_qdwconv *op, int64_t ow) {
  const size_t ptrs = align64((size_t)(ow * op->kh * op->kw) * sizeof(void *));
  const bool row = !op->folded && op->out == ZSQ_QOUT_CODES;
  return ptrs + (row ? align64((size_t)(ow * op->c) * sizeof(float)) : 0);
}

size_t zsq_qdwconv_scratch_size(const zsq_qdwconv *op, int64_t n, int64_t h, int64_t w,
                                size_t threads) {
  (void)n;
  (void)h;
  if (op == NULL || w < 1) return 0;
  const int64_t ow = out_dim(w, op->kw, op->sw, op->dw, op->pads[1], op->pads[3]);
  return align64((size_t)op->c) + (threads ? threads : 1) * slot_bytes(op, ow);
}

typedef struct run_ctx {
  const zsq_qdwconv *op;
  int64_t h, w, oh, ow, rows; /* rows = n · oh */
  size_t slots;
  const uint8_t *in, *zero;
  const void *residual;
  void *out;
  uint8_t *scratch; /* the first slot */
} run_ctx;

/* One output row: indirection, ukernel, stage 2 where it is not folded. */
static void run_row(const run_ctx *r, int64_t row, const uint8_t **ind, float *yrow) {
  const zsq_qdwconv *op = r->op;
  const int64_t b = row / r->oh, oy = row % r->oh, c = op->c, taps = op->kh * op->kw;
  for (int64_t ky = 0; ky < op->kh; ky++) {
    const int64_t iy = oy * op->sh - op->pads[0] + ky * op->dh;
    const uint8_t *in_row = iy >= 0 && iy < r->h ? r->in + (b * r->h + iy) * r->w * c : NULL;
    const uint8_t **row_taps = ind + ky * op->kw; /* taps (ky, 0 .. kw) of pixel x */
    for (int64_t x = 0; x < r->ow; x++, row_taps += taps) {
      int64_t ix = x * op->sw - op->pads[1];
      for (int64_t kx = 0; kx < op->kw; kx++, ix += op->dw) {
        row_taps[kx] = in_row != NULL && ix >= 0 && ix < r->w ? in_row + ix * c : r->zero;
      }
    }
  }
  const size_t at = (size_t)(row * r->ow * c), elem = op->out == ZSQ_QOUT_F32 ? 4 : 1;
  void *out = (uint8_t *)r->out + at * elem;
  /* Stage 1 lands in the output itself when that is float; the act clamp runs in the ukernel
   * unless a residual comes first. */
  const bool res = op->residual != ZSQ_QRES_NONE;
  zsq_dwconv_params p = {op->bias, op->mult, op->offset, op->act_min, op->act_max};
  if (op->folded) {
    p.min = (float)op->qmin;
    p.max = (float)op->qmax;
  } else if (res) {
    p.min = -INFINITY;
    p.max = INFINITY;
  }
  void *dst = op->folded || op->out == ZSQ_QOUT_F32 ? out : (void *)yrow;
  op->kernel->ukernel((size_t)c, (size_t)r->ow, (size_t)taps, ind, op->weights, dst, &p);
  if (op->folded || (op->out == ZSQ_QOUT_F32 && !res)) return;
  const float *y = dst;
  const size_t res_elem = op->residual == ZSQ_QRES_F32 ? 4 : 1;
  const void *res_row = res ? (const uint8_t *)r->residual + at * res_elem : NULL;
  for (int64_t x = 0; x < r->ow; x++) {
    for (int64_t ch = 0; ch < c; ch++) {
      const size_t i = (size_t)(x * c + ch);
      const float yi = res ? stage2_y(op, y[i], res_row, i) : y[i];
      stage2_store(op, yi, ch, out, i);
    }
  }
}

/* Slot s runs a contiguous slice of the rows with its own scratch. */
static void run_slot(void *ctx, size_t s) {
  const run_ctx *r = ctx;
  const size_t bytes = slot_bytes(r->op, r->ow);
  uint8_t *slot = r->scratch + s * bytes;
  const uint8_t **ind = (const uint8_t **)slot;
  float *yrow = (float *)(slot + align64((size_t)(r->ow * r->op->kh * r->op->kw) * sizeof(void *)));
  const int64_t lo = r->rows * (int64_t)s / (int64_t)r->slots;
  const int64_t hi = r->rows * (int64_t)(s + 1) / (int64_t)r->slots;
  for (int64_t row = lo; row < hi; row++) run_row(r, row, ind, yrow);
}

zsq_status zsq_qdwconv_run(const zsq_qdwconv *op, int64_t n, int64_t h, int64_t w,
                           const uint8_t *in, const void *residual, void *out, void *scratch,
                           pthreadpool_t tp, zsq_err *err) {
  if (op == NULL || in == NULL || out == NULL || scratch == NULL) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv_run: NULL op, input, output or scratch");
  }
  if (n < 1 || h < 1 || w < 1) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv_run: shape %lldx%lldx%lld", (long long)n,
                    (long long)h, (long long)w);
  }
  if (op->residual != ZSQ_QRES_NONE && residual == NULL) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv_run: the desc asks for a residual");
  }
  run_ctx r = {.op = op, .h = h, .w = w, .in = in, .residual = residual, .out = out};
  r.oh = out_dim(h, op->kh, op->sh, op->dh, op->pads[0], op->pads[2]);
  r.ow = out_dim(w, op->kw, op->sw, op->dw, op->pads[1], op->pads[3]);
  r.rows = n * r.oh;
  if (r.rows == 0 || r.ow == 0) return ZSQ_OK;
  uint8_t *zero = scratch;
  memset(zero, op->za, (size_t)op->c);
  r.zero = zero;
  r.scratch = zero + align64((size_t)op->c);
  /* As many slots as the pool has threads (the scratch was sized for them), at most one a row. */
  const size_t threads = tp != NULL ? pthreadpool_get_threads_count(tp) : 1;
  r.slots = threads < (size_t)r.rows ? threads : (size_t)r.rows;
  pthreadpool_parallelize_1d(tp, run_slot, &r, r.slots, 0);
  return ZSQ_OK;
}

const char *zsq_qdwconv_kernel_name(const zsq_qdwconv *op) {
  return op != NULL ? op->kernel->name : "";
}

zsq_status zsq_qdwconv_ref(const zsq_qconv_desc *d, int64_t n, int64_t h, int64_t w,
                           const uint8_t *in, const void *residual, void *out, zsq_err *err) {
  ZSQ_TRY(validate(d, err));
  if (in == NULL || out == NULL || n < 1 || h < 1 || w < 1 ||
      (d->residual != ZSQ_QRES_NONE && residual == NULL)) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qdwconv_ref: bad shape or NULL buffer");
  }
  /* The stage-2 helpers read only these fields of an operator. */
  const zsq_qdwconv s2 = {.residual = d->residual,
                          .res_scale = d->res_scale,
                          .res_zero_point = d->res_zero_point,
                          .out = d->out,
                          .act_min = d->act_min,
                          .act_max = d->act_max,
                          .qmin = d->qmin,
                          .qmax = d->qmax,
                          .qmult = d->qmult,
                          .qoffset = d->qoffset};
  const int64_t c = d->cin, kh = d->kernel[0], kw = d->kernel[1];
  const int64_t oh = out_dim(h, kh, d->stride[0], d->dilation[0], d->pads[0], d->pads[2]);
  const int64_t ow = out_dim(w, kw, d->stride[1], d->dilation[1], d->pads[1], d->pads[3]);
  for (int64_t b = 0; b < n; b++) {
    for (int64_t oy = 0; oy < oh; oy++) {
      for (int64_t ox = 0; ox < ow; ox++) {
        for (int64_t ch = 0; ch < c; ch++) {
          int32_t acc = 0;
          for (int64_t ky = 0; ky < kh; ky++) {
            const int64_t iy = oy * d->stride[0] - d->pads[0] + ky * d->dilation[0];
            for (int64_t kx = 0; kx < kw; kx++) {
              const int64_t ix = ox * d->stride[1] - d->pads[1] + kx * d->dilation[1];
              const bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
              const int32_t a = inside ? in[((b * h + iy) * w + ix) * c + ch] : d->in_zero_point;
              acc += (a - d->in_zero_point) * d->weights[(ch * kh + ky) * kw + kx];
            }
          }
          const size_t i = (size_t)(((b * oh + oy) * ow + ox) * c + ch);
          const float y = stage2_y(&s2, fmaf((float)acc, d->mult[ch], d->offset[ch]), residual, i);
          stage2_store(&s2, y, ch, out, i);
        }
      }
    }
  }
  return ZSQ_OK;
}
