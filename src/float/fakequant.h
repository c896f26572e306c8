/* fakequant.h — controls of the FakeQuant operator that reconstruction uses: QDrop's random
 * element-wise drop of the quantization, the validity rule of AQuant rounding borders, and the
 * step size with its LSQ gradient. */
#ifndef ZSQ_FLOAT_FAKEQUANT_H
#define ZSQ_FLOAT_FAKEQUANT_H

#include <stdint.h>

#include "float/plan.h"

/* From the next forward on, every element of FakeQuant node n independently skips quantization
 * with probability p (a fresh draw per forward, reproducible from seed) and outputs the
 * fallback value instead: the same element of `fallback` (physical layout of the input, owned
 * by the caller) or, with fallback NULL, its own input. p = 0 turns the drop off. */
void zsq_fakequant_set_drop(zsq_fnode *n, float p, uint64_t seed, const float *fallback);

/* Moves FakeQuant node n to step s: gn, the graph node n was planned from (the caller's to
 * change), takes s and 1/s, and the per-channel border terms are rebuilt. */
zsq_status zsq_fakequant_set_step(zsq_fnode *n, zsq_node *gn, float s, zsq_fplan *p, zsq_err *err);

/* LSQ's straight-through dLoss/ds (Esser et al. 2020) for the step s of FakeQuant node n, from the
 * gradient gy of its output (physical layout) after a forward: Σ gy·∂y/∂s with y = s·(q − z).
 * Where the code is inside the straight-through range of the input gradient (v before clamping
 * in [qmin, qmax + 1), v = (1 − b_c)·(x/s + z) + 1 − a_c, or x/s + z + 1/2 for nearest) the
 * floor passes as the identity: ∂y/∂s = q − z − (1 − b_c)·x/s (round(x/s) − x/s for nearest);
 * at a clamp ∂y/∂s = q − z (qmin − z or qmax − z); a dropped element contributes nothing. */
double zsq_fakequant_step_grad(const zsq_fnode *n, const float *gy);

/* Whether the border B(t) = a + b·t lies in (0, 1] on every code t in [qmin, qmax], so that a
 * value on the grid keeps its own code (ReLU's 0 stays code 0). */
static inline int zsq_border_valid(float a, float b, float qmin, float qmax) {
  const float lo = a + b * qmin, hi = a + b * qmax;
  return lo > 0.0f && lo <= 1.0f && hi > 0.0f && hi <= 1.0f;
}

#endif
