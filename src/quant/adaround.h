/* adaround.h — AdaRound's rounding variables (Nagel et al. 2020): one real V per weight, soft
 * rounding h(V) while learning, hard rounding [V >= 0] at the end, and the annealed regulariser;
 * reconstruction (quant/recon.h) trains them per layer or per block, with GENIE-M's per-row step
 * s on the integer base floor(W/s0) that the initial step s0 fixes. */
#ifndef ZSQ_QUANT_ADAROUND_H
#define ZSQ_QUANT_ADAROUND_H

#include "quant/quant.h"

/* Ŵ = s · (clamp(floor(W/s0) + h(V) + z, qmin, qmax) − z) per output row, s0 = l->wscale, z =
 * l->wzero (fixed; 0 when symmetric). */
typedef struct zsq_round_vars {
  const zsq_qlayer *l;
  const float *w; /* float weights (folded), logical */
  int64_t numel;
  float qmin, qmax; /* weight codes (zsq_weight_code_range) */
  float *v;         /* numel rounding variables (owned by the caller) */
  float *s;         /* l->wrows steps, s0 unless learned (owned by the caller) */
} zsq_round_vars;

/* V so that h(V) equals the fractional part of W/s0 (rounding starts where the float weight is),
 * and s = s0. */
void zsq_round_init(zsq_round_vars *j);
/* The soft (h(V)) or hard ([V >= 0]) rounded weights, logical. */
void zsq_round_weights(const zsq_round_vars *j, int hard, float *wq);
/* dLoss/dV from dLoss/dŴ (logical), plus reg · the regulariser Σ 1 − |2h − 1|^β; with gs, also
 * dLoss/ds per row: Σ_k dLoss/dŴ · (clamp(floor(W/s0) + h(V) + z, qmin, qmax) − z) (exact: the
 * base does not move with s). */
void zsq_round_grad(const zsq_round_vars *j, const float *gw, float beta, float reg, float *gv,
                    float *gs);
/* β and the regulariser weight at step it of iters: off for the first 20 %, then β falls
 * linearly from 20 to 2 (BRECQ's LinearTempDecay). */
void zsq_round_schedule(int it, int iters, float *beta, float *reg);

#endif
