/* generator.h — GENIE's image generator (SamsungLabs/Genie distill.py, reduced widths): Linear →
 * BN → up×2 → Conv3×3 → BN → LeakyReLU(0.2) → up×2 → Conv3×3 → tanh → BN(no affine), all
 * batch-statistics (train-mode) BN, NHWC, forward and backward to its parameters and latents. */
#ifndef ZSQ_SYNTH_GENERATOR_H
#define ZSQ_SYNTH_GENERATOR_H

#include <stddef.h>
#include <stdint.h>

#include <pthreadpool.h>

#include "core/rng.h"

typedef struct zsq_gen_bn {
  int64_t c;
  float *mean, *invstd; /* this forward's batch statistics */
} zsq_gen_bn;

typedef struct zsq_gen {
  int64_t n, z, c0, c1, c; /* batch, latent width, hidden channels, image channels */
  int64_t h0, w0;          /* the Linear's grid; images are 4·h0 × 4·w0 */
  float *params, *grads;   /* flat, all parameters (Adam runs over them) */
  size_t n_params;
  float *w_lin, *b_lin;         /* [z][h0·w0·c0], [h0·w0·c0] */
  float *g0, *be0;              /* BN after the Linear */
  float *w1, *b1, *g1, *be1;    /* conv c0→c1 [3][3][c0][c1], its bias, its BN */
  float *w2, *b2;               /* conv c1→c [3][3][c1][c] */
  float *a0, *x0, *u0;          /* Linear out, its BN's x̂, upsampled BN out */
  float *a1, *x1, *r1, *u1;     /* conv1 out, x̂, LeakyReLU out, upsampled */
  float *a2, *t2, *out;         /* conv2 out, tanh, the images */
  float *scratch_a, *scratch_b; /* backward buffers (the largest activation each) */
  float *wt_t;                  /* backward: a conv's weights transposed */
  float *partial;               /* backward: a conv's dW, db per chunk of images */
  pthreadpool_t tp;             /* may be NULL */
  zsq_gen_bn bn0, bn1, bn2;
} zsq_gen;

/* Allocates and initialises as PyTorch does (U(±1/√fan_in) weights and biases, BN γ 1, β 0).
 * Forward and backward run on tp (may be NULL); their results do not depend on its thread count.
 * Returns 0 on allocation failure (zsq_gen_free either way). */
int zsq_gen_init(zsq_gen *g, int64_t n, int64_t z, int64_t c0, int64_t c1, int64_t c, int64_t h0,
                 int64_t w0, zsq_rng *rng, pthreadpool_t tp);
void zsq_gen_free(zsq_gen *g);

/* Images (n × 4h0 × 4w0 × c, NHWC) of latents zs (n × z) into g->out. */
void zsq_gen_forward(zsq_gen *g, const float *zs);

/* From dL/dout (NHWC): sets g->grads and gz (n × z) for the last forward. */
void zsq_gen_backward(zsq_gen *g, const float *zs, const float *gout, float *gz);

#endif
