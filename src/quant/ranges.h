/* ranges.h — histograms of calibration activations and the grid choice made from them. */
#ifndef ZSQ_QUANT_RANGES_H
#define ZSQ_QUANT_RANGES_H

#include <stddef.h>
#include <stdint.h>

#include "quant/quant.h"

#define ZSQ_HIST_BINS 2048

typedef struct zsq_hist {
  double lo, hi;
  int64_t count[ZSQ_HIST_BINS];
} zsq_hist;

void zsq_hist_init(zsq_hist *h, double lo, double hi);
void zsq_hist_add(zsq_hist *h, const float *x, size_t n);

/* Scale and zero point of a b-bit activation grid for values observed in [min, max]. */
void zsq_act_grid(const zsq_hist *h, double min, double max, int bits, zsq_range_method m,
                  float percentile, float *scale, float *zp);

#endif
