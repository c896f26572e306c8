/* bn_loss.h — BatchNorm-statistics losses of the synthesis methods and their exact gradients,
 * computed on a hooked activation (a BN layer's input, NHWC) and added into its gradient buffer.
 * Formulas: ../shared/reference/synthesis.md §1 (L-ZQ, L-MSE) and §2.3 (DSG slack). */
#ifndef ZSQ_SYNTH_BN_LOSS_H
#define ZSQ_SYNTH_BN_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include <pthreadpool.h>

#include "graph/graph.h"

/* One hooked layer: the BN input tensor and the statistics it should show. The image input is a
 * hook too (targets mean 0, std 1), as in ZeroQ and DSG. */
typedef struct zsq_bn_hook {
  int tensor; /* graph tensor observed */
  int64_t channels;
  float *mean, *std,
      *var;         /* targets per channel: running mean, sqrt(running_var + 1e-6), running_var */
  const char *name; /* the BN node, or "input" */
} zsq_bn_hook;

/* Fills h with copies of the targets (NULL mean: 0, NULL var: 1); returns 0 on allocation
 * failure (free with zsq_bn_hooks_free either way). */
int zsq_bn_hook_set(zsq_bn_hook *h, int tensor, int64_t c, const float *mean, const float *var,
                    const char *name);
/* Hooks for every BatchNormalization of g (in topological order) plus, first, the graph input
 * when with_input. Returns the count or -1 on allocation failure; *out is malloc'd. */
int zsq_bn_hooks_find(const zsq_graph *g, int with_input, zsq_bn_hook **out);
void zsq_bn_hooks_free(zsq_bn_hook *h, int n);

/* Per-sample L-ZQ with DSG slack: for every image n and channel c, mean and unbiased std over the
 * pixels; loss = Σ_n w_n/N Σ_c D(μ̂_c − μ_nc, δ)² + D(σ̂_c − s_nc, γ)², D(d, m) = max(|d| − m, 0).
 * x is N × pixels × C (NHWC), gx (may be NULL) receives the gradient scaled by `scale`.
 * w (per image, may be NULL = 1) carries DSG's layer-wise enhancement. */
double zsq_bn_loss_per_sample(const zsq_bn_hook *h, const float *x, int64_t n, int64_t pixels,
                              float slack_mean, float slack_std, const float *w, float scale,
                              float *gx);
/* The same for images [first, first + count) of a batch of n (x, w and gx still point at image 0),
 * so a batch can be split across threads. */
double zsq_bn_loss_per_sample_range(const zsq_bn_hook *h, const float *x, int64_t n, int64_t first,
                                    int64_t count, int64_t pixels, float slack_mean,
                                    float slack_std, const float *w, float scale, float *gx);

/* Batch L-MSE: (1/C) Σ_c (μ_c − μ̂_c)² + (v_c − v̂_c)², biased variance over all N·pixels.
 * Split across tp (may be NULL) in fixed blocks: the same bytes for any thread count. */
double zsq_bn_loss_batch(const zsq_bn_hook *h, const float *x, int64_t n, int64_t pixels,
                         float scale, pthreadpool_t tp, float *gx);

/* GENIE's L-GEN term: (1/C) Σ_c (μ_c − μ̂_c)² + (s_c − σ̂_c)², s the unbiased std over N·pixels. */
double zsq_bn_loss_batch_std(const zsq_bn_hook *h, const float *x, int64_t n, int64_t pixels,
                             float scale, pthreadpool_t tp, float *gx);

/* Both batch losses from the per-channel mean and biased std of the rows = N·pixels values (on_std
 * selects L-GEN): returns the loss and writes the gradient's coefficients, dLoss/dx = a[c] +
 * b[c]·x, each of C floats (for a gradient pass fused elsewhere, e.g. zsq_fgrad_add_affine). */
double zsq_bn_loss_batch_coef(const zsq_bn_hook *h, const double *mu, const double *sd,
                              int64_t rows, int on_std, float scale, float *a, float *b);

/* Per-channel mean and std (biased) of x (rows × c), two passes split across tp (may be NULL)
 * in fixed blocks of rows: the same bytes for any thread count. */
void zsq_channel_stats(const float *x, int64_t rows, int64_t c, pthreadpool_t tp, double *mean,
                       double *std);

#endif
