/* ranges.c — choosing quantization grids: per-channel weight scales (min/max or MSE search) and
 * per-tensor activation ranges from a histogram (min/max, percentile or MSE search). */
#include <math.h>
#include <stdint.h>

#include "quant/quant.h"
#include "quant/ranges.h"

/* Squared error of quantizing w on grid q. */
static double weight_error(const float *w, int64_t n, const zsq_wgrid *q) {
  const float inv = 1.0f / q->scale;
  double e = 0.0;
  for (int64_t i = 0; i < n; i++) {
    float c = roundf(w[i] * inv) + q->zero;
    c = c < q->qmin ? q->qmin : (c > q->qmax ? q->qmax : c);
    const double d = (double)w[i] - (double)((c - q->zero) * q->scale);
    e += d * d;
  }
  return e;
}

/* The grid covering [lo, hi] (lo <= 0 <= hi): symmetric over max(|lo|, hi), or asymmetric with the
 * zero point that puts 0 on a code. */
static zsq_wgrid weight_grid_of(float lo, float hi, int bits, int asym) {
  zsq_wgrid q = {1.0f, 0.0f, 0.0f, 0.0f};
  zsq_weight_code_range(bits, asym, &q.qmin, &q.qmax);
  const float span = asym ? hi - lo : (-lo > hi ? -lo : hi);
  if (!(span > 0.0f)) return q;
  q.scale = span / q.qmax;
  if (asym) {
    const float z = roundf(-lo / q.scale);
    q.zero = z < 0.0f ? 0.0f : (z > q.qmax ? q.qmax : z);
  }
  return q;
}

zsq_wgrid zsq_weight_grid(const float *w, int64_t n, int bits, int asym, zsq_range_method m) {
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < n; i++) {
    lo = w[i] < lo ? w[i] : lo;
    hi = w[i] > hi ? w[i] : hi;
  }
  zsq_wgrid best = weight_grid_of(lo, hi, bits, asym);
  if (m != ZSQ_RANGE_MSE || !(hi - lo > 0.0f)) return best;
  double best_e = weight_error(w, n, &best);
  for (int a = 30; a < 100; a++) {
    const zsq_wgrid q = weight_grid_of(lo * (float)a / 100.0f, hi * (float)a / 100.0f, bits, asym);
    const double e = weight_error(w, n, &q);
    if (e < best_e) {
      best_e = e;
      best = q;
    }
  }
  return best;
}

void zsq_hist_init(zsq_hist *h, double lo, double hi) {
  for (int i = 0; i < ZSQ_HIST_BINS; i++) h->count[i] = 0;
  h->lo = lo;
  h->hi = hi > lo ? hi : lo + 1e-12;
}

void zsq_hist_add(zsq_hist *h, const float *x, size_t n) {
  const double scale = ZSQ_HIST_BINS / (h->hi - h->lo);
  for (size_t i = 0; i < n; i++) {
    int b = (int)(((double)x[i] - h->lo) * scale);
    b = b < 0 ? 0 : (b >= ZSQ_HIST_BINS ? ZSQ_HIST_BINS - 1 : b);
    h->count[b]++;
  }
}

/* Affine grid [lo, hi] (widened to contain 0) with 2^bits levels. */
static void grid(double lo, double hi, int bits, float *scale, float *zp) {
  lo = lo < 0 ? lo : 0;
  hi = hi > 0 ? hi : 0;
  const double levels = (double)((1 << bits) - 1);
  double s = (hi - lo) / levels;
  if (!(s > 0)) s = 1e-8;
  double z = round(-lo / s);
  z = z < 0 ? 0 : (z > levels ? levels : z);
  *scale = (float)s;
  *zp = (float)z;
}

/* Histogram MSE of quantizing with (scale, zp), bins represented by their centres. */
static double hist_error(const zsq_hist *h, int bits, float scale, float zp) {
  const double w = (h->hi - h->lo) / ZSQ_HIST_BINS, qmax = (double)((1 << bits) - 1);
  double e = 0.0;
  for (int i = 0; i < ZSQ_HIST_BINS; i++) {
    if (h->count[i] == 0) continue;
    const double x = h->lo + (i + 0.5) * w;
    double q = floor(x / scale + zp + 0.5);
    q = q < 0 ? 0 : (q > qmax ? qmax : q);
    const double d = x - (q - zp) * scale;
    e += (double)h->count[i] * d * d;
  }
  return e;
}

static double hist_quantile(const zsq_hist *h, double p) {
  int64_t total = 0;
  for (int i = 0; i < ZSQ_HIST_BINS; i++) total += h->count[i];
  const double target = p * (double)total;
  int64_t run = 0;
  for (int i = 0; i < ZSQ_HIST_BINS; i++) {
    run += h->count[i];
    if ((double)run >= target) return h->lo + (i + 1.0) * (h->hi - h->lo) / ZSQ_HIST_BINS;
  }
  return h->hi;
}

void zsq_act_grid(const zsq_hist *h, double min, double max, int bits, zsq_range_method m,
                  float percentile, float *scale, float *zp) {
  if (m == ZSQ_RANGE_PERCENTILE) {
    const double p = percentile / 100.0;
    min = min < 0 ? hist_quantile(h, 1.0 - p) : min;
    max = hist_quantile(h, p);
  }
  grid(min, max, bits, scale, zp);
  if (m != ZSQ_RANGE_MSE) return;
  double best = hist_error(h, bits, *scale, *zp);
  for (int a = 20; a < 100; a++) {
    float s, z;
    grid(min * a / 100.0, max * a / 100.0, bits, &s, &z);
    const double e = hist_error(h, bits, s, z);
    if (e < best) {
      best = e;
      *scale = s;
      *zp = z;
    }
  }
}
