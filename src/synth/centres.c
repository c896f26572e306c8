/* centres.c — per-image statistics, the centring/separation loss with its affine-per-channel
 * gradient, and the EMA update of the class centres. */
#include "synth/centres.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int zsq_centres_init(zsq_centres *c, int n_layers, int64_t classes, int64_t batch) {
  memset(c, 0, sizeof *c);
  c->n_layers = n_layers;
  c->classes = classes;
  c->batch = batch;
  c->layers = calloc((size_t)n_layers, sizeof(zsq_centre_layer));
  c->seen = calloc((size_t)classes, 1);
  return c->layers != NULL && c->seen != NULL;
}

int zsq_centres_alloc(zsq_centres *c) {
  for (int l = 0; l < c->n_layers; l++) {
    zsq_centre_layer *L = &c->layers[l];
    L->mean = calloc((size_t)(c->classes * L->channels), sizeof(float));
    L->var = calloc((size_t)(c->classes * L->channels), sizeof(float));
    L->img_mean = calloc((size_t)(c->batch * L->channels), sizeof(float));
    L->img_var = calloc((size_t)(c->batch * L->channels), sizeof(float));
    if (!L->mean || !L->var || !L->img_mean || !L->img_var) return 0;
  }
  return 1;
}

void zsq_centres_free(zsq_centres *c) {
  for (int l = 0; c->layers && l < c->n_layers; l++) {
    free(c->layers[l].mean);
    free(c->layers[l].var);
    free(c->layers[l].img_mean);
    free(c->layers[l].img_var);
  }
  free(c->layers);
  free(c->seen);
  memset(c, 0, sizeof *c);
}

/* Biased mean and variance per channel of image b. */
static void image_stats(zsq_centre_layer *L, int64_t b) {
  const int64_t C = L->channels, P = L->pixels;
  const float *x = L->x + b * P * C;
  float *m = L->img_mean + b * C, *v = L->img_var + b * C;
  for (int64_t c = 0; c < C; c++) m[c] = v[c] = 0.0f;
  for (int64_t p = 0; p < P; p++) {
    for (int64_t c = 0; c < C; c++) m[c] += x[p * C + c];
  }
  for (int64_t c = 0; c < C; c++) m[c] /= (float)P;
  for (int64_t p = 0; p < P; p++) {
    for (int64_t c = 0; c < C; c++) v[c] += (x[p * C + c] - m[c]) * (x[p * C + c] - m[c]);
  }
  for (int64_t c = 0; c < C; c++) v[c] /= (float)P;
}

/* D_k of image b: mean over layers of (1/C) Σ (m − μ̄_k)² + (v − v̄_k)². */
static double distance(const zsq_centres *c, int64_t b, int64_t k) {
  double d = 0.0;
  for (int l = 0; l < c->n_layers; l++) {
    const zsq_centre_layer *L = &c->layers[l];
    const int64_t C = L->channels;
    double s = 0.0;
    for (int64_t ch = 0; ch < C; ch++) {
      const double dm = L->img_mean[b * C + ch] - L->mean[k * C + ch],
                   dv = L->img_var[b * C + ch] - L->var[k * C + ch];
      s += dm * dm + dv * dv;
    }
    d += s / (double)C;
  }
  return d / c->n_layers;
}

/* gx += ∂(wk·D_k)/∂x: per channel (2 wk / (L C P)) [(m − μ̄) + 2 (v − v̄)(x − m)]. */
static void add_grad(const zsq_centres *c, int64_t b, int64_t k, double wk) {
  for (int l = 0; l < c->n_layers; l++) {
    const zsq_centre_layer *L = &c->layers[l];
    const int64_t C = L->channels, P = L->pixels;
    const double s = 2.0 * wk / ((double)c->n_layers * (double)C * (double)P);
    const float *x = L->x + b * P * C, *m = L->img_mean + b * C, *v = L->img_var + b * C;
    float *g = L->gx + b * P * C;
    for (int64_t p = 0; p < P; p++) {
      for (int64_t ch = 0; ch < C; ch++) {
        const double dm = m[ch] - L->mean[k * C + ch], dv = v[ch] - L->var[k * C + ch];
        g[p * C + ch] += (float)(s * (dm + 2.0 * dv * (x[p * C + ch] - m[ch])));
      }
    }
  }
}

double zsq_centres_image(zsq_centres *c, int64_t b, int y, int64_t n) {
  for (int l = 0; l < c->n_layers; l++) image_stats(&c->layers[l], b);
  if (!c->seen[y]) return 0.0;
  const double dy = distance(c, b, y);
  double dj = INFINITY;
  int64_t j = -1;
  for (int64_t k = 0; k < c->classes; k++) {
    if (k == y || !c->seen[k]) continue;
    const double d = distance(c, b, k);
    if (d < dj) dj = d, j = k;
  }
  const int hinge = j >= 0 && c->sep > 0 && dy - c->ratio * dj > 0;
  const double inv = 1.0 / (double)n;
  add_grad(c, b, y, inv * (c->weight + (hinge ? c->sep : 0.0)));
  if (hinge) add_grad(c, b, j, -inv * c->sep * c->ratio);
  return inv * (c->weight * dy + (hinge ? c->sep * (dy - c->ratio * dj) : 0.0));
}

void zsq_centres_update(zsq_centres *c, const int *labels, const unsigned char *agree, int64_t n) {
  for (int64_t k = 0; k < c->classes; k++) {
    int64_t cnt = 0;
    for (int64_t b = 0; b < n; b++) cnt += labels[b] == k && agree[b];
    if (cnt == 0) continue;
    const float a = c->seen[k] ? c->decay : 1.0f;
    for (int l = 0; l < c->n_layers; l++) {
      zsq_centre_layer *L = &c->layers[l];
      const int64_t C = L->channels;
      for (int64_t ch = 0; ch < C; ch++) {
        double sm = 0.0, sv = 0.0;
        for (int64_t b = 0; b < n; b++) {
          if (labels[b] != k || !agree[b]) continue;
          sm += L->img_mean[b * C + ch];
          sv += L->img_var[b * C + ch];
        }
        float *mu = &L->mean[k * C + ch], *va = &L->var[k * C + ch];
        *mu += a * ((float)(sm / (double)cnt) - *mu);
        *va += a * ((float)(sv / (double)cnt) - *va);
      }
    }
    c->seen[k] = 1;
  }
}
