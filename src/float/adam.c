/* adam.c — Adam with bias correction, written to match torch.optim.Adam (no weight decay). */
#include "float/adam.h"

#include <math.h>

#include "core/alloc.h"
#include "float/parallel.h"

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

typedef struct adam_ctx {
  zsq_adam *a;
  float *param;
  const float *grad;
  float step_size, inv_sqrt_c2;
} adam_ctx;

static void adam_range(void *ctx, size_t begin, size_t end) {
  const adam_ctx *c = ctx;
  zsq_adam *a = c->a;
  const float b1 = a->beta1, b2 = a->beta2, eps = a->eps;
  for (size_t i = begin; i < end; i++) {
    const float g = c->grad[i];
    a->m[i] = b1 * a->m[i] + (1.0f - b1) * g;
    a->v[i] = b2 * a->v[i] + (1.0f - b2) * g * g;
    c->param[i] -= c->step_size * a->m[i] / (sqrtf(a->v[i]) * c->inv_sqrt_c2 + eps);
  }
}

void zsq_adam_step(zsq_adam *a, float *param, const float *grad, pthreadpool_t tp) {
  a->step++;
  const float c1 = 1.0f - powf(a->beta1, (float)a->step),
              c2 = 1.0f - powf(a->beta2, (float)a->step);
  adam_ctx c = {a, param, grad, a->lr / c1, 1.0f / sqrtf(c2)};
  zsq_parallel_for(tp, a->n, 16384, adam_range, &c);
}
