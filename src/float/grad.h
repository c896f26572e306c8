/* grad.h — reverse-mode gradients over a float plan: one gradient buffer per value that needs
 * one, filled by the operators' backward functions in reverse topological order.
 *
 * Use: run the plan forward; zero the gradients; write dLoss/dOutput (and any hook gradient,
 * e.g. a BatchNorm-statistics loss on a BN input) into zsq_fgrad_of(...); call backward. Because
 * gradients add up, a gradient injected at any tensor before backward is propagated correctly. */
#ifndef ZSQ_FLOAT_GRAD_H
#define ZSQ_FLOAT_GRAD_H

#include "float/plan.h"

typedef struct zsq_fgrad zsq_fgrad;

/* Gradients flow to the constants listed in wrt (e.g. weights), to the graph outputs, and to every
 * value that depends on a wrt constant or (with input gradients) on a graph input; a value that
 * depends on neither gets no buffer (zsq_fgrad_of gives NULL) and its producer no input gradient.
 * Fails with ZSQ_ERR_UNSUPPORTED naming the operator when one on the path has no backward. */
zsq_status zsq_fgrad_create(zsq_fplan *p, const int *wrt, size_t n_wrt, zsq_fgrad **out,
                            zsq_err *err);
/* The same; with_input_grads = 0 gives the graph inputs no gradient (training weights only). */
zsq_status zsq_fgrad_create_ex(zsq_fplan *p, const int *wrt, size_t n_wrt, int with_input_grads,
                               zsq_fgrad **out, zsq_err *err);
void zsq_fgrad_destroy(zsq_fgrad *g);
/* Gradient buffer of graph tensor t (same physical layout as its value), or NULL. After
 * zsq_fgrad_zero it reads as zeros. Not thread-safe: call it from one thread (it may clear the
 * buffer on first use). */
float *zsq_fgrad_of(zsq_fgrad *g, int t);
/* Sets every gradient to zero. Lazily: a buffer is cleared when zsq_fgrad_of first hands it out,
 * or, in backward, just before its first contribution, which an operator that can (see
 * zsq_fop.backward_writes) writes in place of an add, so most buffers are never cleared. */
void zsq_fgrad_zero(zsq_fgrad *g);
/* Adds a[c] + b[c]·x to t's gradient, x = t's value and c the channel (t rank 4 NHWC or rank 2;
 * a, b hold C floats each, copied; terms for one t add up). Lazily, like zsq_fgrad_zero: in
 * backward the first operator to reach t fuses it into its own pass where it can (BatchNorm),
 * and zsq_fgrad_of adds it first. No-op for a t without a gradient. */
zsq_status zsq_fgrad_add_affine(zsq_fgrad *g, int t, const float *a, const float *b, zsq_err *err);
void zsq_fgrad_backward(zsq_fgrad *g);

#endif
