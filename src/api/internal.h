/* internal.h — the structs behind the public opaque handles. */
#ifndef ZSQ_API_INTERNAL_H
#define ZSQ_API_INTERNAL_H

#include "core/error.h"
#include "graph/graph.h"
#include "io/zsq_file.h"
#include "quant/quant.h"
#include "zsq.h"

struct zsq_model {
  zsq_graph *graph;    /* as imported (BatchNorm kept), or a simulated quantized graph */
  zsqf_layer *qlayers; /* quantized models: the layers' bits, scales and report */
  int n_qlayers, quantized;
  zsq_recon_summary recon;     /* set by zsq_quantize */
  zsq_latency_summary latency; /* set by zsq_quantize under a latency budget */
  double *layer_seconds;       /* n_qlayers: the latency budget's per-layer times, or NULL */
  zsq_layer_info *layers;
  zsq_err err;
};

/* Frees the model's graph, quantized-layer records and layer table. */
void zsq_model_reset(zsq_model *m);
/* Fills the layer table of m->graph (shapes, params, MACs for batch 1). */
zsq_status zsq_model_describe(zsq_model *m);

/* The file records of a quantization's layers (bits, weight tensors, scales, report): *out holds
 * q->n_layers of them (zsq_file_layers_free). */
zsq_status zsq_file_layers_of(const zsq_qresult *q, zsqf_layer **out, zsq_err *err);
/* The layer timer of a latency budget (quant/quant.h): integer runtimes of the simulated graphs
 * for one image with the pool tp (or NULL), timed in place on this machine (latency.c). */
zsq_layer_timer zsq_runtime_timer(pthreadpool_t tp);

#endif
