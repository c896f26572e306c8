/* op_fakequant.c — simulated per-tensor activation quantization (zsq.FakeQuant): the codes the
 * integer runtime stores, dequantized; optional per-channel AQuant rounding borders (inputs 1
 * and 2: a_c, b_c of B(t) = a_c + b_c·t, docs/kernels.md); QDrop's random drop for
 * reconstruction; straight-through gradients. */
#include <math.h>
#include <stdlib.h>

#include "float/fakequant.h"
#include "float/ops.h"
#include "float/parallel.h"

typedef struct fq_state {
  int64_t channels, inner; /* channel of element i: (i / inner) % channels (NHWC: inner 1) */
  float *mult, *offset;    /* per channel, with borders: (1 − b)/s and (1 − b)·z + 1 − a */
  float drop;              /* QDrop: probability of skipping quantization, 0 = off */
  uint32_t drop_below;     /* an element drops when its 24-bit hash is below this */
  uint64_t seed, draw;     /* the draw of the last forward */
  const float *fallback;
} fq_state;

static int has_borders(const zsq_fnode *n) {
  return n->n_inputs >= 3 && n->in[1] != NULL && n->in[2] != NULL;
}

/* Per-channel multiplier and offset from the border constants; refuses borders outside (0, 1]. */
static zsq_status fq_refresh(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  fq_state *s = n->state;
  if (!has_borders(n)) return ZSQ_OK;
  const zsq_node *nd = n->node;
  const float *a = n->in[1]->data, *b = n->in[2]->data;
  for (int64_t c = 0; c < s->channels; c++) {
    if (!zsq_border_valid(a[c], b[c], nd->a.fq.qmin, nd->a.fq.qmax)) {
      return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT,
                            "rounding border of channel %lld leaves (0, 1] on the code range",
                            (long long)c);
    }
    s->mult[c] = (1.0f - b[c]) * nd->a.fq.inv_scale;
    s->offset[c] = (1.0f - b[c]) * nd->a.fq.zero_point + 1.0f - a[c];
  }
  return ZSQ_OK;
}

static zsq_status fq_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  const zsq_value *x = n->in[0];
  zsq_value_same_shape(n->out[0], x);
  fq_state *s = calloc(1, sizeof *s);
  if (s == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  n->state = s;
  s->channels = 1;
  s->inner = 1;
  if (n->n_inputs == 2 || n->n_inputs > 3 || (n->n_inputs == 3 && !has_borders(n))) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "expects 1 input, or 3 with rounding borders");
  }
  if (!has_borders(n)) return ZSQ_OK;
  if (x->rank < 2) return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "borders need a channel axis");
  s->channels = x->dims[1];
  for (int d = 2; !zsq_value_is_nhwc(x) && d < x->rank; d++) s->inner *= x->dims[d];
  for (int k = 1; k < 3; k++) {
    if (!n->in[k]->is_const || n->in[k]->dtype != ZSQ_F32 || n->in[k]->rank != 1 ||
        n->in[k]->dims[0] != s->channels) {
      return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT,
                            "borders must be float constants of one value per channel");
    }
  }
  s->mult = malloc((size_t)s->channels * sizeof(float));
  s->offset = malloc((size_t)s->channels * sizeof(float));
  if (s->mult == NULL || s->offset == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  return fq_refresh(n, p, err);
}

static void fq_release(zsq_fnode *n) {
  fq_state *s = n->state;
  if (s != NULL) free(s->mult), free(s->offset);
  free(s);
  n->state = NULL;
}

void zsq_fakequant_set_drop(zsq_fnode *n, float p, uint64_t seed, const float *fallback) {
  fq_state *s = n->state;
  s->drop = p;
  s->drop_below = (uint32_t)(p * 16777216.0f);
  s->seed = seed;
  s->fallback = fallback;
}

/* Whether element i skips quantization in draw `draw` (splitmix64 of seed, draw and i). */
static int dropped(const fq_state *s, uint64_t draw, size_t i) {
  uint64_t z = s->seed + draw * 0x9e3779b97f4a7c15ULL + (uint64_t)i * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (uint32_t)(z >> 40) < s->drop_below;
}

/* Walks the channel of consecutive elements without a division per element. */
typedef struct chan_iter {
  size_t c, k, inner, channels;
} chan_iter;

static chan_iter chan_at(const fq_state *s, size_t i) {
  const size_t inner = (size_t)s->inner, channels = (size_t)s->channels;
  return (chan_iter){(i / inner) % channels, i % inner, inner, channels};
}

static void chan_next(chan_iter *it) {
  if (++it->k < it->inner) return;
  it->k = 0;
  if (++it->c == it->channels) it->c = 0;
}

static void fq_range(void *ctx, size_t begin, size_t end) {
  const zsq_fnode *n = ctx;
  const fq_state *st = n->state;
  const float inv = n->node->a.fq.inv_scale, s = n->node->a.fq.scale, zp = n->node->a.fq.zero_point;
  const float lo = n->node->a.fq.qmin, hi = n->node->a.fq.qmax;
  const float *restrict x = n->in[0]->data;
  float *restrict y = n->out[0]->data;
  if (st->mult != NULL) {
    chan_iter it = chan_at(st, begin);
    for (size_t i = begin; i < end; i++, chan_next(&it)) {
      float v = fmaf(x[i], st->mult[it.c], st->offset[it.c]);
      v = v < lo ? lo : (v > hi ? hi : v);
      y[i] = (floorf(v) - zp) * s;
    }
  } else {
    for (size_t i = begin; i < end; i++) {
      float v = x[i] * inv + zp + 0.5f;
      v = v < lo ? lo : v;
      v = v > hi + 0.5f ? hi + 0.5f : v; /* clamp in float, then floor (docs/kernels.md) */
      y[i] = (floorf(v) - zp) * s;
    }
  }
  if (st->drop <= 0.0f) return;
  for (size_t i = begin; i < end; i++) {
    if (dropped(st, st->draw, i)) y[i] = st->fallback ? st->fallback[i] : x[i];
  }
}

static void fq_forward(zsq_fnode *n, zsq_fplan *p) {
  fq_state *s = n->state;
  if (s->drop > 0.0f) s->draw++;
  zsq_parallel_for(p->threadpool, n->out[0]->numel, 16384, fq_range, n);
}

typedef struct fq_grad {
  const zsq_fnode *n;
  const float *gy;
  float *gx;
} fq_grad;

/* The code of element i (of channel c) before clamping and floor: with borders, or t + 1/2 for
 * nearest. */
static float fq_code(const zsq_fnode *n, size_t i, size_t c) {
  const fq_state *s = n->state;
  const float x = ((const float *)n->in[0]->data)[i];
  return s->mult ? fmaf(x, s->mult[c], s->offset[c])
                 : x * n->node->a.fq.inv_scale + n->node->a.fq.zero_point + 0.5f;
}

/* Whether element i (of channel c) is inside the straight-through range qmin <= v < qmax + 1. */
static int fq_passes(const zsq_fnode *n, size_t i, size_t c) {
  const float v = fq_code(n, i, c);
  return v >= n->node->a.fq.qmin && v < n->node->a.fq.qmax + 1.0f;
}

/* Straight-through: dy/dx = 1 − b_c (1 for nearest) where the code is inside the range; a
 * dropped element passes its gradient unchanged (to its own input, none to a fallback). */
static void fq_backward_range(void *ctx, size_t begin, size_t end) {
  const fq_grad *c = ctx;
  const zsq_fnode *n = c->n;
  const fq_state *s = n->state;
  const float *b = has_borders(n) ? n->in[2]->data : NULL;
  chan_iter it = chan_at(s, begin);
  for (size_t i = begin; i < end; i++, chan_next(&it)) {
    const float g = c->gy[i];
    if (s->drop > 0.0f && dropped(s, s->draw, i)) {
      c->gx[i] += s->fallback ? 0.0f : g;
    } else if (fq_passes(n, i, it.c)) {
      c->gx[i] += b ? g * (1.0f - b[it.c]) : g;
    }
  }
}

zsq_status zsq_fakequant_set_step(zsq_fnode *n, zsq_node *gn, float s, zsq_fplan *p, zsq_err *err) {
  if (n->node != gn || gn->op != ZSQ_OP_FAKEQUANT || !(s > 0.0f))
    return zsq_fail(err, ZSQ_ERR_INTERNAL, "invalid step for FakeQuant '%s'", gn->name);
  gn->a.fq.scale = s;
  gn->a.fq.inv_scale = 1.0f / s;
  return fq_refresh(n, p, err);
}

double zsq_fakequant_step_grad(const zsq_fnode *n, const float *gy) {
  const fq_state *s = n->state;
  const float *x = n->in[0]->data, *b = has_borders(n) ? n->in[2]->data : NULL;
  const float inv = n->node->a.fq.inv_scale, zp = n->node->a.fq.zero_point;
  const float lo = n->node->a.fq.qmin, hi = n->node->a.fq.qmax;
  double sum = 0.0;
  chan_iter it = chan_at(s, 0);
  for (size_t i = 0; i < n->out[0]->numel; i++, chan_next(&it)) {
    if (s->drop > 0.0f && dropped(s, s->draw, i)) continue;
    const float v = fq_code(n, i, it.c);
    if (v < lo) {
      sum += (double)gy[i] * (lo - zp);
    } else if (v >= hi + 1.0f) {
      sum += (double)gy[i] * (hi - zp);
    } else {
      const float q = floorf(v > hi ? hi : v);
      sum += (double)gy[i] * (q - zp - (b ? 1.0f - b[it.c] : 1.0f) * x[i] * inv);
    }
  }
  return sum;
}

typedef struct fq_border_grad {
  const zsq_fnode *n;
  const float *gy;
  float *ga, *gb;
} fq_border_grad;

/* Border gradients of channels [c0, c1), straight through the floor: dy/da = −s, dy/db = −s·t,
 * t = x/s + z, where the border decides the code: qmin < t < qmax (a value on or beyond an end
 * of the grid, such as ReLU's 0, keeps its code whatever the border). One task per channel
 * range: no two tasks add to the same sum. */
static void fq_border_range(void *ctx, size_t c0, size_t c1) {
  const fq_border_grad *g = ctx;
  const zsq_fnode *n = g->n;
  const fq_state *s = n->state;
  const float *x = n->in[0]->data, sc = n->node->a.fq.scale, inv = n->node->a.fq.inv_scale;
  const size_t inner = (size_t)s->inner, run = (size_t)s->channels * inner;
  for (size_t c = c0; c < c1; c++) {
    double sa = 0.0, sb = 0.0;
    for (size_t row = 0; row < n->out[0]->numel; row += run) {
      for (size_t i = row + c * inner; i < row + (c + 1) * inner; i++) {
        const float t = x[i] * inv + n->node->a.fq.zero_point;
        if (!(t > n->node->a.fq.qmin && t < n->node->a.fq.qmax)) continue;
        if (s->drop > 0.0f && dropped(s, s->draw, i)) continue;
        sa += g->gy[i];
        sb += (double)g->gy[i] * t;
      }
    }
    if (g->ga) g->ga[c] -= (float)(sc * sa);
    if (g->gb) g->gb[c] -= (float)(sc * sb);
  }
}

static void fq_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  if (gx[0] != NULL) {
    fq_grad c = {n, gy, gx[0]};
    zsq_parallel_for(p->threadpool, n->out[0]->numel, 16384, fq_backward_range, &c);
  }
  if (has_borders(n) && (gx[1] != NULL || gx[2] != NULL)) {
    const fq_state *s = n->state;
    fq_border_grad g = {n, gy, gx[1], gx[2]};
    zsq_parallel_for(p->threadpool, (size_t)s->channels, 1, fq_border_range, &g);
  }
}

const zsq_fop zsq_fop_fakequant = {.prepare = fq_prepare,
                                   .forward = fq_forward,
                                   .release = fq_release,
                                   .backward = fq_backward,
                                   .refresh = fq_refresh,
                                   .caches_constants = 1};
