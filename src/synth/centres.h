/* centres.h — class-wise BN-statistic centres grown from the synthetic images themselves (the
 * `centres` method, docs/synthesis.md): EMA centres of each class's per-image statistics on the
 * deep BN inputs, a centring loss toward the image's own class centre and a separation hinge
 * against the nearest other class centre. */
#ifndef ZSQ_SYNTH_CENTRES_H
#define ZSQ_SYNTH_CENTRES_H

#include <stdint.h>

/* One observed layer: a BN input (NHWC, batch × pixels × channels) and its gradient buffer. */
typedef struct zsq_centre_layer {
  const float *x;
  float *gx;
  int64_t pixels, channels;
  float *mean, *var;         /* centres: classes × channels */
  float *img_mean, *img_var; /* this step's per-image statistics: batch × channels */
} zsq_centre_layer;

typedef struct zsq_centres {
  int n_layers;
  zsq_centre_layer *layers;
  int64_t classes, batch;
  unsigned char *seen; /* per class: the centre has been initialised */
  float weight, sep, ratio, decay;
} zsq_centres;

/* Layers are filled by the caller after a successful init (x, gx, pixels, channels), then
 * zsq_centres_alloc makes the per-layer buffers. Both return 0 on allocation failure. */
int zsq_centres_init(zsq_centres *c, int n_layers, int64_t classes, int64_t batch);
int zsq_centres_alloc(zsq_centres *c);
void zsq_centres_free(zsq_centres *c);

/* Image b of the batch (target label y): its statistics, then, when class y has a centre,
 * loss = (1/n) [weight·D_y + sep·max(D_y − ratio·D_j, 0)] with D_k the mean over layers of
 * (1/C) Σ_c (m_c − μ̄_kc)² + (v_c − v̄_kc)² (biased per-image mean and variance) and j the
 * nearest other initialised class; adds its gradient into gx. Images may run in parallel. */
double zsq_centres_image(zsq_centres *c, int64_t b, int y, int64_t n);

/* EMA step after a loss: each class's centre moves toward the mean statistics of its images the
 * teacher agrees with (agree[b] != 0); a class seen for the first time starts there. */
void zsq_centres_update(zsq_centres *c, const int *labels, const unsigned char *agree, int64_t n);

#endif
