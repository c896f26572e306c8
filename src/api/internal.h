/* internal.h — the structs behind the public opaque handles. */
#ifndef ZSQ_API_INTERNAL_H
#define ZSQ_API_INTERNAL_H

#include "core/error.h"
#include "graph/graph.h"
#include "zsq.h"

struct zsq_model {
  zsq_graph *graph; /* as imported: BatchNorm kept */
  zsq_layer_info *layers;
  zsq_err err;
};

#endif
