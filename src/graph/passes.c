/* passes.c — inference rewrites: fold BatchNorm into the preceding Conv, fuse Relu/Clip clamps. */
#include "graph/passes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

static int is_const_f32(const zsq_graph *g, int t) {
  return t >= 0 && g->tensors[t].is_const && g->tensors[t].dtype == ZSQ_F32;
}

/* Removes node r after rerouting: the consumer's output becomes the producer's output. */
static void bypass(zsq_graph *g, int producer, int r) {
  g->nodes[producer].outputs[0] = g->nodes[r].outputs[0];
  free(g->nodes[r].name);
  memmove(&g->nodes[r], &g->nodes[r + 1], (g->n_nodes - (size_t)r - 1) * sizeof(zsq_node));
  g->n_nodes--;
}

static zsq_status fold_one(zsq_graph *g, int ci, int bi, zsq_err *err) {
  zsq_node *conv = &g->nodes[ci];
  const zsq_node *bn = &g->nodes[bi];
  const zsq_tensor *w = &g->tensors[conv->inputs[1]];
  int64_t cout = w->dims[0];
  for (int k = 1; k < 5; k++) {
    if (!is_const_f32(g, bn->inputs[k]) || zsq_tensor_numel(&g->tensors[bn->inputs[k]]) != cout)
      return ZSQ_OK;
  }
  int has_bias = conv->n_inputs > 2 && conv->inputs[2] >= 0;
  if (has_bias && !is_const_f32(g, conv->inputs[2])) return ZSQ_OK;
  const float *gamma = g->tensors[bn->inputs[1]].data, *beta = g->tensors[bn->inputs[2]].data;
  const float *mean = g->tensors[bn->inputs[3]].data, *var = g->tensors[bn->inputs[4]].data;
  const float *old_b = has_bias ? g->tensors[conv->inputs[2]].data : NULL;
  /* New constants (a weight may be shared by several convs, so never edit in place). */
  char name[600];
  snprintf(name, sizeof name, "%s/folded_w", conv->name);
  int wt = zsq_graph_add_tensor(g, name);
  snprintf(name, sizeof name, "%s/folded_b", conv->name);
  int bt = zsq_graph_add_tensor(g, name);
  if (wt < 0 || bt < 0) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  conv = &g->nodes[ci]; /* tensors may have moved, nodes did not */
  w = &g->tensors[conv->inputs[1]];
  int64_t per = zsq_tensor_numel(w) / cout;
  float *nw = zsq_aligned_alloc((size_t)(per * cout) * 4),
        *nb = zsq_aligned_alloc((size_t)cout * 4);
  if (!nw || !nb) {
    zsq_aligned_free(nw);
    zsq_aligned_free(nb);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  const float *ow = w->data;
  const float eps = bn->a.bn.epsilon;
  for (int64_t o = 0; o < cout; o++) {
    float sc = gamma[o] / sqrtf(var[o] + eps);
    for (int64_t i = 0; i < per; i++) nw[o * per + i] = ow[o * per + i] * sc;
    nb[o] = beta[o] + ((old_b ? old_b[o] : 0.0f) - mean[o]) * sc;
  }
  zsq_tensor *tw = &g->tensors[wt], *tb = &g->tensors[bt];
  tw->is_const = tb->is_const = 1;
  tw->rank = w->rank;
  memcpy(tw->dims, w->dims, sizeof tw->dims);
  tw->data = nw;
  tb->rank = 1;
  tb->dims[0] = cout;
  tb->data = nb;
  conv->inputs[1] = wt;
  conv->inputs[2] = bt;
  conv->n_inputs = 3;
  bypass(g, ci, bi);
  return ZSQ_OK;
}

zsq_status zsq_graph_fold_batchnorm(zsq_graph *g, zsq_err *err) {
  for (size_t i = 0; i < g->n_nodes; i++) {
    zsq_node *n = &g->nodes[i];
    if (n->op != ZSQ_OP_CONV || !is_const_f32(g, n->inputs[1]) ||
        g->tensors[n->inputs[1]].rank != 4)
      continue;
    int only = -1;
    if (zsq_graph_readers(g, n->outputs[0], &only) != 1 || only < 0) continue;
    if (g->nodes[only].op != ZSQ_OP_BATCHNORM || g->nodes[only].inputs[0] != n->outputs[0])
      continue;
    ZSQ_TRY(fold_one(g, (int)i, only, err));
  }
  return zsq_graph_finalize(g, err);
}

zsq_status zsq_graph_fuse_activations(zsq_graph *g, zsq_err *err) {
  for (size_t i = 0; i < g->n_nodes; i++) {
    zsq_node *n = &g->nodes[i];
    if (n->op != ZSQ_OP_CONV && n->op != ZSQ_OP_ADD && n->op != ZSQ_OP_GEMM &&
        n->op != ZSQ_OP_BATCHNORM)
      continue;
    int only = -1;
    if (zsq_graph_readers(g, n->outputs[0], &only) != 1 || only < 0) continue;
    const zsq_node *a = &g->nodes[only];
    float lo, hi;
    if (a->op == ZSQ_OP_RELU) {
      lo = 0.0f;
      hi = INFINITY;
    } else if (a->op == ZSQ_OP_CLIP) {
      lo = a->a.clip.min;
      hi = a->a.clip.max;
      int ok = 1;
      for (int k = 1; k < a->n_inputs && k < 3; k++) {
        int t = a->inputs[k];
        if (t < 0) continue;
        if (!is_const_f32(g, t) || zsq_tensor_numel(&g->tensors[t]) != 1)
          ok = 0;
        else if (k == 1)
          lo = *(const float *)g->tensors[t].data;
        else
          hi = *(const float *)g->tensors[t].data;
      }
      if (!ok || !(lo < hi)) continue;
    } else {
      continue;
    }
    n->act_min = fmaxf(n->act_min, lo);
    n->act_max = fminf(n->act_max, hi);
    bypass(g, (int)i, only);
  }
  return zsq_graph_finalize(g, err);
}

zsq_status zsq_graph_fold_constant_identities(zsq_graph *g, zsq_err *err) {
  size_t w = 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    zsq_node *n = &g->nodes[i];
    int src = n->inputs[0];
    if (n->op != ZSQ_OP_IDENTITY || src < 0 || !g->tensors[src].is_const) {
      g->nodes[w++] = *n;
      continue;
    }
    const zsq_tensor *s = &g->tensors[src];
    zsq_tensor *d = &g->tensors[n->outputs[0]];
    size_t bytes = (size_t)zsq_tensor_numel(s) * (s->dtype == ZSQ_I64 ? 8 : 4);
    void *copy = zsq_aligned_alloc(bytes);
    if (copy == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    memcpy(copy, s->data, bytes);
    if (d->is_const) {
      zsq_aligned_free(copy);
      return zsq_fail(err, ZSQ_ERR_FORMAT, "tensor '%s' is defined twice", d->name);
    }
    d->is_const = 1;
    d->dtype = s->dtype;
    d->rank = s->rank;
    memcpy(d->dims, s->dims, sizeof d->dims);
    d->data = copy;
    free(n->name);
  }
  g->n_nodes = w;
  return ZSQ_OK;
}
