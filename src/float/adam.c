/* adam.c — Adam with bias correction, written to match torch.optim.Adam (no weight decay). */
#include "float/adam.h"

#include <math.h>

#include "core/alloc.h"

int zsq_adam_init(zsq_adam *a, size_t n, float lr) {
  a->lr = lr;
  a->beta1 = 0.9f;
  a->beta2 = 0.999f;
  a->eps = 1e-8f;
  a->n = n;
  a->step = 0;
  a->m = zsq_aligned_calloc(n * sizeof(float));
  a->v = zsq_aligned_calloc(n * sizeof(float));
  if (a->m == NULL || a->v == NULL) {
    zsq_adam_free(a);
    return 0;
  }
  return 1;
}

void zsq_adam_free(zsq_adam *a) {
  zsq_aligned_free(a->m);
  zsq_aligned_free(a->v);
  a->m = a->v = NULL;
}

void zsq_adam_step(zsq_adam *a, float *param, const float *grad) {
  a->step++;
  const float b1 = a->beta1, b2 = a->beta2;
  const float c1 = 1.0f - powf(b1, (float)a->step), c2 = 1.0f - powf(b2, (float)a->step);
  const float step_size = a->lr / c1, inv_sqrt_c2 = 1.0f / sqrtf(c2);
  for (size_t i = 0; i < a->n; i++) {
    a->m[i] = b1 * a->m[i] + (1.0f - b1) * grad[i];
    a->v[i] = b2 * a->v[i] + (1.0f - b2) * grad[i] * grad[i];
    param[i] -= step_size * a->m[i] / (sqrtf(a->v[i]) * inv_sqrt_c2 + a->eps);
  }
}
