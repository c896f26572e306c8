/* swing.h — GENIE's swing convolution input: the image shifted by (dy, dx) ∈ {−1, 0, 1}² with
 * reflection at the borders, y[h][w] = x[r(h + dy)][r(w + dx)] (r(−1) = 1, r(H) = H − 2), i.e.
 * reflect-pad by one pixel and crop back at offset (1 + dy, 1 + dx). */
#ifndef ZSQ_FLOAT_SWING_H
#define ZSQ_FLOAT_SWING_H

#include "float/plan.h"

/* Sets the shift of a zsq.Swing node for the following forward and backward passes. */
void zsq_swing_set(zsq_fnode *n, int dy, int dx);

#endif
