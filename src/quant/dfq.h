/* dfq.h — data-free quantization tools of DFQ (Nagel et al. 2019): cross-layer equalisation of
 * the folded float graph and bias correction from BatchNorm statistics (docs/quantization.md). */
#ifndef ZSQ_QUANT_DFQ_H
#define ZSQ_QUANT_DFQ_H

#include <pthreadpool.h>
#include <stdint.h>

#include "graph/graph.h"
#include "quant/quant.h"

/* The output of a BN-folded conv before its fused clamp: N(mean_c, std_c²) per channel, from the
 * BN's β and |γ| (ptq.md §1). The BN's input x (the unfolded conv's output) is
 * μ_c ± scale_c·(y − mean_c) for the folded output y, scale_c = sqrt(var_c + ε)/|γ_c|; in_std_c =
 * sqrt(var_c + 1e-6) is its running std as PD-Quant's distribution correction reads it. One entry
 * per tensor of the folded graph; channels = 0 where the tensor is not such an output. */
typedef struct zsq_bn_stats {
  int64_t channels;
  float *mean, *std, *scale, *in_std;
} zsq_bn_stats;

/* The statistics of every tensor of `folded` (BN folded, activations fused; a clone of `orig`,
 * whose tensor indices it keeps) produced by a conv that swallowed a BatchNormalization of
 * `orig`. *out has folded->n_tensors entries; free it with zsq_bn_stats_free. */
zsq_status zsq_bn_stats_collect(const zsq_graph *orig, const zsq_graph *folded, zsq_bn_stats **out,
                                zsq_err *err);
void zsq_bn_stats_free(zsq_bn_stats *s, size_t n);

/* E[clamp(z, lo, hi)] for z ~ N(mean, std²); lo may be -INFINITY and hi INFINITY. */
double zsq_clamped_normal_mean(double mean, double std, double lo, double hi);

/* One pair conv1 → (fused ReLU, ReLU6 or none) → conv2 that cross-layer equalisation scales:
 * conv1's output feeds conv2 alone. */
typedef struct zsq_cle_pair {
  int first, second; /* node indices in the graph */
} zsq_cle_pair;

/* The equalisable pairs of a folded graph, in graph order (*pairs is malloc'ed: free it). */
zsq_status zsq_cle_pairs(const zsq_graph *g, zsq_cle_pair **pairs, int *n, zsq_err *err);

/* Per-channel weight ranges max |W| of the pair: r1 over conv1's output channel i, r2 over the
 * weights that read conv2's input channel i (arrays of conv1's output channels). */
void zsq_cle_ranges(const zsq_graph *g, const zsq_cle_pair *p, float *r1, float *r2);

/* Cross-layer equalisation in place: sweeps over the pairs, scaling conv1's output channel i (and
 * its bias) by 1/s_i and conv2's input channel i by s_i with s_i = sqrt(r1_i·r2_i)/r2_i, until
 * every s_i is within 1e-4 of 1 or after `max_sweeps`. A ReLU6 between the two becomes a ReLU
 * (it is not positively homogeneous). stats (may be NULL) follow conv1's output. *sweeps (may be
 * NULL) gets the number of sweeps run. */
zsq_status zsq_cle(zsq_graph *g, zsq_bn_stats *stats, int max_sweeps, int *sweeps, zsq_err *err);

/* Analytic bias correction of r->sim: each layer's bias loses Σ (Ŵ − W)·E[x] over its kernel
 * window (padding ignored), with E[x] per input channel from the BN statistics of the layer that
 * produces x, through its clamp (and through average pools and flattening); where x has no such
 * producer (the graph input, an Add, a max pool), E[x] is the float model's mean on the first
 * calibration images. from_bn (may be NULL) gets, per layer, 1 when E[x] came from statistics. */
zsq_status zsq_bias_correct_analytic(zsq_qresult *r, const zsq_bn_stats *stats, const float *calib,
                                     int64_t count, pthreadpool_t tp, int *from_bn, zsq_err *err);

#endif
