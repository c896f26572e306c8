/* blocks.h — reconstruction units: single layers, or BRECQ blocks (the nodes between two
 * consecutive cut tensors of the folded graph), and the sub-graph of the simulation computing
 * one unit. */
#ifndef ZSQ_QUANT_BLOCKS_H
#define ZSQ_QUANT_BLOCKS_H

#include "quant/quant.h"

typedef struct zsq_block {
  int entry, exit;           /* folded tensors: the unit's input (before its quantizer), output */
  int first_layer, n_layers; /* r->layers[first_layer .. first_layer + n_layers) */
} zsq_block;

/* The units of r->folded, in order. per_layer: one unit per layer (entry = its data input).
 * Otherwise a cut is a tensor that every later node depends on only through it (the one value
 * alive between two nodes); the nodes between consecutive cuts form a block, a block without a
 * layer joins the next one, nodes after the last layer are left out. On a ResNet this gives
 * the stem conv, each residual block (convs, shortcut, Add) and pool + classifier. */
zsq_status zsq_blocks(const zsq_qresult *r, int per_layer, zsq_block **out, int *n, zsq_err *err);

/* The nodes of sim (a clone of r->folded plus FakeQuant nodes, same tensor indices) that lie on
 * a path from entry to exit, as a graph with input "x" (shaped like `in`, dynamic batch) and
 * output exit; constants are copied. origin[t] gives the sim tensor of each tensor t of the
 * result (caller frees). */
zsq_status zsq_block_graph(const zsq_graph *sim, const zsq_block *b, const int64_t *in_dims,
                           int in_rank, zsq_graph **out, int **origin, zsq_err *err);

#endif
