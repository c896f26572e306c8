/* plan.c — builds and runs a float execution plan (shape inference, buffers, op dispatch). */
#include "float/plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "float/chstats.h"
#include "float/layout.h"

/* XNNPACK kernels may read up to 16 bytes past the end of a buffer. */
#define VALUE_SLACK 64

zsq_status zsq_fnode_fail(const zsq_fnode *n, zsq_err *err, zsq_status st, const char *fmt, ...) {
  char buf[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return zsq_fail(err, st, "node '%s' (%s, opset %d): %s", n->node->name, zsq_op_name(n->node->op),
                  n->node->opset, buf);
}

void zsq_layout_to_logical(const zsq_value *v, const float *src, float *dst) {
  if (!zsq_value_is_nhwc(v)) {
    memcpy(dst, src, v->numel * sizeof(float));
    return;
  }
  zsq_nhwc_to_nchw(src, dst, v->dims[0], v->dims[1], v->dims[2] * v->dims[3]);
}

void zsq_value_to_logical(const zsq_value *v, float *dst) {
  zsq_layout_to_logical(v, v->data, dst);
}

void zsq_layout_add_logical(const zsq_value *v, float *dst, const float *src) {
  if (!zsq_value_is_nhwc(v)) {
    for (size_t i = 0; i < v->numel; i++) dst[i] += src[i];
    return;
  }
  const int64_t n = v->dims[0], c = v->dims[1], hw = v->dims[2] * v->dims[3];
  for (int64_t b = 0; b < n; b++) {
    for (int64_t ch = 0; ch < c; ch++) {
      for (int64_t px = 0; px < hw; px++)
        dst[(b * hw + px) * c + ch] += src[(b * c + ch) * hw + px];
    }
  }
}

void zsq_value_from_logical(zsq_value *v, const float *src) {
  float *dst = v->data;
  if (!zsq_value_is_nhwc(v)) {
    memcpy(dst, src, v->numel * sizeof(float));
    return;
  }
  zsq_nchw_to_nhwc(src, dst, v->dims[0], v->dims[1], v->dims[2] * v->dims[3]);
}

static size_t esize(zsq_dtype t) {
  return t == ZSQ_I64 ? 8 : 4;
}

static zsq_status init_value_from_tensor(zsq_fplan *p, int ti, zsq_err *err) {
  const zsq_tensor *t = &p->graph->tensors[ti];
  zsq_value *v = &p->values[ti];
  v->dtype = t->dtype;
  v->rank = t->rank;
  memcpy(v->dims, t->dims, sizeof v->dims);
  if (t->is_const) {
    v->is_const = 1;
    v->numel = (size_t)zsq_tensor_numel(t);
    v->data = zsq_aligned_alloc(v->numel * esize(t->dtype) + VALUE_SLACK);
    if (v->data == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory for '%s'", t->name);
    if (t->dtype == ZSQ_F32)
      zsq_value_from_logical(v, t->data);
    else
      memcpy(v->data, t->data, v->numel * 8);
    return ZSQ_OK;
  }
  /* A graph input: the batch dim follows the plan; every other dim must be known. */
  if (t->rank < 0)
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "graph input '%s' has no declared shape", t->name);
  if (t->dtype != ZSQ_F32) {
    return zsq_fail(
        err, ZSQ_ERR_UNSUPPORTED,
        "graph input '%s' is int64: bind it as a constant (shape inputs must be static)", t->name);
  }
  for (int i = 0; i < t->rank; i++) {
    if (t->dims[i] >= 0) continue;
    if (i != 0) {
      return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                      "graph input '%s' has a dynamic dim %d (only the batch may be dynamic)",
                      t->name, i);
    }
    v->dims[0] = p->batch;
  }
  int64_t n = zsq_dims_product(v->dims, v->rank);
  if (n < 0)
    return zsq_fail(err, ZSQ_ERR_FORMAT, "graph input '%s' has an impossible size", t->name);
  v->numel = (size_t)n;
  return ZSQ_OK;
}

static zsq_status alloc_value(zsq_value *v, const char *name, zsq_err *err) {
  if (v->data != NULL) return ZSQ_OK;
  v->data = zsq_aligned_calloc(v->numel * esize(v->dtype) + VALUE_SLACK);
  if (v->data == NULL) {
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory for tensor '%s' (%zu elements)", name,
                    v->numel);
  }
  return ZSQ_OK;
}

zsq_status zsq_fplan_create(const zsq_graph *g, int64_t batch, pthreadpool_t tp, zsq_fplan **out,
                            zsq_err *err) {
  *out = NULL;
  if (batch < 1 || batch > (1 << 20))
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "batch must be in [1, 2^20]");
  zsq_fplan *p = calloc(1, sizeof *p);
  if (p == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  p->graph = g;
  p->batch = batch;
  p->threadpool = tp;
  p->values = calloc(g->n_tensors + 1, sizeof(zsq_value));
  p->nodes = calloc(g->n_nodes + 1, sizeof(zsq_fnode));
  zsq_status st = ZSQ_OK;
  if (p->values == NULL || p->nodes == NULL) {
    st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t t = 0; t < g->n_tensors; t++) p->values[t].rank = -1;
  for (size_t t = 0; t < g->n_tensors; t++) {
    if (g->tensors[t].is_const) {
      st = init_value_from_tensor(p, (int)t, err);
      if (st != ZSQ_OK) goto fail;
    }
  }
  for (size_t i = 0; i < g->n_inputs; i++) {
    st = init_value_from_tensor(p, g->inputs[i], err);
    if (st != ZSQ_OK) goto fail;
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    const zsq_node *gn = &g->nodes[i];
    zsq_fnode *n = &p->nodes[p->n_nodes++];
    n->node = gn;
    n->op = zsq_fop_for(gn->op);
    n->n_inputs = gn->n_inputs;
    for (int k = 0; k < gn->n_inputs; k++) {
      n->in[k] = gn->inputs[k] >= 0 ? &p->values[gn->inputs[k]] : NULL;
      if (n->in[k] != NULL && n->in[k]->rank < 0) {
        st = zsq_fnode_fail(n, err, ZSQ_ERR_INTERNAL, "input %d has no shape yet", k);
        goto fail;
      }
      if (n->in[k] != NULL && !n->in[k]->is_const && zsq_node_input_is_static(gn, k)) {
        st = zsq_fnode_fail(n, err, ZSQ_ERR_UNSUPPORTED, "input %d ('%s') must be a constant", k,
                            g->tensors[gn->inputs[k]].name);
        goto fail;
      }
      if (n->in[k] != NULL && !n->in[k]->is_const && n->in[k]->dtype != ZSQ_F32) {
        st = zsq_fnode_fail(n, err, ZSQ_ERR_UNSUPPORTED, "input %d is not float", k);
        goto fail;
      }
    }
    for (int k = 0; k < gn->n_outputs; k++) {
      n->out[k] = &p->values[gn->outputs[k]];
      n->out[k]->dtype = ZSQ_F32;
    }
    st = n->op->prepare(n, p, err);
    if (st != ZSQ_OK) goto fail;
    for (int k = 0; k < gn->n_outputs; k++) {
      int64_t ne = zsq_dims_product(n->out[k]->dims, n->out[k]->rank);
      if (ne < 0 || ne > ((int64_t)1 << 34)) {
        st = zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "output has an impossible size");
        goto fail;
      }
      n->out[k]->numel = (size_t)ne;
    }
  }
  for (size_t t = 0; t < g->n_tensors; t++) {
    if (p->values[t].rank < 0) continue;
    st = alloc_value(&p->values[t], g->tensors[t].name, err);
    if (st != ZSQ_OK) goto fail;
  }
  for (size_t i = 0; i < p->n_nodes; i++) {
    zsq_fnode *n = &p->nodes[i];
    if (n->op->setup != NULL) {
      st = n->op->setup(n, p, err);
      if (st != ZSQ_OK) goto fail;
    }
  }
  *out = p;
  return ZSQ_OK;
fail:
  zsq_fplan_destroy(p);
  return st;
}

void zsq_fplan_destroy(zsq_fplan *p) {
  if (p == NULL) return;
  for (size_t i = 0; i < p->n_nodes; i++) {
    if (p->nodes[i].op && p->nodes[i].op->release) p->nodes[i].op->release(&p->nodes[i]);
  }
  if (p->values != NULL) {
    for (size_t t = 0; t < p->graph->n_tensors; t++) zsq_aligned_free(p->values[t].data);
  }
  free(p->values);
  free(p->nodes);
  free(p);
}

zsq_status zsq_fplan_set_constant(zsq_fplan *p, int t, const float *logical, zsq_err *err) {
  zsq_value *v = &p->values[t];
  if (!v->is_const || v->dtype != ZSQ_F32) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "tensor '%s' is not a float constant",
                    p->graph->tensors[t].name);
  }
  zsq_value_from_logical(v, logical);
  for (size_t i = 0; i < p->n_nodes; i++) {
    zsq_fnode *n = &p->nodes[i];
    int reads = 0;
    for (int k = 0; k < n->n_inputs; k++) reads |= n->node->inputs[k] == t;
    if (!reads) continue;
    if (n->op->refresh != NULL) {
      ZSQ_TRY(n->op->refresh(n, p, err));
    } else if (n->op->caches_constants) {
      return zsq_fnode_fail(n, err, ZSQ_ERR_UNSUPPORTED,
                            "its constant inputs cannot change after planning");
    }
  }
  return ZSQ_OK;
}

int zsq_fplan_record_stats(zsq_fplan *p, int t, struct zsq_chstats *st) {
  const zsq_value *v = &p->values[t];
  if ((v->rank != 4 && v->rank != 2) || st->c != v->dims[1] ||
      st->rows * st->c != (int64_t)v->numel)
    return 0;
  for (size_t i = 0; i < p->n_nodes; i++) {
    zsq_fnode *n = &p->nodes[i];
    if (!n->op->records_stats || n->in[0] != v || n->stats != NULL) continue;
    n->stats = st;
    return 1;
  }
  return 0;
}

void zsq_fplan_forward(zsq_fplan *p) {
  for (size_t i = 0; i < p->n_nodes; i++) p->nodes[i].op->forward(&p->nodes[i], p);
}

void zsq_fplan_run(zsq_fplan *p, const void *const *inputs, void *const *outputs) {
  const zsq_graph *g = p->graph;
  for (size_t i = 0; i < g->n_inputs; i++)
    zsq_value_from_logical(&p->values[g->inputs[i]], inputs[i]);
  zsq_fplan_forward(p);
  for (size_t i = 0; i < g->n_outputs; i++) {
    if (outputs[i] == NULL) continue;
    const zsq_value *v = &p->values[g->outputs[i]];
    if (v->dtype == ZSQ_F32)
      zsq_value_to_logical(v, outputs[i]);
    else
      memcpy(outputs[i], v->data, v->numel * 8);
  }
}
