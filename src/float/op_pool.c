/* op_pool.c — MaxPool, AveragePool and GlobalAveragePool over NHWC (reference loops). */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "float/layout.h"
#include "float/ops.h"

typedef struct pool_state {
  zsq_geom g;
  int64_t *offs; /* scratch: input offsets of one window (kh * kw) */
} pool_state;

static zsq_status pool_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *x = n->in[0];
  if (x->rank != 4) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_UNSUPPORTED,
                          "only 2-D pooling (rank-4 input) is supported; got rank %d", x->rank);
  }
  pool_state *s = calloc(1, sizeof *s);
  if (s == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  n->state = s;
  const zsq_window *w = &n->node->a.pool.win;
  if (!zsq_window_resolve(w, x->dims[2], x->dims[3], w->kernel[0], w->kernel[1],
                          n->node->a.pool.ceil_mode, &s->g)) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "the window does not fit the %lldx%lld input",
                          (long long)x->dims[2], (long long)x->dims[3]);
  }
  s->offs = malloc((size_t)(w->kernel[0] * w->kernel[1]) * sizeof(int64_t));
  if (s->offs == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  zsq_value *y = n->out[0];
  y->rank = 4;
  y->dims[0] = x->dims[0];
  y->dims[1] = x->dims[1];
  y->dims[2] = s->g.out_h;
  y->dims[3] = s->g.out_w;
  return ZSQ_OK;
}

/* Visits each output pixel's window: BODY sees `out` (the output pixel, C values), `in` (one
 * input pixel inside the image), `cnt` (the divisor the average uses) after the window is done. */
typedef void (*window_fn)(void *ctx, int64_t out_off, const int64_t *in_offs, int64_t n_in,
                          int64_t cnt);

static void pool_walk(const zsq_fnode *n, window_fn fn, void *ctx) {
  const pool_state *s = n->state;
  const zsq_geom *g = &s->g;
  const int64_t N = n->in[0]->dims[0], C = n->in[0]->dims[1];
  const int include_pad = n->node->a.pool.count_include_pad;
  int64_t *offs = s->offs;
  for (int64_t b = 0; b < N; b++) {
    for (int64_t oh = 0; oh < g->out_h; oh++) {
      for (int64_t ow = 0; ow < g->out_w; ow++) {
        int64_t valid = 0, padded = 0;
        for (int64_t i = 0; i < g->kh; i++) {
          int64_t ih = oh * g->sh - g->pad_top + i * g->dh;
          if (ih < -g->pad_top || ih >= g->in_h + g->pad_bottom) continue;
          for (int64_t j = 0; j < g->kw; j++) {
            int64_t iw = ow * g->sw - g->pad_left + j * g->dw;
            if (iw < -g->pad_left || iw >= g->in_w + g->pad_right) continue;
            padded++;
            if (ih < 0 || ih >= g->in_h || iw < 0 || iw >= g->in_w) continue;
            offs[valid++] = ((b * g->in_h + ih) * g->in_w + iw) * C;
          }
        }
        fn(ctx, ((b * g->out_h + oh) * g->out_w + ow) * C, offs, valid,
           include_pad ? padded : valid);
      }
    }
  }
}

typedef struct pool_ctx {
  const float *x, *gy;
  float *y, *gx;
  int64_t C;
} pool_ctx;

static void max_window(void *vc, int64_t out, const int64_t *in, int64_t n_in, int64_t cnt) {
  (void)cnt;
  pool_ctx *c = vc;
  for (int64_t ch = 0; ch < c->C; ch++) {
    float m = -INFINITY;
    for (int64_t k = 0; k < n_in; k++) m = c->x[in[k] + ch] > m ? c->x[in[k] + ch] : m;
    c->y[out + ch] = m;
  }
}

static void avg_window(void *vc, int64_t out, const int64_t *in, int64_t n_in, int64_t cnt) {
  pool_ctx *c = vc;
  const float inv = cnt > 0 ? 1.0f / (float)cnt : 0.0f;
  for (int64_t ch = 0; ch < c->C; ch++) {
    float sum = 0.0f;
    for (int64_t k = 0; k < n_in; k++) sum += c->x[in[k] + ch];
    c->y[out + ch] = sum * inv;
  }
}

/* The gradient goes to the first maximum of the window (PyTorch's choice on ties). */
static void max_window_grad(void *vc, int64_t out, const int64_t *in, int64_t n_in, int64_t cnt) {
  (void)cnt;
  pool_ctx *c = vc;
  for (int64_t ch = 0; ch < c->C; ch++) {
    int64_t best = -1;
    for (int64_t k = 0; k < n_in; k++) {
      if (best < 0 || c->x[in[k] + ch] > c->x[best + ch]) best = in[k];
    }
    if (best >= 0) c->gx[best + ch] += c->gy[out + ch];
  }
}

static void avg_window_grad(void *vc, int64_t out, const int64_t *in, int64_t n_in, int64_t cnt) {
  pool_ctx *c = vc;
  const float inv = cnt > 0 ? 1.0f / (float)cnt : 0.0f;
  for (int64_t ch = 0; ch < c->C; ch++) {
    const float g = c->gy[out + ch] * inv;
    for (int64_t k = 0; k < n_in; k++) c->gx[in[k] + ch] += g;
  }
}

static pool_ctx make_ctx(zsq_fnode *n, const float *gy, float *gx) {
  pool_ctx c = {n->in[0]->data, gy, n->out[0]->data, gx, n->in[0]->dims[1]};
  return c;
}

static void maxpool_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  pool_ctx c = make_ctx(n, NULL, NULL);
  pool_walk(n, max_window, &c);
}

static void avgpool_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  pool_ctx c = make_ctx(n, NULL, NULL);
  pool_walk(n, avg_window, &c);
}

static void maxpool_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  (void)p;
  pool_ctx c = make_ctx(n, gy, gx[0]);
  if (c.gx) pool_walk(n, max_window_grad, &c);
}

static void avgpool_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  (void)p;
  pool_ctx c = make_ctx(n, gy, gx[0]);
  if (c.gx) pool_walk(n, avg_window_grad, &c);
}

static zsq_status gap_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *x = n->in[0];
  if (x->rank != 4) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_UNSUPPORTED,
                          "only rank-4 input is supported; got rank %d", x->rank);
  }
  zsq_value *y = n->out[0];
  y->rank = 4;
  y->dims[0] = x->dims[0];
  y->dims[1] = x->dims[1];
  y->dims[2] = y->dims[3] = 1;
  return ZSQ_OK;
}

static void gap_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  const zsq_value *xv = n->in[0];
  const int64_t N = xv->dims[0], C = xv->dims[1], HW = xv->dims[2] * xv->dims[3];
  const float *x = xv->data;
  float *y = n->out[0]->data;
  for (int64_t b = 0; b < N; b++) {
    float *out = y + b * C;
    for (int64_t c = 0; c < C; c++) out[c] = 0.0f;
    for (int64_t i = 0; i < HW; i++) {
      const float *in = x + (b * HW + i) * C;
      for (int64_t c = 0; c < C; c++) out[c] += in[c];
    }
    const float inv = 1.0f / (float)HW;
    for (int64_t c = 0; c < C; c++) out[c] *= inv;
  }
}

static void gap_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  (void)p;
  const zsq_value *xv = n->in[0];
  const int64_t N = xv->dims[0], C = xv->dims[1], HW = xv->dims[2] * xv->dims[3];
  float *g = gx[0];
  if (g == NULL) return;
  const float inv = 1.0f / (float)HW;
  for (int64_t b = 0; b < N; b++) {
    for (int64_t i = 0; i < HW; i++) {
      for (int64_t c = 0; c < C; c++) g[(b * HW + i) * C + c] += gy[b * C + c] * inv;
    }
  }
}

static void pool_release(zsq_fnode *n) {
  pool_state *s = n->state;
  if (s) free(s->offs);
  free(n->state);
  n->state = NULL;
}

const zsq_fop zsq_fop_maxpool = {.prepare = pool_prepare,
                                 .forward = maxpool_forward,
                                 .release = pool_release,
                                 .backward = maxpool_backward};
const zsq_fop zsq_fop_avgpool = {.prepare = pool_prepare,
                                 .forward = avgpool_forward,
                                 .release = pool_release,
                                 .backward = avgpool_backward};
const zsq_fop zsq_fop_globalavgpool = {
    .prepare = gap_prepare, .forward = gap_forward, .backward = gap_backward};
