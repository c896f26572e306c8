/* graph.c — IR construction, lookup, cloning and topological validation. */
#include "graph/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

static const char *const kOpNames[ZSQ_OP_COUNT] = {
    [ZSQ_OP_CONV] = "Conv",
    [ZSQ_OP_BATCHNORM] = "BatchNormalization",
    [ZSQ_OP_RELU] = "Relu",
    [ZSQ_OP_CLIP] = "Clip",
    [ZSQ_OP_ADD] = "Add",
    [ZSQ_OP_MUL] = "Mul",
    [ZSQ_OP_MAXPOOL] = "MaxPool",
    [ZSQ_OP_AVGPOOL] = "AveragePool",
    [ZSQ_OP_GLOBALAVGPOOL] = "GlobalAveragePool",
    [ZSQ_OP_GEMM] = "Gemm",
    [ZSQ_OP_MATMUL] = "MatMul",
    [ZSQ_OP_FLATTEN] = "Flatten",
    [ZSQ_OP_RESHAPE] = "Reshape",
    [ZSQ_OP_IDENTITY] = "Identity",
    [ZSQ_OP_CONCAT] = "Concat",
    [ZSQ_OP_SOFTMAX] = "Softmax",
    [ZSQ_OP_FAKEQUANT] = "zsq.FakeQuant",
    [ZSQ_OP_SWING] = "zsq.Swing",
};

const char *zsq_op_name(zsq_op op) {
  return (op >= 0 && op < ZSQ_OP_COUNT) ? kOpNames[op] : "?";
}

zsq_graph *zsq_graph_new(void) {
  return calloc(1, sizeof(zsq_graph));
}

static size_t dtype_size(zsq_dtype t) {
  return t == ZSQ_I64 ? sizeof(int64_t) : sizeof(float);
}

void zsq_graph_free(zsq_graph *g) {
  if (g == NULL) return;
  for (size_t i = 0; i < g->n_tensors; i++) {
    free(g->tensors[i].name);
    zsq_aligned_free(g->tensors[i].data);
  }
  for (size_t i = 0; i < g->n_nodes; i++) free(g->nodes[i].name);
  for (size_t i = 0; i < g->n_meta; i++) {
    free(g->meta[i].key);
    free(g->meta[i].value);
  }
  free(g->tensors);
  free(g->nodes);
  free(g->inputs);
  free(g->outputs);
  free(g->meta);
  free(g);
}

int zsq_graph_readers(const zsq_graph *g, int t, int *only) {
  int cnt = 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
      if (g->nodes[i].inputs[k] == t) {
        cnt++;
        *only = (int)i;
      }
    }
  }
  for (size_t i = 0; i < g->n_outputs; i++) cnt += g->outputs[i] == t;
  return cnt;
}

int64_t zsq_tensor_numel(const zsq_tensor *t) {
  if (t->rank < 0) return -1;
  return zsq_dims_product(t->dims, t->rank);
}

int zsq_graph_find(const zsq_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_tensors; i++) {
    if (strcmp(g->tensors[i].name, name) == 0) return (int)i;
  }
  return -1;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t c = *cap ? *cap * 2 : 16;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * elem);
  if (q == NULL) return 0;
  memset((char *)q + *cap * elem, 0, (c - *cap) * elem);
  *p = q;
  *cap = c;
  return 1;
}

int zsq_graph_add_tensor(zsq_graph *g, const char *name) {
  if (!grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof(zsq_tensor))) return -1;
  zsq_tensor *t = &g->tensors[g->n_tensors];
  memset(t, 0, sizeof *t);
  t->name = strdup(name);
  if (t->name == NULL) return -1;
  t->dtype = ZSQ_F32;
  t->rank = -1;
  t->producer = -1;
  return (int)g->n_tensors++;
}

int zsq_graph_add_node(zsq_graph *g, const zsq_node *n) {
  if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(zsq_node))) return -1;
  zsq_node *d = &g->nodes[g->n_nodes];
  *d = *n;
  d->name = strdup(n->name ? n->name : "");
  if (d->name == NULL) return -1;
  return (int)g->n_nodes++;
}

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

zsq_graph *zsq_graph_clone(const zsq_graph *g) {
  zsq_graph *c = zsq_graph_new();
  if (c == NULL) return NULL;
  c->opset = g->opset;
  c->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(zsq_tensor));
  c->nodes = calloc(g->n_nodes ? g->n_nodes : 1, sizeof(zsq_node));
  c->inputs = calloc(g->n_inputs ? g->n_inputs : 1, sizeof(int));
  c->outputs = calloc(g->n_outputs ? g->n_outputs : 1, sizeof(int));
  c->meta = calloc(g->n_meta ? g->n_meta : 1, sizeof(zsq_meta));
  if (!c->tensors || !c->nodes || !c->inputs || !c->outputs || !c->meta) goto fail;
  c->cap_tensors = g->n_tensors ? g->n_tensors : 1;
  c->cap_nodes = g->n_nodes ? g->n_nodes : 1;
  for (size_t i = 0; i < g->n_tensors; i++) {
    const zsq_tensor *s = &g->tensors[i];
    zsq_tensor *d = &c->tensors[c->n_tensors++];
    *d = *s;
    d->name = strdup(s->name);
    d->data = NULL;
    if (d->name == NULL) goto fail;
    if (s->data != NULL) {
      size_t bytes = (size_t)zsq_tensor_numel(s) * dtype_size(s->dtype);
      d->data = zsq_aligned_alloc(bytes);
      if (d->data == NULL) goto fail;
      memcpy(d->data, s->data, bytes);
    }
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    c->nodes[i] = g->nodes[i];
    c->nodes[i].name = strdup(g->nodes[i].name);
    c->n_nodes++;
    if (c->nodes[i].name == NULL) goto fail;
  }
  if (g->n_inputs) memcpy(c->inputs, g->inputs, g->n_inputs * sizeof(int));
  memcpy(c->outputs, g->outputs, g->n_outputs * sizeof(int));
  c->n_inputs = g->n_inputs;
  c->n_outputs = g->n_outputs;
  for (size_t i = 0; i < g->n_meta; i++) {
    c->meta[i].key = dup_or_null(g->meta[i].key);
    c->meta[i].value = dup_or_null(g->meta[i].value);
    c->n_meta++;
  }
  return c;
fail:
  zsq_graph_free(c);
  return NULL;
}

zsq_status zsq_graph_finalize(zsq_graph *g, zsq_err *err) {
  size_t nt = g->n_tensors, nn = g->n_nodes;
  for (size_t t = 0; t < nt; t++) g->tensors[t].producer = -1;
  for (size_t i = 0; i < nn; i++) {
    const zsq_node *n = &g->nodes[i];
    for (int o = 0; o < n->n_outputs; o++) {
      zsq_tensor *t = &g->tensors[n->outputs[o]];
      if (t->is_const || t->producer >= 0) {
        return zsq_fail(err, ZSQ_ERR_FORMAT, "tensor '%s' is produced more than once (node '%s')",
                        t->name, n->name);
      }
      for (size_t k = 0; k < g->n_inputs; k++) {
        if (g->inputs[k] == n->outputs[o]) {
          return zsq_fail(err, ZSQ_ERR_FORMAT, "node '%s' writes graph input '%s'", n->name,
                          t->name);
        }
      }
      t->producer = (int)i;
    }
  }
  /* Every consumed tensor must be a constant, a graph input or produced by a node. */
  for (size_t i = 0; i < nn; i++) {
    const zsq_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++) {
      int ti = n->inputs[k];
      if (ti < 0) continue;
      const zsq_tensor *t = &g->tensors[ti];
      int is_input = 0;
      for (size_t j = 0; j < g->n_inputs; j++) is_input |= g->inputs[j] == ti;
      if (!t->is_const && !is_input && t->producer < 0) {
        return zsq_fail(err, ZSQ_ERR_FORMAT, "node '%s' reads '%s', which nothing defines", n->name,
                        t->name);
      }
    }
  }
  for (size_t k = 0; k < g->n_outputs; k++) {
    const zsq_tensor *t = &g->tensors[g->outputs[k]];
    int is_input = 0;
    for (size_t j = 0; j < g->n_inputs; j++) is_input |= g->inputs[j] == g->outputs[k];
    if (!t->is_const && !is_input && t->producer < 0) {
      return zsq_fail(err, ZSQ_ERR_FORMAT, "graph output '%s' is never computed", t->name);
    }
  }
  /* Kahn's algorithm over node dependencies. */
  int *indeg = calloc(nn + 1, sizeof(int));
  int *order = calloc(nn + 1, sizeof(int));
  zsq_node *sorted = calloc(nn + 1, sizeof(zsq_node));
  if (!indeg || !order || !sorted) {
    free(indeg);
    free(order);
    free(sorted);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory sorting the graph");
  }
  for (size_t i = 0; i < nn; i++) {
    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
      int ti = g->nodes[i].inputs[k];
      if (ti >= 0 && g->tensors[ti].producer >= 0) indeg[i]++;
    }
  }
  size_t head = 0, tail = 0;
  for (size_t i = 0; i < nn; i++) {
    if (indeg[i] == 0) order[tail++] = (int)i;
  }
  while (head < tail) {
    const zsq_node *n = &g->nodes[order[head++]];
    for (int o = 0; o < n->n_outputs; o++) {
      for (size_t j = 0; j < nn; j++) {
        for (int k = 0; k < g->nodes[j].n_inputs; k++) {
          if (g->nodes[j].inputs[k] == n->outputs[o] && --indeg[j] == 0) order[tail++] = (int)j;
        }
      }
    }
  }
  zsq_status st = ZSQ_OK;
  if (tail != nn) {
    for (size_t i = 0; i < nn; i++) {
      if (indeg[i] > 0) {
        st = zsq_fail(err, ZSQ_ERR_FORMAT, "the graph has a cycle through node '%s'",
                      g->nodes[i].name);
        break;
      }
    }
  } else {
    for (size_t i = 0; i < nn; i++) sorted[i] = g->nodes[order[i]];
    if (nn > 0) memcpy(g->nodes, sorted, nn * sizeof(zsq_node));
    for (size_t i = 0; i < nn; i++) {
      for (int o = 0; o < g->nodes[i].n_outputs; o++)
        g->tensors[g->nodes[i].outputs[o]].producer = (int)i;
    }
  }
  free(indeg);
  free(order);
  free(sorted);
  return st;
}

zsq_status zsq_graph_bind_constant(zsq_graph *g, const char *name, zsq_dtype dtype, int rank,
                                   const int64_t *dims, const void *data, zsq_err *err) {
  int ti = zsq_graph_find(g, name);
  if (ti < 0) return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "no tensor named '%s'", name);
  zsq_tensor *t = &g->tensors[ti];
  if (rank < 0 || rank > ZSQ_MAX_RANK)
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "bad rank %d", rank);
  int64_t n = zsq_dims_product(dims, rank);
  if (n < 0) return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "bad dims for '%s'", name);
  size_t bytes = (size_t)n * dtype_size(dtype);
  void *copy = zsq_aligned_alloc(bytes);
  if (copy == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory binding '%s'", name);
  memcpy(copy, data, bytes);
  zsq_aligned_free(t->data);
  t->data = copy;
  t->dtype = dtype;
  t->rank = rank;
  if (rank > 0) memcpy(t->dims, dims, (size_t)rank * sizeof(int64_t));
  t->is_const = 1;
  size_t w = 0;
  for (size_t i = 0; i < g->n_inputs; i++) {
    if (g->inputs[i] != ti) g->inputs[w++] = g->inputs[i];
  }
  g->n_inputs = w;
  return ZSQ_OK;
}

int zsq_node_input_is_static(const zsq_node *n, int slot) {
  switch (n->op) {
    case ZSQ_OP_BATCHNORM:
      return slot >= 1;
    case ZSQ_OP_CLIP:
      return slot >= 1;
    case ZSQ_OP_RESHAPE:
      return slot == 1;
    case ZSQ_OP_CONV:
      return slot >= 1;
    default:
      return 0;
  }
}

const char *zsq_graph_meta(const zsq_graph *g, const char *key) {
  for (size_t i = 0; i < g->n_meta; i++) {
    if (strcmp(g->meta[i].key, key) == 0) return g->meta[i].value;
  }
  return NULL;
}
