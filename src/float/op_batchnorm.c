/* op_batchnorm.c — inference BatchNormalization as a per-channel scale and shift. */
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "float/ops.h"

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

static void bn_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  const bn_state *s = n->state;
  const float *x = n->in[0]->data;
  float *y = n->out[0]->data;
  const int64_t c = s->channels;
  if (zsq_value_is_nhwc(n->in[0])) {
    const int64_t pixels = s->outer * s->inner;
    for (int64_t px = 0; px < pixels; px++) {
      for (int64_t i = 0; i < c; i++) y[px * c + i] = x[px * c + i] * s->scale[i] + s->shift[i];
    }
    return;
  }
  for (int64_t o = 0; o < s->outer; o++) {
    for (int64_t i = 0; i < c; i++) {
      const float *xs = x + (o * c + i) * s->inner;
      float *ys = y + (o * c + i) * s->inner;
      for (int64_t k = 0; k < s->inner; k++) ys[k] = xs[k] * s->scale[i] + s->shift[i];
    }
  }
}

static void bn_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  (void)p;
  const bn_state *s = n->state;
  float *g = gx[0];
  if (g == NULL) return;
  const int64_t c = s->channels;
  if (zsq_value_is_nhwc(n->in[0])) {
    const int64_t pixels = s->outer * s->inner;
    for (int64_t px = 0; px < pixels; px++) {
      for (int64_t i = 0; i < c; i++) g[px * c + i] += gy[px * c + i] * s->scale[i];
    }
    return;
  }
  for (int64_t o = 0; o < s->outer; o++) {
    for (int64_t i = 0; i < c; i++) {
      for (int64_t k = 0; k < s->inner; k++)
        g[(o * c + i) * s->inner + k] += gy[(o * c + i) * s->inner + k] * s->scale[i];
    }
  }
}

static void bn_release(zsq_fnode *n) {
  bn_state *s = n->state;
  if (s == NULL) return;
  zsq_aligned_free(s->scale);
  zsq_aligned_free(s->shift);
  free(s);
  n->state = NULL;
}

const zsq_fop zsq_fop_batchnorm = {
    .prepare = bn_prepare, .forward = bn_forward, .release = bn_release, .backward = bn_backward};
