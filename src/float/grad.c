/* grad.c — gradient buffers and the reverse sweep over a float plan. */
#include "float/grad.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "float/parallel.h"

struct zsq_fgrad {
  zsq_fplan *plan;
  float **buf;            /* per graph tensor */
  unsigned char *pending; /* per graph tensor: zero by definition, contents stale */
  float **affine;         /* per graph tensor: a[C] then b[C] of zsq_fgrad_add_affine, or NULL */
  unsigned char *affine_pending; /* per graph tensor: that term is still to be added */
};

zsq_status zsq_fgrad_create(zsq_fplan *p, const int *wrt, size_t n_wrt, zsq_fgrad **out,
                            zsq_err *err) {
  return zsq_fgrad_create_ex(p, wrt, n_wrt, 1, out, err);
}

zsq_status zsq_fgrad_create_ex(zsq_fplan *p, const int *wrt, size_t n_wrt, int with_input_grads,
                               zsq_fgrad **out, zsq_err *err) {
  *out = NULL;
  const zsq_graph *gr = p->graph;
  zsq_fgrad *g = calloc(1, sizeof *g);
  if (g == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  g->plan = p;
  g->buf = calloc(gr->n_tensors + 1, sizeof(float *));
  g->pending = calloc(gr->n_tensors + 1, 1);
  g->affine = calloc(gr->n_tensors + 1, sizeof(float *));
  g->affine_pending = calloc(gr->n_tensors + 1, 1);
  if (g->buf == NULL || g->pending == NULL || g->affine == NULL || g->affine_pending == NULL) {
    zsq_fgrad_destroy(g);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  /* a value wants a gradient when it depends on something trained (a graph input with input
   * gradients, a wrt constant) or is a graph output (where the caller writes dLoss/dOutput) */
  char *want = calloc(gr->n_tensors + 1, 1);
  if (want == NULL) {
    zsq_fgrad_destroy(g);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; with_input_grads && i < gr->n_inputs; i++) want[gr->inputs[i]] = 1;
  for (size_t i = 0; i < n_wrt; i++) want[wrt[i]] = 1;
  for (size_t i = 0; i < p->n_nodes; i++) {
    const zsq_node *n = p->nodes[i].node;
    int any = 0;
    for (int k = 0; k < n->n_inputs; k++) any |= n->inputs[k] >= 0 && want[n->inputs[k]];
    for (int k = 0; any && k < n->n_outputs; k++) want[n->outputs[k]] = 1;
  }
  for (size_t i = 0; i < gr->n_outputs; i++) want[gr->outputs[i]] = 1;
  for (size_t t = 0; t < gr->n_tensors; t++) {
    const zsq_value *v = &p->values[t];
    int is_wrt = 0;
    for (size_t i = 0; i < n_wrt; i++) is_wrt |= wrt[i] == (int)t;
    if (!want[t] || v->rank < 0 || v->dtype != ZSQ_F32 || (v->is_const && !is_wrt)) continue;
    g->buf[t] = zsq_aligned_calloc(v->numel * sizeof(float) + 64);
    if (v->rank == 4 || v->rank == 2) g->affine[t] = malloc(2 * (size_t)v->dims[1] * sizeof(float));
    if (g->buf[t] == NULL || ((v->rank == 4 || v->rank == 2) && g->affine[t] == NULL)) {
      free(want);
      zsq_fgrad_destroy(g);
      return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory for gradients");
    }
  }
  free(want);
  for (size_t i = 0; i < p->n_nodes; i++) {
    const zsq_fnode *n = &p->nodes[i];
    if (n->op->backward == NULL && g->buf[n->node->outputs[0]] != NULL) {
      zsq_fgrad_destroy(g);
      return zsq_fnode_fail(n, err, ZSQ_ERR_UNSUPPORTED, "no backward pass for this operator");
    }
    if (n->op->prepare_backward != NULL) {
      zsq_status st =
          n->op->prepare_backward((zsq_fnode *)n, p, g->buf[n->node->inputs[0]] != NULL, err);
      if (st != ZSQ_OK) {
        zsq_fgrad_destroy(g);
        return st;
      }
    }
  }
  *out = g;
  return ZSQ_OK;
}

void zsq_fgrad_destroy(zsq_fgrad *g) {
  if (g == NULL) return;
  for (size_t t = 0; g->buf && t < g->plan->graph->n_tensors; t++) zsq_aligned_free(g->buf[t]);
  for (size_t t = 0; g->affine && t < g->plan->graph->n_tensors; t++) free(g->affine[t]);
  free(g->buf);
  free(g->pending);
  free(g->affine);
  free(g->affine_pending);
  free(g);
}

static void zero_range(void *ctx, size_t begin, size_t end) {
  float *b = ctx;
  memset(b + begin, 0, (end - begin) * sizeof(float));
}

/* Clears t's buffer if it is still pending. */
static void settle(zsq_fgrad *g, int t) {
  if (!g->pending[t]) return;
  g->pending[t] = 0;
  zsq_parallel_for(g->plan->threadpool, g->plan->values[t].numel, 65536, zero_range, g->buf[t]);
}

/* Adds (or, over a pending buffer, writes) t's affine term: the scalar reference of the fused
 * path (zsq_fop.backward_affine). */
typedef struct affine_ctx {
  const float *x, *a, *b;
  float *gx;
  size_t c;
  int write;
} affine_ctx;

static void affine_range(void *ctx, size_t begin, size_t end) {
  const affine_ctx *t = ctx;
  const size_t c = t->c;
  for (size_t r = begin; r < end; r++) {
    const float *restrict x = t->x + r * c, *restrict a = t->a, *restrict b = t->b;
    float *restrict gx = t->gx + r * c;
    for (size_t i = 0; i < c; i++) gx[i] = (t->write ? 0.0f : gx[i]) + (a[i] + b[i] * x[i]);
  }
}

static void apply_affine(zsq_fgrad *g, int t) {
  const zsq_value *v = &g->plan->values[t];
  const size_t c = (size_t)v->dims[1];
  affine_ctx ac = {v->data, g->affine[t], g->affine[t] + c, g->buf[t], c, g->pending[t]};
  g->affine_pending[t] = 0;
  g->pending[t] = 0;
  zsq_parallel_for(g->plan->threadpool, v->numel / c, 1024, affine_range, &ac);
}

float *zsq_fgrad_of(zsq_fgrad *g, int t) {
  if (g->buf[t] == NULL) return NULL;
  if (g->affine_pending[t]) apply_affine(g, t);
  settle(g, t);
  return g->buf[t];
}

zsq_status zsq_fgrad_add_affine(zsq_fgrad *g, int t, const float *a, const float *b, zsq_err *err) {
  const zsq_value *v = &g->plan->values[t];
  if (g->buf[t] == NULL) return ZSQ_OK;
  if (g->affine[t] == NULL) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "an affine gradient needs channels innermost (rank 4 or 2), not rank %d",
                    v->rank);
  }
  const size_t c = (size_t)v->dims[1];
  float *ab = g->affine[t];
  for (size_t i = 0; i < c; i++) {
    ab[i] = g->affine_pending[t] ? ab[i] + a[i] : a[i];
    ab[c + i] = g->affine_pending[t] ? ab[c + i] + b[i] : b[i];
  }
  g->affine_pending[t] = 1;
  return ZSQ_OK;
}

void zsq_fgrad_zero(zsq_fgrad *g) {
  for (size_t t = 0; t < g->plan->graph->n_tensors; t++) {
    g->pending[t] = g->buf[t] != NULL;
    g->affine_pending[t] = 0;
  }
}

/* Backward is linear in gy: a pending (zero) gy contributes nothing, so the node is skipped. A
 * pending input gradient is written by an operator that can (the first slot naming it), cleared
 * otherwise. A pending affine term joins the backward of an operator that can take it (input 0),
 * and is added by a pass of its own otherwise (or before its tensor serves as gy). */
void zsq_fgrad_backward(zsq_fgrad *g) {
  zsq_fplan *p = g->plan;
  for (size_t i = p->n_nodes; i-- > 0;) {
    zsq_fnode *n = &p->nodes[i];
    const int ty = n->node->outputs[0];
    if (g->buf[ty] == NULL) continue;
    if (g->affine_pending[ty]) apply_affine(g, ty);
    if (g->pending[ty]) continue;
    float *gx[ZSQ_MAX_INPUTS] = {0};
    int any = 0;
    n->grad_write = 0;
    n->grad_affine = NULL;
    for (int k = 0; k < n->n_inputs; k++) {
      const int t = n->node->inputs[k];
      gx[k] = t >= 0 ? g->buf[t] : NULL;
      any |= gx[k] != NULL;
      if (gx[k] != NULL && g->affine_pending[t]) {
        if (k == 0 && n->op->backward_affine) {
          n->grad_affine = g->affine[t];
          g->affine_pending[t] = 0;
        } else {
          apply_affine(g, t);
        }
      }
      if (gx[k] == NULL || !g->pending[t]) continue;
      if (n->op->backward_writes & (1u << k)) {
        n->grad_write |= 1u << k;
        g->pending[t] = 0;
      } else {
        settle(g, t);
      }
    }
    if (any) n->op->backward(n, p, g->buf[ty], gx);
  }
}
