/* mixed.h — mixed precision: per-layer weight-bit sensitivity measured on calibration images,
 * then one bit width per layer minimising the summed sensitivity under a weight-size budget. */
#ifndef ZSQ_QUANT_MIXED_H
#define ZSQ_QUANT_MIXED_H

#include <pthreadpool.h>
#include <stdint.h>

#include "graph/graph.h"
#include "quant/quant.h"

#define ZSQ_MP_NBITS 4
extern const int zsq_mp_bits[ZSQ_MP_NBITS]; /* 8, 4, 3, 2 */

typedef struct zsq_mp_layer {
  int node;                  /* a Conv/Gemm of the graph */
  int fixed_bits;            /* 0: chosen; else kept at this width (first/last layer) */
  int64_t params;            /* weight count */
  double sens[ZSQ_MP_NBITS]; /* mean squared change of the model output, per zsq_mp_bits */
} zsq_mp_layer;

/* Fills sens for every layer that is not fixed, on the first min(count, 64) images of calib
 * (NCHW): the output error against the float model when that layer's weights take each width and
 * every other free layer's weights base_bits (per-channel, method m, zero points below 8 bits
 * with asym; base_bits 0: float). Around
 * the uniform model the errors of several layers add up far better than around the float one. */
zsq_status zsq_mixed_sensitivity(const zsq_graph *g, zsq_mp_layer *layers, int n,
                                 const float *calib, int64_t count, int base_bits,
                                 zsq_range_method m, int asym, pthreadpool_t tp, zsq_err *err);

/* bits[i] for each layer: the choice with the least Σ sens whose weights take at most
 * budget_bits (Σ params·bits, fixed layers included), by dynamic programming over the budget in
 * 4096 steps. ZSQ_ERR_INVALID_ARG when even the smallest choice exceeds the budget. */
zsq_status zsq_mixed_choose(const zsq_mp_layer *layers, int n, double budget_bits, int *bits,
                            zsq_err *err);

#endif
