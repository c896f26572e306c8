/* swing.c — inserting GENIE's swing shifts in front of strided convolutions, and redrawing them. */
#include "synth/swing.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "float/swing.h"

zsq_status zsq_swing_insert(zsq_graph *g, int *count, zsq_err *err) {
  int inserted = 0;
  const size_t n_nodes = g->n_nodes;
  for (size_t k = 0; k < n_nodes; k++) {
    const zsq_node *conv = &g->nodes[k];
    const int64_t *st = conv->a.conv.win.strides;
    if (conv->op != ZSQ_OP_CONV || (st[0] <= 1 && st[1] <= 1)) continue;
    char name[600];
    snprintf(name, sizeof name, "%s/swing", conv->name ? conv->name : "conv");
    const int t = zsq_graph_add_tensor(g, name);
    if (t < 0) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    zsq_node sw;
    memset(&sw, 0, sizeof sw);
    sw.name = name;
    sw.op = ZSQ_OP_SWING;
    sw.opset = (int)g->opset;
    sw.n_inputs = sw.n_outputs = 1;
    sw.inputs[0] = g->nodes[k].inputs[0];
    sw.outputs[0] = t;
    sw.act_min = -INFINITY;
    sw.act_max = INFINITY;
    g->nodes[k].inputs[0] = t; /* before add_node: it may move the node array */
    if (zsq_graph_add_node(g, &sw) < 0) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    inserted++;
  }
  if (count) *count = inserted;
  return inserted > 0 ? zsq_graph_finalize(g, err) : ZSQ_OK;
}

void zsq_swing_draw(zsq_fplan *p, zsq_rng *rng) {
  for (size_t i = 0; i < p->n_nodes; i++) {
    if (p->nodes[i].node->op != ZSQ_OP_SWING) continue;
    const int dy = (int)zsq_rng_below(rng, 3) - 1, dx = (int)zsq_rng_below(rng, 3) - 1;
    zsq_swing_set(&p->nodes[i], dy, dx);
  }
}
