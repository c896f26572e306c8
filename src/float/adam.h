/* adam.h — the Adam optimiser (Kingma & Ba) over one flat parameter buffer. */
#ifndef ZSQ_FLOAT_ADAM_H
#define ZSQ_FLOAT_ADAM_H

#include <pthreadpool.h>
#include <stddef.h>

typedef struct zsq_adam {
  float lr, beta1, beta2, eps;
  size_t n;
  long step;
  float *m, *v;
} zsq_adam;

/* PyTorch's defaults: betas (0.9, 0.999), eps 1e-8. Returns 0 on allocation failure. */
int zsq_adam_init(zsq_adam *a, size_t n, float lr);
void zsq_adam_free(zsq_adam *a);
/* param -= lr * m_hat / (sqrt(v_hat) + eps), with bias-corrected moments of grad. */
void zsq_adam_step(zsq_adam *a, float *param, const float *grad, pthreadpool_t tp);

#endif
