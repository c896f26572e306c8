/* augment.h — differentiable per-image augmentation: random-resized crop (bilinear) and
 * horizontal flip, forward and adjoint (IntraQ's / HAST's local object reinforcement). */
#ifndef ZSQ_SYNTH_AUGMENT_H
#define ZSQ_SYNTH_AUGMENT_H

#include <stdint.h>

#include "core/rng.h"

typedef struct zsq_crop {
  int active;            /* 0: identity */
  double y0, x0, ch, cw; /* crop box in source pixels */
  int flip;
} zsq_crop;

/* torchvision RandomResizedCrop's box sampling (scale range, ratio 3/4..4/3, 10 tries, then the
 * centre crop), applied with probability p, plus a flip with probability 0.5. */
void zsq_crop_sample(zsq_rng *r, int64_t h, int64_t w, double p, double scale_lo, zsq_crop *c);

/* NHWC image h × w × ch: out = crop-resize(in); adjoint: gin += crop-resizeᵀ(gout). */
void zsq_crop_forward(const zsq_crop *c, const float *in, float *out, int64_t h, int64_t w,
                      int64_t ch);
void zsq_crop_adjoint(const zsq_crop *c, const float *gout, float *gin, int64_t h, int64_t w,
                      int64_t ch);

#endif
