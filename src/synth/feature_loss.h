/* feature_loss.h — IntraQ's marginal distance constraint (MDC) on the penultimate feature: class
 * centroids of the features of earlier batches, and a two-sided margin on the cosine distance
 * (../shared/reference/synthesis.md §2.6; zysxmu/IntraQ data_generate/distill_data.py). */
#ifndef ZSQ_SYNTH_FEATURE_LOSS_H
#define ZSQ_SYNTH_FEATURE_LOSS_H

#include <stdint.h>

/* Running per-class sums of features (a plain mean over every image added, as IntraQ's code). */
typedef struct zsq_centroids {
  int64_t classes, dim;
  double *sum;    /* classes × dim */
  int64_t *count; /* per class */
} zsq_centroids;

/* Returns 0 on allocation failure. */
int zsq_centroids_init(zsq_centroids *c, int64_t classes, int64_t dim);
void zsq_centroids_free(zsq_centroids *c);
/* Adds the features f (n × dim) of images labelled labels. */
void zsq_centroids_add(zsq_centroids *c, const float *f, const int *labels, int64_t n);
/* For each image: its class centroid (n × dim) and mask 1, or mask 0 if the class has none yet. */
void zsq_centroids_for(const zsq_centroids *c, const int *labels, int64_t n, float *centre,
                       float *mask);

/* MDC: Σ_n mask_n [max(lower − d_n, 0) + max(d_n − upper, 0)] / (Σ mask + 1e-6), with
 * d_n = 1 − cos(f_n, centre_n); adds scale·dL/df into gf (if not NULL); returns the loss. */
double zsq_mdc_loss(const float *f, const float *centre, const float *mask, int64_t n, int64_t dim,
                    float lower, float upper, float scale, float *gf);

#endif
