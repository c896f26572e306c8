/* weight_stats.h — the `gzsq` method's targets for models without BatchNorm: per-channel mean and
 * variance of every conv output, predicted from the weights and biases alone by propagating
 * moments from the N(0, 1) input (means by linearity, variances shaped by Σ W²·v under a
 * variance-preserving prior, rectified-Gaussian ReLU; docs/synthesis.md). */
#ifndef ZSQ_SYNTH_WEIGHT_STATS_H
#define ZSQ_SYNTH_WEIGHT_STATS_H

#include "graph/graph.h"
#include "synth/bn_loss.h"

/* One hook per Conv output (before its activation) whose input moments are known, in topological
 * order, targets the predicted mean and variance. g must not have activations fused into convs.
 * Returns the count or -1 on allocation failure; *out is malloc'd (zsq_bn_hooks_free). */
int zsq_weight_hooks_find(const zsq_graph *g, zsq_bn_hook **out);

#endif
