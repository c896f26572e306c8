/* label_loss.c — label losses through the softmax Jacobian: dL/dz_k = (dL/dp_y) p_y (δ_ky − p_k),
 * except plain CE whose gradient is (p − onehot)/N. */
#include "synth/label_loss.h"

#include <math.h>
#include <stdlib.h>

void zsq_softmax_row(const float *z, int64_t k, double *p) {
  double mx = z[0], sum = 0.0;
  for (int64_t i = 1; i < k; i++) mx = z[i] > mx ? z[i] : mx;
  for (int64_t i = 0; i < k; i++) sum += p[i] = exp((double)z[i] - mx);
  for (int64_t i = 0; i < k; i++) p[i] /= sum;
}

double zsq_label_loss_apply(zsq_label_loss kind, const float *logits, int64_t n, int64_t k,
                            const int *labels, const float *target, float hast_beta,
                            float hast_gamma, float scale, float *g) {
  if (kind == ZSQ_LABEL_NONE) return 0.0;
  double *p = malloc((size_t)k * sizeof(double));
  if (p == NULL) return NAN;
  double loss = 0.0;
  for (int64_t s = 0; s < n; s++) {
    zsq_softmax_row(logits + s * k, k, p);
    const int y = labels[s];
    double py = p[y] < 1e-30 ? 1e-30 : p[y];
    double dl_dpy = 0.0; /* for the target and HAST losses */
    if (kind == ZSQ_LABEL_CE) {
      loss += -log(py) / (double)n;
      if (g) {
        for (int64_t i = 0; i < k; i++)
          g[s * k + i] += (float)(scale * (p[i] - (i == y)) / (double)n);
      }
      continue;
    }
    if (kind == ZSQ_LABEL_TARGET) {
      const double t = target ? target[s] : 1.0;
      loss += (py - t) * (py - t) / (double)n;
      dl_dpy = 2.0 * (py - t) / (double)n;
    } else { /* HAST, with p_y clamped below 1 because (1 − p)^(γ−1) is singular there */
      if (py > 1.0 - 1e-7) py = 1.0 - 1e-7;
      const double q = 1.0 - py;
      loss += hast_beta * pow(q, hast_gamma) * -log(py) / (double)n;
      dl_dpy = hast_beta / (double)n *
               (hast_gamma * pow(q, hast_gamma - 1.0) * log(py) - pow(q, hast_gamma) / py);
    }
    if (g) {
      for (int64_t i = 0; i < k; i++)
        g[s * k + i] += (float)(scale * dl_dpy * py * ((i == y) - p[i]));
    }
  }
  free(p);
  return loss;
}
