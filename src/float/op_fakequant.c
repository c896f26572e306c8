/* op_fakequant.c — simulated per-tensor activation quantization (zsq.FakeQuant): the codes the
 * integer runtime stores, dequantized; straight-through gradient inside the clamp range. */
#include <math.h>

#include "float/ops.h"
#include "float/parallel.h"

static zsq_status fq_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  (void)err;
  zsq_value_same_shape(n->out[0], n->in[0]);
  return ZSQ_OK;
}

static void fq_range(void *ctx, size_t begin, size_t end) {
  const zsq_fnode *n = ctx;
  const float inv = n->node->a.fq.inv_scale, s = n->node->a.fq.scale, zp = n->node->a.fq.zero_point;
  const float lo = n->node->a.fq.qmin, hi = n->node->a.fq.qmax;
  const float *restrict x = n->in[0]->data;
  float *restrict y = n->out[0]->data;
  for (size_t i = begin; i < end; i++) {
    float v = x[i] * inv + zp + 0.5f;
    v = v < lo ? lo : v;
    v = v > hi + 0.5f ? hi + 0.5f : v; /* clamp in float, then floor (docs/kernels.md) */
    y[i] = (floorf(v) - zp) * s;
  }
}

static void fq_forward(zsq_fnode *n, zsq_fplan *p) {
  zsq_parallel_for(p->threadpool, n->out[0]->numel, 16384, fq_range, n);
}

typedef struct fq_grad {
  const zsq_fnode *n;
  const float *gy;
  float *gx;
} fq_grad;

/* Straight-through: the gradient passes where x lies inside the representable range. */
static void fq_backward_range(void *ctx, size_t begin, size_t end) {
  const fq_grad *c = ctx;
  const zsq_fnode *n = c->n;
  const float inv = n->node->a.fq.inv_scale, zp = n->node->a.fq.zero_point;
  const float lo = n->node->a.fq.qmin - 0.5f, hi = n->node->a.fq.qmax + 0.5f;
  const float *restrict x = n->in[0]->data;
  for (size_t i = begin; i < end; i++) {
    const float t = x[i] * inv + zp, g = c->gy[i];
    c->gx[i] += ((t >= lo) & (t < hi)) ? g : 0.0f;
  }
}

static void fq_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  if (gx[0] == NULL) return;
  fq_grad c = {n, gy, gx[0]};
  zsq_parallel_for(p->threadpool, n->out[0]->numel, 16384, fq_backward_range, &c);
}

const zsq_fop zsq_fop_fakequant = {
    .prepare = fq_prepare, .forward = fq_forward, .backward = fq_backward};
