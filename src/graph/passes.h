/* passes.h — graph rewrites for inference (the float graph for synthesis keeps BN unfolded). */
#ifndef ZSQ_GRAPH_PASSES_H
#define ZSQ_GRAPH_PASSES_H

#include "graph/graph.h"

/* Conv → BatchNormalization with constant parameters becomes one Conv with folded weights/bias. */
zsq_status zsq_graph_fold_batchnorm(zsq_graph *g, zsq_err *err);
/* Conv/Add/Gemm/BatchNormalization → Relu or Clip (constant bounds) becomes one node with a fused
 * output clamp. */
zsq_status zsq_graph_fuse_activations(zsq_graph *g, zsq_err *err);

/* Identity of a constant becomes a constant (torch re-creates shared initializers that way), in
 * topological order so chains of them resolve. */
zsq_status zsq_graph_fold_constant_identities(zsq_graph *g, zsq_err *err);

#endif
