/* mixed.h — mixed precision: per-layer weight-bit sensitivity measured on calibration images,
 * then one bit width per layer minimising the summed sensitivity under a budget (weight size or
 * latency: any non-negative cost per layer and width). */
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
  /* What each width spends of the budget (>= 0; INFINITY: not a choice), per zsq_mp_bits:
   * params·bits for a size budget, seconds for a latency budget. A fixed layer spends the entry
   * of its fixed width. */
  double cost[ZSQ_MP_NBITS];
} zsq_mp_layer;

/* Fills sens for every layer that is not fixed, on the first min(count, 64) images of calib
 * (NCHW): the output error against the float model when that layer's weights take each width and
 * every other free layer's weights base_bits (per-channel, method m, zero points below 8 bits
 * with asym; base_bits 0: float). Around
 * the uniform model the errors of several layers add up far better than around the float one. */
zsq_status zsq_mixed_sensitivity(const zsq_graph *g, zsq_mp_layer *layers, int n,
                                 const float *calib, int64_t count, int base_bits,
                                 zsq_range_method m, int asym, pthreadpool_t tp, zsq_err *err);

/* The least Σ cost of a choice: every fixed layer at its width, every free layer at its cheapest
 * width with a finite sensitivity and cost. INFINITY when a layer has no such width. */
double zsq_mixed_least_cost(const zsq_mp_layer *layers, int n);

/* bits[i] for each layer: the choice with the least Σ sens whose Σ cost (fixed layers included)
 * is at most budget, by dynamic programming over the budget left above the least cost in 4096
 * steps, each cost above a layer's cheapest rounded up: the result always fits, and a budget equal
 * to the least cost gives the cheapest choice. ZSQ_ERR_INVALID_ARG when the budget is below the
 * least cost (callers check first with zsq_mixed_least_cost to say so in their own units). */
zsq_status zsq_mixed_choose(const zsq_mp_layer *layers, int n, double budget, int *bits,
                            zsq_err *err);

#endif
