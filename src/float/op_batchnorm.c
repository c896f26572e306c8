/* op_batchnorm.c — inference BatchNormalization as a per-channel scale and shift. */
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "float/chstats.h"
#include "float/ops.h"
#include "float/parallel.h"

typedef struct bn_state {
  float *scale, *shift;
  int64_t channels, outer, inner; /* for non-NHWC layouts: outer × channels × inner */
} bn_state;

static zsq_status bn_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *x = n->in[0];
  if (x->rank < 2) return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "input must have rank >= 2");
  int64_t c = x->dims[1];
  for (int k = 1; k < 5; k++) {
    if (n->in[k] == NULL || n->in[k]->numel != (size_t)c || n->in[k]->dtype != ZSQ_F32) {
      return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT,
                            "input %d must hold %lld floats (one per channel)", k, (long long)c);
    }
  }
  zsq_value_same_shape(n->out[0], x);
  bn_state *s = calloc(1, sizeof *s);
  if (s == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  n->state = s;
  s->scale = zsq_aligned_alloc((size_t)c * sizeof(float));
  s->shift = zsq_aligned_alloc((size_t)c * sizeof(float));
  if (!s->scale || !s->shift) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  const float *gamma = n->in[1]->data, *beta = n->in[2]->data, *mean = n->in[3]->data,
              *var = n->in[4]->data;
  float eps = n->node->a.bn.epsilon;
  for (int64_t i = 0; i < c; i++) {
    float sc = gamma[i] / sqrtf(var[i] + eps);
    s->scale[i] = sc;
    s->shift[i] = beta[i] - mean[i] * sc;
  }
  s->channels = c;
  s->outer = x->dims[0];
  s->inner = 1;
  for (int i = 2; i < x->rank; i++) s->inner *= x->dims[i];
  return ZSQ_OK;
}

/* y = clamp(x·scale + shift) per channel (a fused Relu/Clip sets the clamp); for a gradient,
 * add gy·scale into gx where the forward output was strictly inside the clamp. One row is the
 * channel vector of an NHWC pixel, or the inner extent of one (outer, channel) pair otherwise:
 * each loop below runs over contiguous memory with the per-row constants hoisted. */
typedef struct bn_ctx {
  const zsq_fnode *n;
  const float *gy;
  float *gx;
} bn_ctx;

static inline void bn_forward_row(const float *restrict x, float *restrict y, size_t len,
                                  const float *restrict scale, const float *restrict shift,
                                  size_t stride, float lo, float hi) {
  for (size_t k = 0; k < len; k++) {
    const float v = x[k] * scale[k * stride] + shift[k * stride];
    y[k] = v < lo ? lo : (v > hi ? hi : v);
  }
}

/* gx = (write ? 0 : gx) + gy·scale, masked by the clamp unless unclamped; with affine
 * coefficients a, b (else NULL) the term a + b·x joins gx before the masked gradient (the order of
 * a separate affine pass followed by this one: the same bytes). */
static inline void bn_backward_row(const float *restrict gy, const float *restrict y,
                                   const float *restrict x, float *restrict gx, size_t len,
                                   const float *restrict scale, const float *restrict shift,
                                   const float *restrict a, const float *restrict b, size_t stride,
                                   float lo, float hi, int write) {
  if (lo == -INFINITY && hi == INFINITY) { /* y is not read */
    for (size_t k = 0; k < len; k++) {
      float base = write ? 0.0f : gx[k];
      if (a != NULL) base += a[k * stride] + b[k * stride] * x[k];
      gx[k] = base + gy[k] * scale[k * stride];
    }
    return;
  }
  if (a != NULL && lo < hi) {
    /* x is read for the affine term: the mask comes from x·scale + shift (y inside the clamp
     * exactly when that is, for lo < hi), and y is not read */
    for (size_t k = 0; k < len; k++) {
      const float g = gy[k] * scale[k * stride], z = x[k] * scale[k * stride] + shift[k * stride];
      const float v = ((z > lo) & (z < hi)) ? g : 0.0f;
      const float base = (write ? 0.0f : gx[k]) + (a[k * stride] + b[k * stride] * x[k]);
      gx[k] = base + v;
    }
    return;
  }
  for (size_t k = 0; k < len; k++) {
    const float g = gy[k] * scale[k * stride]; /* computed unconditionally: a select vectorises */
    const float v = ((y[k] > lo) & (y[k] < hi)) ? g : 0.0f;
    float base = write ? 0.0f : gx[k];
    if (a != NULL) base += a[k * stride] + b[k * stride] * x[k];
    gx[k] = base + v;
  }
}

/* NHWC rows are pixels (the channel advances along the row: stride 1); other layouts have
 * (outer, channel) rows with one channel each (stride 0). The constant strides let the row loops
 * vectorise once inlined. */
static void bn_forward_range(void *ctx, size_t begin, size_t end) {
  const bn_ctx *c = ctx;
  const zsq_fnode *n = c->n;
  const bn_state *s = n->state;
  const float *x = n->in[0]->data, lo = n->node->act_min, hi = n->node->act_max;
  float *y = n->out[0]->data;
  const size_t ch = (size_t)s->channels;
  if (zsq_value_is_nhwc(n->in[0])) {
    for (size_t r = begin; r < end; r++)
      bn_forward_row(x + r * ch, y + r * ch, ch, s->scale, s->shift, 1, lo, hi);
    return;
  }
  const size_t in = (size_t)s->inner;
  for (size_t r = begin; r < end; r++)
    bn_forward_row(x + r * in, y + r * in, in, s->scale + r % ch, s->shift + r % ch, 0, lo, hi);
}

/* Blocks [begin, end) of rows of channels (NHWC, or rank 2: inner is 1): forward, then the
 * block's statistics while it is still in L1. */
static void bn_forward_stats_range(void *ctx, size_t begin, size_t end) {
  const bn_ctx *c = ctx;
  const zsq_fnode *n = c->n;
  const bn_state *s = n->state;
  const float *x = n->in[0]->data, lo = n->node->act_min, hi = n->node->act_max;
  float *y = n->out[0]->data;
  const size_t ch = (size_t)s->channels, rows = (size_t)n->stats->rows;
  for (size_t blk = begin; blk < end; blk++) {
    const size_t r1 = (blk + 1) * ZSQ_CHSTATS_BLOCK < rows ? (blk + 1) * ZSQ_CHSTATS_BLOCK : rows;
    for (size_t r = blk * ZSQ_CHSTATS_BLOCK; r < r1; r++)
      bn_forward_row(x + r * ch, y + r * ch, ch, s->scale, s->shift, 1, lo, hi);
    zsq_chstats_blocks(n->stats, x, (int64_t)blk, (int64_t)blk + 1);
  }
}

static void bn_backward_range(void *ctx, size_t begin, size_t end) {
  const bn_ctx *c = ctx;
  const zsq_fnode *n = c->n;
  const bn_state *s = n->state;
  const float *x = n->in[0]->data, *y = n->out[0]->data, lo = n->node->act_min,
              hi = n->node->act_max;
  const int write = n->grad_write & 1u;
  const size_t ch = (size_t)s->channels;
  const float *a = n->grad_affine, *b = a != NULL ? a + ch : NULL;
  if (zsq_value_is_nhwc(n->in[0])) {
    for (size_t r = begin; r < end; r++) {
      const size_t at = r * ch;
      bn_backward_row(c->gy + at, y + at, x + at, c->gx + at, ch, s->scale, s->shift, a, b, 1, lo,
                      hi, write);
    }
    return;
  }
  const size_t in = (size_t)s->inner;
  for (size_t r = begin; r < end; r++) {
    const size_t at = r * in, k = r % ch;
    bn_backward_row(c->gy + at, y + at, x + at, c->gx + at, in, s->scale + k, s->shift + k,
                    a != NULL ? a + k : NULL, b != NULL ? b + k : NULL, 0, lo, hi, write);
  }
}

static size_t bn_rows(const zsq_fnode *n) {
  const bn_state *s = n->state;
  return zsq_value_is_nhwc(n->in[0]) ? (size_t)(s->outer * s->inner)
                                     : (size_t)(s->outer * s->channels);
}

static void bn_forward(zsq_fnode *n, zsq_fplan *p) {
  bn_ctx c = {n, NULL, NULL};
  if (n->stats != NULL) { /* 4 blocks of 64 rows: the grain below */
    zsq_parallel_for(p->threadpool, (size_t)n->stats->blocks, 4, bn_forward_stats_range, &c);
    return;
  }
  zsq_parallel_for(p->threadpool, bn_rows(n), 256, bn_forward_range, &c);
}

static void bn_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  if (gx[0] == NULL) return;
  bn_ctx c = {n, gy, gx[0]};
  zsq_parallel_for(p->threadpool, bn_rows(n), 256, bn_backward_range, &c);
}

static void bn_release(zsq_fnode *n) {
  bn_state *s = n->state;
  if (s == NULL) return;
  zsq_aligned_free(s->scale);
  zsq_aligned_free(s->shift);
  free(s);
  n->state = NULL;
}

const zsq_fop zsq_fop_batchnorm = {.prepare = bn_prepare,
                                   .forward = bn_forward,
                                   .release = bn_release,
                                   .backward = bn_backward,
                                   .caches_constants = 1,
                                   .backward_writes = 1u,
                                   .backward_affine = 1,
                                   .records_stats = 1};
