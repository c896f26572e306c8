/* swing.h — GENIE's swing convolution for synthesis: every strided Conv of the teacher reads its
 * input through a zsq.Swing node whose ±1-pixel shift is redrawn on every step (float/swing.h). */
#ifndef ZSQ_SYNTH_SWING_H
#define ZSQ_SYNTH_SWING_H

#include "core/rng.h"
#include "float/plan.h"
#include "graph/graph.h"

/* Puts a zsq.Swing node in front of the data input of every Conv with a stride above 1; *count
 * (count may be NULL) gets how many. The graph is finalized again. */
zsq_status zsq_swing_insert(zsq_graph *g, int *count, zsq_err *err);

/* Draws a shift in {−1, 0, 1}² for every zsq.Swing node of the plan, in plan order (one shift per
 * node, shared by the whole batch, as GENIE's SwingConv2d). */
void zsq_swing_draw(zsq_fplan *p, zsq_rng *rng);

#endif
