/* feature_loss.c — class centroids of penultimate features and the cosine-margin loss with its
 * gradient: ∂cos/∂f = c/(‖f‖‖c‖) − cos·f/‖f‖². */
#include "synth/feature_loss.h"

#include <math.h>
#include <stdlib.h>

#define COS_EPS 1e-6 /* torch.nn.CosineSimilarity's eps, on the product of the norms */

int zsq_centroids_init(zsq_centroids *c, int64_t classes, int64_t dim) {
  c->classes = classes;
  c->dim = dim;
  c->sum = calloc((size_t)(classes * dim), sizeof(double));
  c->count = calloc((size_t)classes, sizeof(int64_t));
  return c->sum != NULL && c->count != NULL;
}

void zsq_centroids_free(zsq_centroids *c) {
  free(c->sum);
  free(c->count);
  c->sum = NULL;
  c->count = NULL;
}

void zsq_centroids_add(zsq_centroids *c, const float *f, const int *labels, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double *s = c->sum + labels[i] * c->dim;
    for (int64_t d = 0; d < c->dim; d++) s[d] += f[i * c->dim + d];
    c->count[labels[i]]++;
  }
}

void zsq_centroids_for(const zsq_centroids *c, const int *labels, int64_t n, float *centre,
                       float *mask) {
  for (int64_t i = 0; i < n; i++) {
    const int64_t k = labels[i], cnt = c->count[k];
    mask[i] = cnt > 0 ? 1.0f : 0.0f;
    for (int64_t d = 0; d < c->dim; d++) {
      centre[i * c->dim + d] = cnt > 0 ? (float)(c->sum[k * c->dim + d] / (double)cnt) : 0.0f;
    }
  }
}

double zsq_mdc_loss(const float *f, const float *centre, const float *mask, int64_t n, int64_t dim,
                    float lower, float upper, float scale, float *gf) {
  double masked = 0.0, loss = 0.0;
  for (int64_t i = 0; i < n; i++) masked += mask[i];
  const double norm = 1.0 / (masked + 1e-6);
  for (int64_t i = 0; i < n; i++) {
    if (mask[i] == 0.0f) continue;
    const float *fi = f + i * dim, *ci = centre + i * dim;
    double dot = 0.0, ff = 0.0, cc = 0.0;
    for (int64_t d = 0; d < dim; d++) {
      dot += (double)fi[d] * ci[d];
      ff += (double)fi[d] * fi[d];
      cc += (double)ci[d] * ci[d];
    }
    const double denom = fmax(sqrt(ff) * sqrt(cc), COS_EPS), cosv = dot / denom;
    const double dist = 1.0 - cosv;
    double dl_dcos = 0.0;
    if (lower - dist > 0) {
      loss += (lower - dist) * norm;
      dl_dcos += norm;
    }
    if (dist - upper > 0) {
      loss += (dist - upper) * norm;
      dl_dcos -= norm;
    }
    if (gf == NULL || dl_dcos == 0.0 || denom == COS_EPS) continue;
    for (int64_t d = 0; d < dim; d++) {
      const double dcos = ci[d] / denom - cosv * fi[d] / ff;
      gf[i * dim + d] += (float)(scale * dl_dcos * dcos);
    }
  }
  return loss;
}
