/* op_gemm.c — Gemm (alpha·A'·B' + beta·C) and numpy-style MatMul (reference loops). */
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

const zsq_fop zsq_fop_gemm = {gemm_prepare, NULL, gemm_forward, NULL};

/* ---- MatMul ---------------------------------------------------------------------------- */

typedef struct matmul_state {
  float *a, *b, *y; /* logical-order copies when a value is stored NHWC */
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
  if (!s->a || !s->b || !s->y) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  return ZSQ_OK;
}

static void matmul_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  matmul_state *s = n->state;
  const zsq_value *av = n->in[0], *bv = n->in[1];
  zsq_value *yv = n->out[0];
  zsq_value_to_logical(av, s->a);
  zsq_value_to_logical(bv, s->b);
  const int64_t K = av->dims[av->rank - 1];
  const int64_t M = av->rank > 1 ? av->dims[av->rank - 2] : 1;
  const int64_t N = bv->rank > 1 ? bv->dims[bv->rank - 1] : 1;
  /* Batch dims of the output, and each input's batch strides (0 where broadcast). */
  int ab = av->rank > 2 ? av->rank - 2 : 0, bb = bv->rank > 2 ? bv->rank - 2 : 0;
  int r = ab > bb ? ab : bb;
  int64_t dims[ZSQ_MAX_RANK], sa[ZSQ_MAX_RANK], sb[ZSQ_MAX_RANK];
  int64_t st_a = M * K, st_b = K * N;
  for (int i = r - 1; i >= 0; i--) {
    int ia = i - (r - ab), ib = i - (r - bb);
    int64_t da = ia >= 0 ? av->dims[ia] : 1, db = ib >= 0 ? bv->dims[ib] : 1;
    dims[i] = da == 1 ? db : da;
    sa[i] = da == 1 ? 0 : st_a;
    sb[i] = db == 1 ? 0 : st_b;
    st_a *= da;
    st_b *= db;
  }
  int64_t batches = zsq_dims_product(dims, r);
  memset(s->y, 0, yv->numel * sizeof(float));
  int64_t idx[ZSQ_MAX_RANK] = {0};
  for (int64_t t = 0; t < batches; t++) {
    int64_t oa = 0, ob = 0;
    for (int i = 0; i < r; i++) {
      oa += idx[i] * sa[i];
      ob += idx[i] * sb[i];
    }
    gemm_acc(M, N, K, s->a + oa, K, 1, s->b + ob, N, 1, s->y + t * M * N);
    for (int i = r - 1; i >= 0; i--) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  zsq_value_from_logical(yv, s->y);
}

static void matmul_release(zsq_fnode *n) {
  matmul_state *s = n->state;
  if (s == NULL) return;
  zsq_aligned_free(s->a);
  zsq_aligned_free(s->b);
  zsq_aligned_free(s->y);
  free(s);
  n->state = NULL;
}

const zsq_fop zsq_fop_matmul = {matmul_prepare, NULL, matmul_forward, matmul_release};
