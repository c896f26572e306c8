/* op_elementwise.c — Relu, Clip, Identity and the broadcasting Add/Mul (layout-aware strides). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "float/ops.h"
#include "float/parallel.h"

/* Elements per task: big enough to amortise a pthreadpool dispatch. */
#define ZSQ_GRAIN 16384

void zsq_value_same_shape(zsq_value *out, const zsq_value *in) {
  out->rank = in->rank;
  memcpy(out->dims, in->dims, sizeof out->dims);
}

/* ---- unary ---------------------------------------------------------------------------- */

typedef struct clamp_state {
  float lo, hi;
} clamp_state;

static zsq_status unary_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  zsq_value_same_shape(n->out[0], n->in[0]);
  clamp_state *s = calloc(1, sizeof *s);
  if (s == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  n->state = s;
  const zsq_node *gn = n->node;
  s->lo = -INFINITY;
  s->hi = INFINITY;
  if (gn->op == ZSQ_OP_RELU) {
    s->lo = 0.0f;
  } else if (gn->op == ZSQ_OP_CLIP) {
    s->lo = gn->a.clip.min;
    s->hi = gn->a.clip.max;
    for (int k = 1; k < n->n_inputs && k < 3; k++) {
      const zsq_value *b = n->in[k];
      if (b == NULL) continue;
      if (b->numel != 1 || b->dtype != ZSQ_F32) {
        return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "the %s bound must be a float scalar",
                              k == 1 ? "min" : "max");
      }
      float v = ((const float *)b->data)[0];
      if (k == 1)
        s->lo = v;
      else
        s->hi = v;
    }
  }
  return ZSQ_OK;
}

static void clamp_range(void *ctx, size_t begin, size_t end) {
  const zsq_fnode *n = ctx;
  const clamp_state *s = n->state;
  const float *restrict x = n->in[0]->data;
  float *restrict y = n->out[0]->data;
  const float lo = s->lo, hi = s->hi;
  for (size_t i = begin; i < end; i++) {
    /* ONNX Clip: min first, then max (so min > max yields max). NaN propagates. */
    float v = x[i];
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    y[i] = v;
  }
}

static void clamp_forward(zsq_fnode *n, zsq_fplan *p) {
  zsq_parallel_for(p->threadpool, n->out[0]->numel, ZSQ_GRAIN, clamp_range, n);
}

static void identity_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  memcpy(n->out[0]->data, n->in[0]->data, n->out[0]->numel * sizeof(float));
}

static void release_state(zsq_fnode *n) {
  free(n->state);
  n->state = NULL;
}

/* d clamp(x)/dx = 1 strictly inside (lo, hi), else 0 (PyTorch's hardtanh/relu convention). */
typedef struct grad_ctx {
  const zsq_fnode *n;
  const float *gy;
  float *const *gx;
} grad_ctx;

static void clamp_backward_range(void *ctx, size_t begin, size_t end) {
  const grad_ctx *c = ctx;
  const clamp_state *s = c->n->state;
  const float *restrict x = c->n->in[0]->data;
  const float *gy = c->gy;
  float *restrict g = c->gx[0];
  const float lo = s->lo, hi = s->hi;
  const int write = c->n->grad_write & 1u;
  for (size_t i = begin; i < end; i++) {
    const float v = gy[i]; /* loaded unconditionally so the loop vectorises */
    g[i] = (write ? 0.0f : g[i]) + (((x[i] > lo) & (x[i] < hi)) ? v : 0.0f);
  }
}

static void clamp_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  if (gx[0] == NULL) return;
  grad_ctx c = {n, gy, gx};
  zsq_parallel_for(p->threadpool, n->out[0]->numel, ZSQ_GRAIN, clamp_backward_range, &c);
}

static void identity_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  (void)p;
  if (gx[0] == NULL) return;
  if (n->grad_write & 1u) {
    memcpy(gx[0], gy, n->out[0]->numel * sizeof(float));
    return;
  }
  for (size_t i = 0; i < n->out[0]->numel; i++) gx[0][i] += gy[i];
}

const zsq_fop zsq_fop_relu = {.prepare = unary_prepare,
                              .forward = clamp_forward,
                              .release = release_state,
                              .backward = clamp_backward,
                              .backward_writes = 1u};
const zsq_fop zsq_fop_clip = {.prepare = unary_prepare,
                              .forward = clamp_forward,
                              .release = release_state,
                              .backward = clamp_backward,
                              .caches_constants = 1,
                              .backward_writes = 1u};
const zsq_fop zsq_fop_identity = {.prepare = unary_prepare,
                                  .forward = identity_forward,
                                  .release = release_state,
                                  .backward = identity_backward,
                                  .backward_writes = 1u};

/* ---- binary with broadcasting ---------------------------------------------------------- */

typedef struct binary_state {
  int rank;                                   /* iteration rank (output rank) */
  int64_t dims[ZSQ_MAX_RANK];                 /* output dims in physical iteration order */
  int64_t sa[ZSQ_MAX_RANK], sb[ZSQ_MAX_RANK]; /* input strides in that order (0 = broadcast) */
  int same; /* both inputs have the output's shape and layout: one flat loop */
  float lo, hi;
} binary_state;

/* Element strides per logical axis for v's physical layout. */
static void logical_strides(const zsq_value *v, int64_t *st) {
  if (zsq_value_is_nhwc(v)) {
    int64_t c = v->dims[1], h = v->dims[2], w = v->dims[3];
    st[0] = h * w * c;
    st[1] = 1;
    st[2] = w * c;
    st[3] = c;
    return;
  }
  int64_t s = 1;
  for (int i = v->rank - 1; i >= 0; i--) {
    st[i] = s;
    s *= v->dims[i];
  }
}

static zsq_status binary_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *a = n->in[0], *b = n->in[1];
  zsq_value *y = n->out[0];
  int r = a->rank > b->rank ? a->rank : b->rank;
  y->rank = r;
  for (int i = 0; i < r; i++) {
    int ia = i - (r - a->rank), ib = i - (r - b->rank);
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT,
                            "shapes cannot broadcast (dim %d: %lld vs %lld)", i, (long long)da,
                            (long long)db);
    }
    y->dims[i] = da == 1 ? db : da;
  }
  binary_state *s = calloc(1, sizeof *s);
  if (s == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  n->state = s;
  s->lo = n->node->act_min;
  s->hi = n->node->act_max;
  int64_t la[ZSQ_MAX_RANK] = {0}, lb[ZSQ_MAX_RANK] = {0}, sta[ZSQ_MAX_RANK], stb[ZSQ_MAX_RANK];
  logical_strides(a, sta);
  logical_strides(b, stb);
  for (int i = 0; i < r; i++) {
    int ia = i - (r - a->rank), ib = i - (r - b->rank);
    la[i] = (ia >= 0 && a->dims[ia] != 1) ? sta[ia] : 0;
    lb[i] = (ib >= 0 && b->dims[ib] != 1) ? stb[ib] : 0;
  }
  static const int nhwc_perm[4] = {0, 2, 3, 1};
  int y_nhwc = r == 4;
  s->rank = r;
  for (int k = 0; k < r; k++) {
    int ax = y_nhwc ? nhwc_perm[k] : k;
    s->dims[k] = y->dims[ax];
    s->sa[k] = la[ax];
    s->sb[k] = lb[ax];
  }
  s->same = a->rank == r && b->rank == r && memcmp(a->dims, y->dims, (size_t)r * 8) == 0 &&
            memcmp(b->dims, y->dims, (size_t)r * 8) == 0;
  return ZSQ_OK;
}

/* Walks the output in physical order with each input's matching offset; calls f per element. */
#define BINARY_WALK(s, BODY)                                                      \
  do {                                                                            \
    const int r_ = (s)->rank;                                                     \
    int64_t idx_[ZSQ_MAX_RANK] = {0};                                             \
    const int64_t inner_ = r_ ? (s)->dims[r_ - 1] : 1;                            \
    const int64_t ia_ = r_ ? (s)->sa[r_ - 1] : 0, ib_ = r_ ? (s)->sb[r_ - 1] : 0; \
    size_t oa = 0, ob = 0, oy = 0;                                                \
    for (;;) {                                                                    \
      for (int64_t i_ = 0; i_ < inner_; i_++, oy++) {                             \
        const size_t ea = oa + (size_t)(i_ * ia_), eb = ob + (size_t)(i_ * ib_);  \
        BODY;                                                                     \
      }                                                                           \
      int k_ = r_ - 2;                                                            \
      for (; k_ >= 0; k_--) {                                                     \
        oa += (s)->sa[k_];                                                        \
        ob += (s)->sb[k_];                                                        \
        if (++idx_[k_] < (s)->dims[k_]) break;                                    \
        oa -= (s)->sa[k_] * (s)->dims[k_];                                        \
        ob -= (s)->sb[k_] * (s)->dims[k_];                                        \
        idx_[k_] = 0;                                                             \
      }                                                                           \
      if (k_ < 0) break;                                                          \
    }                                                                             \
  } while (0)

static inline float clampf(float v, float lo, float hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

static void add_same_range(void *ctx, size_t begin, size_t end) {
  const zsq_fnode *n = ctx;
  const binary_state *s = n->state;
  const float *restrict a = n->in[0]->data, *restrict b = n->in[1]->data;
  float *restrict y = n->out[0]->data;
  const float lo = s->lo, hi = s->hi;
  for (size_t i = begin; i < end; i++) y[i] = clampf(a[i] + b[i], lo, hi);
}

static void mul_same_range(void *ctx, size_t begin, size_t end) {
  const zsq_fnode *n = ctx;
  const binary_state *s = n->state;
  const float *restrict a = n->in[0]->data, *restrict b = n->in[1]->data;
  float *restrict y = n->out[0]->data;
  const float lo = s->lo, hi = s->hi;
  for (size_t i = begin; i < end; i++) y[i] = clampf(a[i] * b[i], lo, hi);
}

static void binary_run(zsq_fnode *n, int is_mul, pthreadpool_t tp) {
  const binary_state *s = n->state;
  const float *a = n->in[0]->data, *b = n->in[1]->data;
  float *y = n->out[0]->data;
  const float lo = s->lo, hi = s->hi;
  if (n->out[0]->numel == 0) return;
  if (s->same) {
    zsq_parallel_for(tp, n->out[0]->numel, ZSQ_GRAIN, is_mul ? mul_same_range : add_same_range, n);
    return;
  }
  BINARY_WALK(s, y[oy] = clampf(is_mul ? a[ea] * b[eb] : a[ea] + b[eb], lo, hi));
}

static void add_forward(zsq_fnode *n, zsq_fplan *p) {
  binary_run(n, 0, p->threadpool);
}

static void mul_forward(zsq_fnode *n, zsq_fplan *p) {
  binary_run(n, 1, p->threadpool);
}

/* Gradients reduce over broadcast dims (stride-0 offsets accumulate). A fused clamp passes the
 * gradient only where the output is strictly inside it. */
/* Same-shape Add/Mul backward (the residual adds of training graphs), masked by a fused clamp. */
typedef struct same_grad_ctx {
  const zsq_fnode *n;
  const float *gy;
  float *const *gx;
  int is_mul;
} same_grad_ctx;

/* g = gy masked by the fused clamp (unclamped: no mask); ga = or += g (Add) or g·b (Mul), gb
 * likewise. The loops run on restrict-qualified rows with the choices hoisted, so they
 * vectorise. */
static inline float masked(float gy, float y, float lo, float hi) {
  return ((y > lo) & (y < hi)) ? gy : 0.0f;
}

static void same_grad_one(const float *restrict gy, const float *restrict y,
                          const float *restrict other, float *restrict g, size_t len, float lo,
                          float hi, int write) {
  const int u = lo == -INFINITY && hi == INFINITY;
  for (size_t i = 0; i < len; i++) {
    const float v = (u ? gy[i] : masked(gy[i], y[i], lo, hi)) * (other ? other[i] : 1.0f);
    g[i] = write ? v : g[i] + v;
  }
}

/* Add with both gradients (the residual join): one pass for the two. */
static void add_grad_both(const float *restrict gy, const float *restrict y, float *restrict ga,
                          float *restrict gb, size_t len, float lo, float hi, unsigned write) {
  const int u = lo == -INFINITY && hi == INFINITY;
  for (size_t i = 0; i < len; i++) {
    const float v = u ? gy[i] : masked(gy[i], y[i], lo, hi);
    ga[i] = (write & 1u) ? v : ga[i] + v;
    gb[i] = (write & 2u) ? v : gb[i] + v;
  }
}

static void same_backward_range(void *ctx, size_t begin, size_t end) {
  const same_grad_ctx *c = ctx;
  const binary_state *s = c->n->state;
  const float *a = c->n->in[0]->data, *b = c->n->in[1]->data, *y = c->n->out[0]->data;
  const size_t len = end - begin;
  const unsigned w = c->n->grad_write;
  if (!c->is_mul && c->gx[0] && c->gx[1] && c->gx[0] != c->gx[1]) {
    add_grad_both(c->gy + begin, y + begin, c->gx[0] + begin, c->gx[1] + begin, len, s->lo, s->hi,
                  w);
    return;
  }
  if (c->gx[0]) {
    same_grad_one(c->gy + begin, y + begin, c->is_mul ? b + begin : NULL, c->gx[0] + begin, len,
                  s->lo, s->hi, (int)(w & 1u));
  }
  if (c->gx[1]) {
    same_grad_one(c->gy + begin, y + begin, c->is_mul ? a + begin : NULL, c->gx[1] + begin, len,
                  s->lo, s->hi, (int)((w >> 1) & 1u));
  }
}

static void binary_backward(zsq_fnode *n, int is_mul, const float *gy, float *const *gx,
                            pthreadpool_t tp) {
  const binary_state *s = n->state;
  const float *a = n->in[0]->data, *b = n->in[1]->data, *y = n->out[0]->data;
  float *ga = gx[0], *gb = gx[1];
  const float lo = s->lo, hi = s->hi;
  const int unclamped = lo == -INFINITY && hi == INFINITY;
  if (n->out[0]->numel == 0) return;
  if (s->same) {
    same_grad_ctx c = {n, gy, gx, is_mul};
    zsq_parallel_for(tp, n->out[0]->numel, ZSQ_GRAIN, same_backward_range, &c);
    return;
  }
  /* broadcast inputs accumulate over their stride-0 dims: clear a buffer to be written first */
  if (ga && (n->grad_write & 1u)) memset(ga, 0, n->in[0]->numel * sizeof(float));
  if (gb && (n->grad_write & 2u)) memset(gb, 0, n->in[1]->numel * sizeof(float));
  BINARY_WALK(s, {
    const float g = unclamped || (y[oy] > lo && y[oy] < hi) ? gy[oy] : 0.0f;
    if (ga) ga[ea] += is_mul ? g * b[eb] : g;
    if (gb) gb[eb] += is_mul ? g * a[ea] : g;
  });
}

static void add_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  binary_backward(n, 0, gy, gx, p->threadpool);
}

static void mul_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  binary_backward(n, 1, gy, gx, p->threadpool);
}

const zsq_fop zsq_fop_add = {.prepare = binary_prepare,
                             .forward = add_forward,
                             .release = release_state,
                             .backward = add_backward,
                             .backward_writes = 3u};
const zsq_fop zsq_fop_mul = {.prepare = binary_prepare,
                             .forward = mul_forward,
                             .release = release_state,
                             .backward = mul_backward,
                             .backward_writes = 3u};
