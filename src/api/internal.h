/* internal.h — the structs behind the public opaque handles. */
#ifndef ZSQ_API_INTERNAL_H
#define ZSQ_API_INTERNAL_H

#include "core/error.h"
#include "graph/graph.h"
#include "io/zsq_file.h"
#include "zsq.h"

struct zsq_model {
  zsq_graph *graph;    /* as imported (BatchNorm kept), or a simulated quantized graph */
  zsqf_layer *qlayers; /* quantized models: the layers' bits, scales and report */
  int n_qlayers, quantized;
  zsq_recon_summary recon; /* set by zsq_quantize */
  zsq_layer_info *layers;
  zsq_err err;
};

/* Frees the model's graph, quantized-layer records and layer table. */
void zsq_model_reset(zsq_model *m);
/* Fills the layer table of m->graph (shapes, params, MACs for batch 1). */
zsq_status zsq_model_describe(zsq_model *m);

#endif
