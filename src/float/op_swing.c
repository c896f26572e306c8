/* op_swing.c — zsq.Swing (float/swing.h): a reflect-padded ±1-pixel shift of an NHWC tensor,
 * forward and its adjoint (scatter of the output gradient onto the source pixels). */
#include <stdlib.h>
#include <string.h>

#include "float/ops.h"
#include "float/parallel.h"
#include "float/swing.h"

typedef struct swing_state {
  int dy, dx;
} swing_state;

static zsq_status swing_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *x = n->in[0];
  if (x->rank != 4 || x->dims[2] < 2 || x->dims[3] < 2)
    return zsq_fnode_fail(n, err, ZSQ_ERR_UNSUPPORTED,
                          "swing needs an image tensor of at least 2x2 pixels");
  zsq_value_same_shape(n->out[0], x);
  n->state = calloc(1, sizeof(swing_state));
  return n->state ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
}

void zsq_swing_set(zsq_fnode *n, int dy, int dx) {
  swing_state *s = n->state;
  s->dy = dy;
  s->dx = dx;
}

static int64_t reflect(int64_t i, int64_t n) {
  return i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i);
}

/* Rows (image · H + h) of the forward copy. */
static void forward_rows(void *ctx, size_t begin, size_t end) {
  const zsq_fnode *n = ctx;
  const swing_state *s = n->state;
  const zsq_value *x = n->in[0];
  const int64_t H = x->dims[2], W = x->dims[3], C = x->dims[1];
  const float *in = x->data;
  float *out = n->out[0]->data;
  for (size_t row = begin; row < end; row++) {
    const int64_t b = (int64_t)row / H, h = (int64_t)row % H, sh = reflect(h + s->dy, H);
    for (int64_t w = 0; w < W; w++) {
      memcpy(out + ((b * H + h) * W + w) * C, in + ((b * H + sh) * W + reflect(w + s->dx, W)) * C,
             (size_t)C * sizeof(float));
    }
  }
}

static void swing_forward(zsq_fnode *n, zsq_fplan *p) {
  const zsq_value *x = n->in[0];
  zsq_parallel_for(p->threadpool, (size_t)(x->dims[0] * x->dims[2]), 8, forward_rows, n);
}

/* The adjoint: every output pixel adds its gradient to its source pixel. Images are independent,
 * so the pool splits over images and each sums in a fixed order. */
typedef struct swing_grad {
  const zsq_fnode *n;
  const float *gy;
  float *gx;
} swing_grad;

static void backward_images(void *ctx, size_t begin, size_t end) {
  const swing_grad *g = ctx;
  const swing_state *s = g->n->state;
  const zsq_value *x = g->n->in[0];
  const int64_t H = x->dims[2], W = x->dims[3], C = x->dims[1];
  if (g->n->grad_write & 1u)
    memset(g->gx + begin * (size_t)(H * W * C), 0,
           (end - begin) * (size_t)(H * W * C) * sizeof(float));
  for (size_t b = begin; b < end; b++) {
    for (int64_t h = 0; h < H; h++) {
      const int64_t sh = reflect(h + s->dy, H);
      for (int64_t w = 0; w < W; w++) {
        const float *gy = g->gy + (((int64_t)b * H + h) * W + w) * C;
        float *gx = g->gx + (((int64_t)b * H + sh) * W + reflect(w + s->dx, W)) * C;
        for (int64_t c = 0; c < C; c++) gx[c] += gy[c];
      }
    }
  }
}

static void swing_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  if (gx[0] == NULL) return;
  swing_grad g = {n, gy, gx[0]};
  zsq_parallel_for(p->threadpool, (size_t)n->in[0]->dims[0], 1, backward_images, &g);
}

static void swing_release(zsq_fnode *n) {
  free(n->state);
  n->state = NULL;
}

const zsq_fop zsq_fop_swing = {.prepare = swing_prepare,
                               .forward = swing_forward,
                               .release = swing_release,
                               .backward = swing_backward,
                               .backward_writes = 1u};
