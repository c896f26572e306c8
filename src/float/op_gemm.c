/* op_gemm.c — Gemm (alpha·A'·B' + beta·C) and numpy-style MatMul (reference loops). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "float/ops.h"

/* C[m,n] += A[m,k] * B[k,n] with arbitrary element strides for A and B. */
static void gemm_acc(int64_t M, int64_t N, int64_t K, const float *a, int64_t a_rs, int64_t a_cs,
                     const float *b, int64_t b_rs, int64_t b_cs, float *c) {
  for (int64_t m = 0; m < M; m++) {
    float *crow = c + m * N;
    for (int64_t k = 0; k < K; k++) {
      const float av = a[m * a_rs + k * a_cs];
      const float *brow = b + k * b_rs;
      for (int64_t n = 0; n < N; n++) crow[n] += av * brow[n * b_cs];
    }
  }
}

/* ---- Gemm ------------------------------------------------------------------------------ */

static zsq_status gemm_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *a = n->in[0], *b = n->in[1], *c = n->n_inputs > 2 ? n->in[2] : NULL;
  if (a->rank != 2 || b->rank != 2) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "A and B must be 2-D (got ranks %d and %d)",
                          a->rank, b->rank);
  }
  const int ta = n->node->a.gemm.trans_a, tb = n->node->a.gemm.trans_b;
  int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
  int64_t Kb = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
  if (K != Kb) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "inner dimensions differ (%lld vs %lld)",
                          (long long)K, (long long)Kb);
  }
  if (c != NULL) {
    /* C must broadcast uni-directionally to [M, N]. */
    int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    if (c->rank > 2 || (cm != 1 && cm != M) || (cn != 1 && cn != N)) {
      return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "C does not broadcast to [%lld, %lld]",
                            (long long)M, (long long)N);
    }
  }
  zsq_value *y = n->out[0];
  y->rank = 2;
  y->dims[0] = M;
  y->dims[1] = N;
  return ZSQ_OK;
}

static void gemm_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  const zsq_value *a = n->in[0], *b = n->in[1], *c = n->n_inputs > 2 ? n->in[2] : NULL;
  const int ta = n->node->a.gemm.trans_a, tb = n->node->a.gemm.trans_b;
  const float alpha = n->node->a.gemm.alpha, beta = n->node->a.gemm.beta;
  const int64_t M = n->out[0]->dims[0], N = n->out[0]->dims[1], K = ta ? a->dims[0] : a->dims[1];
  float *y = n->out[0]->data;
  memset(y, 0, (size_t)(M * N) * sizeof(float));
  gemm_acc(M, N, K, a->data, ta ? 1 : K, ta ? M : 1, b->data, tb ? 1 : N, tb ? K : 1, y);
  const float *cv = c ? c->data : NULL;
  int64_t cm = 1, cn = 1;
  if (c != NULL) {
    cm = c->rank == 2 ? c->dims[0] : 1;
    cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
  }
  for (int64_t m = 0; m < M; m++) {
    for (int64_t j = 0; j < N; j++) {
      float v = alpha * y[m * N + j];
      if (cv) v += beta * cv[(cm == 1 ? 0 : m) * cn + (cn == 1 ? 0 : j)];
      float lo = n->node->act_min, hi = n->node->act_max;
      v = v < lo ? lo : v;
      y[m * N + j] = v > hi ? hi : v;
    }
  }
}

/* With G = alpha * mask(dY): dA' = G·B'ᵀ, dB' = A'ᵀ·G, dC = beta · (dY reduced to C's shape). */
static void gemm_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  (void)p;
  const zsq_value *a = n->in[0], *b = n->in[1], *c = n->n_inputs > 2 ? n->in[2] : NULL;
  const int ta = n->node->a.gemm.trans_a, tb = n->node->a.gemm.trans_b;
  const float alpha = n->node->a.gemm.alpha, beta = n->node->a.gemm.beta;
  const float lo = n->node->act_min, hi = n->node->act_max;
  const int64_t M = n->out[0]->dims[0], N = n->out[0]->dims[1], K = ta ? a->dims[0] : a->dims[1];
  const float *av = a->data, *bv = b->data, *y = n->out[0]->data;
  for (int64_t m = 0; m < M; m++) {
    for (int64_t j = 0; j < N; j++) {
      const float yv = y[m * N + j];
      const float gd =
          (lo == -INFINITY && hi == INFINITY) || (yv > lo && yv < hi) ? gy[m * N + j] : 0.0f;
      if (gd == 0.0f) continue;
      const float g = alpha * gd;
      for (int64_t k = 0; k < K; k++) {
        const int64_t ai = ta ? k * M + m : m * K + k, bi = tb ? j * K + k : k * N + j;
        if (gx[0]) gx[0][ai] += g * bv[bi];
        if (gx[1]) gx[1][bi] += g * av[ai];
      }
      if (c != NULL && gx[2] != NULL) {
        const int64_t cm = c->rank == 2 ? c->dims[0] : 1,
                      cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        gx[2][(cm == 1 ? 0 : m) * cn + (cn == 1 ? 0 : j)] += beta * gd;
      }
    }
  }
}

const zsq_fop zsq_fop_gemm = {
    .prepare = gemm_prepare, .forward = gemm_forward, .backward = gemm_backward};

/* ---- MatMul ---------------------------------------------------------------------------- */

typedef struct matmul_state {
  float *a, *b, *y; /* logical-order copies when a value is stored NHWC */
  float *ga, *gb;   /* logical-order input gradients (backward) */
} matmul_state;

static zsq_status matmul_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *a = n->in[0], *b = n->in[1];
  if (a->rank < 1 || b->rank < 1)
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "inputs must have rank >= 1");
  int64_t ad[ZSQ_MAX_RANK], bd[ZSQ_MAX_RANK];
  int ar = a->rank, br = b->rank;
  memcpy(ad, a->dims, sizeof ad);
  memcpy(bd, b->dims, sizeof bd);
  if (ar == 1) { /* [K] -> [1, K] */
    ad[1] = ad[0];
    ad[0] = 1;
    ar = 2;
  }
  if (br == 1) { /* [K] -> [K, 1] */
    bd[1] = 1;
    br = 2;
  }
  if (ad[ar - 1] != bd[br - 2]) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "inner dimensions differ (%lld vs %lld)",
                          (long long)ad[ar - 1], (long long)bd[br - 2]);
  }
  int r = ar > br ? ar : br;
  zsq_value *y = n->out[0];
  int yr = 0;
  for (int i = 0; i < r - 2; i++) {
    int ia = i - (r - ar), ib = i - (r - br);
    int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "batch dims cannot broadcast");
    y->dims[yr++] = da == 1 ? db : da;
  }
  if (a->rank > 1) y->dims[yr++] = ad[ar - 2];
  if (b->rank > 1) y->dims[yr++] = bd[br - 1];
  y->rank = yr;
  matmul_state *s = calloc(1, sizeof *s);
  if (s == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  n->state = s;
  size_t an = (size_t)zsq_dims_product(a->dims, a->rank),
         bn = (size_t)zsq_dims_product(b->dims, b->rank);
  size_t yn = (size_t)zsq_dims_product(y->dims, y->rank);
  s->a = zsq_aligned_alloc(an * 4);
  s->b = zsq_aligned_alloc(bn * 4);
  s->y = zsq_aligned_alloc(yn * 4);
  s->ga = zsq_aligned_alloc(an * 4);
  s->gb = zsq_aligned_alloc(bn * 4);
  if (!s->a || !s->b || !s->y || !s->ga || !s->gb)
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  return ZSQ_OK;
}

/* Batch geometry: output batch dims and each input's batch stride (0 where broadcast). */
typedef struct mm_batch {
  int r;
  int64_t M, N, K, batches;
  int64_t dims[ZSQ_MAX_RANK], sa[ZSQ_MAX_RANK], sb[ZSQ_MAX_RANK];
} mm_batch;

static mm_batch mm_geometry(const zsq_value *av, const zsq_value *bv) {
  mm_batch g;
  g.K = av->dims[av->rank - 1];
  g.M = av->rank > 1 ? av->dims[av->rank - 2] : 1;
  g.N = bv->rank > 1 ? bv->dims[bv->rank - 1] : 1;
  int ab = av->rank > 2 ? av->rank - 2 : 0, bb = bv->rank > 2 ? bv->rank - 2 : 0;
  g.r = ab > bb ? ab : bb;
  int64_t st_a = g.M * g.K, st_b = g.K * g.N;
  for (int i = g.r - 1; i >= 0; i--) {
    int ia = i - (g.r - ab), ib = i - (g.r - bb);
    int64_t da = ia >= 0 ? av->dims[ia] : 1, db = ib >= 0 ? bv->dims[ib] : 1;
    g.dims[i] = da == 1 ? db : da;
    g.sa[i] = da == 1 ? 0 : st_a;
    g.sb[i] = db == 1 ? 0 : st_b;
    st_a *= da;
    st_b *= db;
  }
  g.batches = zsq_dims_product(g.dims, g.r);
  return g;
}

/* Offsets of batch t's A and B matrices. */
static void mm_offsets(const mm_batch *g, int64_t t, int64_t *oa, int64_t *ob) {
  *oa = *ob = 0;
  for (int i = g->r - 1; i >= 0; i--) {
    const int64_t idx = t % g->dims[i];
    t /= g->dims[i];
    *oa += idx * g->sa[i];
    *ob += idx * g->sb[i];
  }
}

static void matmul_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  matmul_state *s = n->state;
  const mm_batch g = mm_geometry(n->in[0], n->in[1]);
  zsq_value_to_logical(n->in[0], s->a);
  zsq_value_to_logical(n->in[1], s->b);
  memset(s->y, 0, n->out[0]->numel * sizeof(float));
  for (int64_t t = 0; t < g.batches; t++) {
    int64_t oa, ob;
    mm_offsets(&g, t, &oa, &ob);
    gemm_acc(g.M, g.N, g.K, s->a + oa, g.K, 1, s->b + ob, g.N, 1, s->y + t * g.M * g.N);
  }
  zsq_value_from_logical(n->out[0], s->y);
}

/* dA = dY·Bᵀ and dB = Aᵀ·dY per batch, summed over broadcast batches (logical scratch). */
static void matmul_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  (void)p;
  matmul_state *s = n->state;
  const mm_batch g = mm_geometry(n->in[0], n->in[1]);
  zsq_value_to_logical(n->in[0], s->a);
  zsq_value_to_logical(n->in[1], s->b);
  zsq_layout_to_logical(n->out[0], gy, s->y);
  float *ga = s->ga, *gb = s->gb;
  memset(ga, 0, n->in[0]->numel * sizeof(float));
  memset(gb, 0, n->in[1]->numel * sizeof(float));
  for (int64_t t = 0; t < g.batches; t++) {
    int64_t oa, ob;
    mm_offsets(&g, t, &oa, &ob);
    const float *gyt = s->y + t * g.M * g.N;
    gemm_acc(g.M, g.K, g.N, gyt, g.N, 1, s->b + ob, 1, g.N, ga + oa);
    gemm_acc(g.K, g.N, g.M, s->a + oa, 1, g.K, gyt, g.N, 1, gb + ob);
  }
  if (gx[0]) zsq_layout_add_logical(n->in[0], gx[0], ga);
  if (gx[1]) zsq_layout_add_logical(n->in[1], gx[1], gb);
}

static void matmul_release(zsq_fnode *n) {
  matmul_state *s = n->state;
  if (s == NULL) return;
  zsq_aligned_free(s->a);
  zsq_aligned_free(s->b);
  zsq_aligned_free(s->y);
  zsq_aligned_free(s->ga);
  zsq_aligned_free(s->gb);
  free(s);
  n->state = NULL;
}

const zsq_fop zsq_fop_matmul = {.prepare = matmul_prepare,
                                .forward = matmul_forward,
                                .release = matmul_release,
                                .backward = matmul_backward};
