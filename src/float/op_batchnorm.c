/* op_batchnorm.c — inference BatchNormalization as a per-channel scale and shift. */
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
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
 * add gy·scale into gx where the forward output was strictly inside the clamp. */
typedef struct bn_ctx {
  const zsq_fnode *n;
  const float *src;
  float *dst;
  int accumulate;
} bn_ctx;

static inline float bn_one(const bn_ctx *c, const bn_state *s, int64_t i, float x, float yprev,
                           const float *yout, size_t at) {
  const float lo = c->n->node->act_min, hi = c->n->node->act_max;
  if (!c->accumulate) {
    const float v = x * s->scale[i] + s->shift[i];
    return v < lo ? lo : (v > hi ? hi : v);
  }
  const float g = x * s->scale[i];
  const int inside = ((yout[at] > lo) & (yout[at] < hi)) | (lo == -INFINITY && hi == INFINITY);
  return yprev + (inside ? g : 0.0f);
}

/* Rows of the NHWC pixel loop, or (outer × channel) rows of the other layouts. */
static void bn_range(void *ctx, size_t begin, size_t end) {
  const bn_ctx *c = ctx;
  const bn_state *s = c->n->state;
  const int64_t ch = s->channels;
  const float *restrict x = c->src;
  const float *yout = c->n->out[0]->data;
  float *restrict y = c->dst;
  if (zsq_value_is_nhwc(c->n->in[0])) {
    for (size_t px = begin; px < end; px++) {
      for (int64_t i = 0; i < ch; i++) {
        const size_t at = px * (size_t)ch + (size_t)i;
        y[at] = bn_one(c, s, i, x[at], c->accumulate ? y[at] : 0.0f, yout, at);
      }
    }
    return;
  }
  for (size_t row = begin; row < end; row++) {
    const int64_t i = (int64_t)row % ch;
    for (int64_t k = 0; k < s->inner; k++) {
      const size_t at = row * (size_t)s->inner + (size_t)k;
      y[at] = bn_one(c, s, i, x[at], c->accumulate ? y[at] : 0.0f, yout, at);
    }
  }
}

static size_t bn_rows(const zsq_fnode *n) {
  const bn_state *s = n->state;
  return zsq_value_is_nhwc(n->in[0]) ? (size_t)(s->outer * s->inner)
                                     : (size_t)(s->outer * s->channels);
}

static void bn_forward(zsq_fnode *n, zsq_fplan *p) {
  bn_ctx c = {n, n->in[0]->data, n->out[0]->data, 0};
  zsq_parallel_for(p->threadpool, bn_rows(n), 256, bn_range, &c);
}

static void bn_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  if (gx[0] == NULL) return;
  bn_ctx c = {n, gy, gx[0], 1};
  zsq_parallel_for(p->threadpool, bn_rows(n), 256, bn_range, &c);
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
                                   .caches_constants = 1};
