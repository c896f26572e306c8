/* blocks.c — reconstruction units (layers or BRECQ blocks between cut tensors) and their
 * sub-graphs of the simulated model. */
#include "quant/blocks.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

/* Index of the layer whose node is `node`, or -1. */
static int layer_of(const zsq_qresult *r, int node) {
  for (int l = 0; l < r->n_layers; l++) {
    if (r->layers[l].node == node) return l;
  }
  return -1;
}

/* cut[i]: the only value alive after node i (-1 when several are); last[t]: t's last reader. */
static zsq_status find_cuts(const zsq_graph *g, int *cut, zsq_err *err) {
  int *last = malloc((g->n_tensors + 1) * sizeof(int));
  char *live = calloc(g->n_tensors + 1, 1);
  if (last == NULL || live == NULL) {
    free(last), free(live);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  for (size_t t = 0; t < g->n_tensors; t++) last[t] = -1;
  for (size_t i = 0; i < g->n_nodes; i++) {
    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
      const int t = g->nodes[i].inputs[k];
      if (t >= 0 && !g->tensors[t].is_const) last[t] = (int)i;
    }
  }
  for (size_t k = 0; k < g->n_outputs; k++) last[g->outputs[k]] = (int)g->n_nodes;
  int alive = 0;
  for (size_t k = 0; k < g->n_inputs; k++) {
    live[g->inputs[k]] = last[g->inputs[k]] >= 0;
    alive += live[g->inputs[k]];
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    const zsq_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++) {
      const int t = n->outputs[k];
      if (t >= 0 && last[t] > (int)i && !live[t]) live[t] = 1, alive++;
    }
    for (int k = 0; k < n->n_inputs; k++) {
      const int t = n->inputs[k];
      if (t >= 0 && live[t] && last[t] == (int)i) live[t] = 0, alive--;
    }
    cut[i] = -1;
    for (size_t t = 0; alive == 1 && t < g->n_tensors; t++) {
      if (live[t]) cut[i] = (int)t;
    }
  }
  free(last), free(live);
  return ZSQ_OK;
}

zsq_status zsq_blocks(const zsq_qresult *r, int per_layer, zsq_block **out, int *n, zsq_err *err) {
  const zsq_graph *g = r->folded;
  *n = 0;
  *out = calloc((size_t)r->n_layers + 1, sizeof(zsq_block));
  if (*out == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  if (per_layer) {
    for (int l = 0; l < r->n_layers; l++) {
      const zsq_node *nd = &g->nodes[r->layers[l].node];
      (*out)[(*n)++] = (zsq_block){nd->inputs[0], nd->outputs[0], l, 1};
    }
    return ZSQ_OK;
  }
  if (g->n_inputs != 1) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "block reconstruction needs a single-input model");
  }
  int *cut = malloc((g->n_nodes + 1) * sizeof(int));
  if (cut == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  const zsq_status st = find_cuts(g, cut, err);
  if (st != ZSQ_OK) {
    free(cut);
    return st;
  }
  zsq_block cur = {g->inputs[0], -1, -1, 0};
  for (size_t i = 0; i < g->n_nodes; i++) {
    const int l = layer_of(r, (int)i);
    if (l >= 0 && cur.n_layers++ == 0) cur.first_layer = l;
    if (cut[i] < 0 || cur.n_layers == 0 || g->tensors[cut[i]].producer != (int)i) continue;
    cur.exit = cut[i];
    (*out)[(*n)++] = cur;
    cur = (zsq_block){cut[i], -1, -1, 0};
  }
  free(cut);
  if (cur.n_layers > 0) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "the last layers do not end in a single tensor: no block to reconstruct");
  }
  return ZSQ_OK;
}

/* Copies tensor t of sim into g (constants with their data), remembering where it came from. */
static int copy_tensor(zsq_graph *g, const zsq_graph *sim, int t, int **origin) {
  const zsq_tensor *s = &sim->tensors[t];
  const int d = zsq_graph_add_tensor(g, s->name);
  int *o = realloc(*origin, (g->n_tensors + 1) * sizeof(int));
  if (d < 0 || o == NULL) return -1;
  *origin = o;
  o[d] = t;
  if (!s->is_const) return d;
  zsq_tensor *dt = &g->tensors[d];
  dt->is_const = 1;
  dt->dtype = s->dtype;
  dt->rank = s->rank;
  memcpy(dt->dims, s->dims, sizeof dt->dims);
  const size_t bytes = (size_t)zsq_tensor_numel(s) * (s->dtype == ZSQ_I64 ? 8 : 4);
  dt->data = zsq_aligned_alloc(bytes ? bytes : 1);
  if (dt->data == NULL) return -1;
  memcpy(dt->data, s->data, bytes);
  return d;
}

zsq_status zsq_block_graph(const zsq_graph *sim, const zsq_block *b, const int64_t *in_dims,
                           int in_rank, zsq_graph **out, int **origin, zsq_err *err) {
  *out = NULL;
  *origin = NULL;
  char *fwd = calloc(sim->n_tensors + 1, 1), *bwd = calloc(sim->n_tensors + 1, 1);
  char *in = calloc(sim->n_nodes + 1, 1);
  int *map = malloc((sim->n_tensors + 1) * sizeof(int));
  zsq_graph *g = zsq_graph_new();
  zsq_status st =
      (fwd && bwd && in && map && g) ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (size_t t = 0; st == ZSQ_OK && t < sim->n_tensors; t++) map[t] = -1;
  if (st == ZSQ_OK) fwd[b->entry] = bwd[b->exit] = 1;
  for (size_t i = 0; st == ZSQ_OK && i < sim->n_nodes; i++) { /* downstream of entry */
    const zsq_node *n = &sim->nodes[i];
    for (int k = 0; k < n->n_inputs; k++) in[i] |= n->inputs[k] >= 0 && fwd[n->inputs[k]];
    for (int k = 0; in[i] && k < n->n_outputs; k++) fwd[n->outputs[k]] = 1;
  }
  for (size_t i = sim->n_nodes; st == ZSQ_OK && i-- > 0;) { /* and upstream of exit */
    const zsq_node *n = &sim->nodes[i];
    int feeds = 0;
    for (int k = 0; k < n->n_outputs; k++) feeds |= bwd[n->outputs[k]];
    in[i] &= feeds;
    for (int k = 0; in[i] && k < n->n_inputs; k++) {
      if (n->inputs[k] >= 0) bwd[n->inputs[k]] = 1;
    }
  }
  if (st == ZSQ_OK) {
    map[b->entry] = copy_tensor(g, sim, b->entry, origin);
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    if (map[b->entry] < 0 || !g->inputs || !g->outputs)
      st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  if (st == ZSQ_OK) {
    zsq_tensor *x = &g->tensors[map[b->entry]];
    x->rank = in_rank;
    memcpy(x->dims, in_dims, (size_t)in_rank * sizeof(int64_t));
    x->dims[0] = -1;
    g->inputs[0] = map[b->entry];
    g->n_inputs = 1;
  }
  for (size_t i = 0; st == ZSQ_OK && i < sim->n_nodes; i++) {
    if (!in[i]) continue;
    zsq_node n = sim->nodes[i];
    for (int k = 0; st == ZSQ_OK && k < n.n_inputs; k++) {
      const int t = n.inputs[k];
      if (t < 0) continue;
      if (map[t] < 0 && !sim->tensors[t].is_const) {
        st = zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "node '%s' reads '%s' from outside its block",
                      n.name, sim->tensors[t].name);
      } else if (map[t] < 0 && (map[t] = copy_tensor(g, sim, t, origin)) < 0) {
        st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
      }
      n.inputs[k] = map[t];
    }
    for (int k = 0; st == ZSQ_OK && k < n.n_outputs; k++) {
      if ((map[n.outputs[k]] = copy_tensor(g, sim, n.outputs[k], origin)) < 0)
        st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
      n.outputs[k] = map[n.outputs[k]];
    }
    if (st == ZSQ_OK && zsq_graph_add_node(g, &n) < 0)
      st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  if (st == ZSQ_OK && map[b->exit] < 0)
    st = zsq_fail(err, ZSQ_ERR_INTERNAL, "block output not reached");
  if (st == ZSQ_OK) {
    g->outputs[0] = map[b->exit];
    g->n_outputs = 1;
    st = zsq_graph_finalize(g, err);
  }
  free(fwd), free(bwd), free(in), free(map);
  if (st != ZSQ_OK) {
    zsq_graph_free(g);
    free(*origin);
    *origin = NULL;
    return st;
  }
  *out = g;
  return ZSQ_OK;
}
