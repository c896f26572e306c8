/* fakequant.h — controls of the FakeQuant operator that reconstruction uses: QDrop's random
 * element-wise drop of the quantization, and the validity rule of AQuant rounding borders. */
#ifndef ZSQ_FLOAT_FAKEQUANT_H
#define ZSQ_FLOAT_FAKEQUANT_H

#include <stdint.h>

#include "float/plan.h"

/* From the next forward on, every element of FakeQuant node n independently skips quantization
 * with probability p (a fresh draw per forward, reproducible from seed) and outputs the
 * fallback value instead: the same element of `fallback` (physical layout of the input, owned
 * by the caller) or, with fallback NULL, its own input. p = 0 turns the drop off. */
void zsq_fakequant_set_drop(zsq_fnode *n, float p, uint64_t seed, const float *fallback);

/* Whether the border B(t) = a + b·t lies in (0, 1] on every code t in [qmin, qmax], so that a
 * value on the grid keeps its own code (ReLU's 0 stays code 0). */
static inline int zsq_border_valid(float a, float b, float qmin, float qmax) {
  const float lo = a + b * qmin, hi = a + b * qmax;
  return lo > 0.0f && lo <= 1.0f && hi > 0.0f && hi <= 1.0f;
}

#endif
