/* op_pool.c — MaxPool, AveragePool and GlobalAveragePool over NHWC (reference loops). */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "float/layout.h"
#include "float/ops.h"

typedef struct pool_state {
  zsq_geom g;
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
  zsq_value *y = n->out[0];
  y->rank = 4;
  y->dims[0] = x->dims[0];
  y->dims[1] = x->dims[1];
  y->dims[2] = s->g.out_h;
  y->dims[3] = s->g.out_w;
  return ZSQ_OK;
}

static void pool_run(zsq_fnode *n, int is_max) {
  const pool_state *s = n->state;
  const zsq_geom *g = &s->g;
  const int64_t N = n->in[0]->dims[0], C = n->in[0]->dims[1];
  const float *x = n->in[0]->data;
  float *y = n->out[0]->data;
  const int include_pad = n->node->a.pool.count_include_pad;
  for (int64_t b = 0; b < N; b++) {
    for (int64_t oh = 0; oh < g->out_h; oh++) {
      for (int64_t ow = 0; ow < g->out_w; ow++) {
        float *out = y + ((b * g->out_h + oh) * g->out_w + ow) * C;
        for (int64_t c = 0; c < C; c++) out[c] = is_max ? -INFINITY : 0.0f;
        int64_t valid = 0, padded = 0;
        for (int64_t i = 0; i < g->kh; i++) {
          int64_t ih = oh * g->sh - g->pad_top + i * g->dh;
          if (ih >= -g->pad_top && ih < g->in_h + g->pad_bottom) {
            for (int64_t j = 0; j < g->kw; j++) {
              int64_t iw = ow * g->sw - g->pad_left + j * g->dw;
              if (iw < -g->pad_left || iw >= g->in_w + g->pad_right) continue;
              padded++;
              if (ih < 0 || ih >= g->in_h || iw < 0 || iw >= g->in_w) continue;
              valid++;
              const float *in = x + ((b * g->in_h + ih) * g->in_w + iw) * C;
              if (is_max) {
                for (int64_t c = 0; c < C; c++) out[c] = in[c] > out[c] ? in[c] : out[c];
              } else {
                for (int64_t c = 0; c < C; c++) out[c] += in[c];
              }
            }
          }
        }
        if (!is_max) {
          int64_t cnt = include_pad ? padded : valid;
          float inv = cnt > 0 ? 1.0f / (float)cnt : 0.0f;
          for (int64_t c = 0; c < C; c++) out[c] *= inv;
        }
      }
    }
  }
}

static void maxpool_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  pool_run(n, 1);
}

static void avgpool_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  pool_run(n, 0);
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

static void pool_release(zsq_fnode *n) {
  free(n->state);
  n->state = NULL;
}

const zsq_fop zsq_fop_maxpool = {pool_prepare, NULL, maxpool_forward, pool_release};
const zsq_fop zsq_fop_avgpool = {pool_prepare, NULL, avgpool_forward, pool_release};
const zsq_fop zsq_fop_globalavgpool = {gap_prepare, NULL, gap_forward, NULL};
