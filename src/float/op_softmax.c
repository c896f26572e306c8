/* op_softmax.c — Softmax: along one axis (opset >= 13) or over the flattened tail (older). */
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "float/ops.h"

typedef struct softmax_state {
  int64_t outer, len, inner; /* logical view: outer × len × inner, normalised over len */
  float *tmp, *gtmp;
} softmax_state;

static zsq_status softmax_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *x = n->in[0];
  int64_t axis = n->node->a.axis.axis;
  int r = x->rank;
  if (axis < 0) axis += r;
  if (r == 0 || axis < 0 || axis >= r)
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "axis out of range for rank %d", r);
  zsq_value_same_shape(n->out[0], x);
  softmax_state *s = calloc(1, sizeof *s);
  if (s == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  n->state = s;
  s->outer = zsq_dims_product(x->dims, (int)axis);
  if (n->node->opset >= 13) {
    s->len = x->dims[axis];
    s->inner = zsq_dims_product(x->dims + axis + 1, r - (int)axis - 1);
  } else {
    s->len = zsq_dims_product(x->dims + axis, r - (int)axis);
    s->inner = 1;
  }
  const size_t bytes = (size_t)zsq_dims_product(x->dims, r) * sizeof(float) + 64;
  s->tmp = zsq_aligned_alloc(bytes);
  s->gtmp = zsq_aligned_alloc(bytes);
  if (s->tmp == NULL || s->gtmp == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  return ZSQ_OK;
}

static void softmax_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  softmax_state *s = n->state;
  float *t = s->tmp;
  zsq_value_to_logical(n->in[0], t);
  for (int64_t o = 0; o < s->outer; o++) {
    for (int64_t i = 0; i < s->inner; i++) {
      float *v = t + o * s->len * s->inner + i;
      float mx = -INFINITY;
      for (int64_t k = 0; k < s->len; k++) mx = v[k * s->inner] > mx ? v[k * s->inner] : mx;
      float sum = 0.0f;
      for (int64_t k = 0; k < s->len; k++) {
        float e = expf(v[k * s->inner] - mx);
        v[k * s->inner] = e;
        sum += e;
      }
      const float inv = 1.0f / sum;
      for (int64_t k = 0; k < s->len; k++) v[k * s->inner] *= inv;
    }
  }
  zsq_value_from_logical(n->out[0], t);
}

/* dx = y * (dy - sum(dy * y)) along the normalised axis. */
static void softmax_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  (void)p;
  softmax_state *s = n->state;
  if (gx[0] == NULL) return;
  float *y = s->tmp, *g = s->gtmp;
  zsq_value_to_logical(n->out[0], y);
  zsq_layout_to_logical(n->out[0], gy, g);
  for (int64_t o = 0; o < s->outer; o++) {
    for (int64_t i = 0; i < s->inner; i++) {
      const int64_t base = o * s->len * s->inner + i;
      float dot = 0.0f;
      for (int64_t k = 0; k < s->len; k++) dot += g[base + k * s->inner] * y[base + k * s->inner];
      for (int64_t k = 0; k < s->len; k++) {
        const int64_t e = base + k * s->inner;
        g[e] = y[e] * (g[e] - dot);
      }
    }
  }
  zsq_layout_add_logical(n->in[0], gx[0], g);
}

static void softmax_release(zsq_fnode *n) {
  softmax_state *s = n->state;
  if (s == NULL) return;
  zsq_aligned_free(s->tmp);
  zsq_aligned_free(s->gtmp);
  free(s);
  n->state = NULL;
}

const zsq_fop zsq_fop_softmax = {.prepare = softmax_prepare,
                                 .forward = softmax_forward,
                                 .release = softmax_release,
                                 .backward = softmax_backward};
