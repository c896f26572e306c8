/* label_loss.h — losses on the teacher's logits toward target labels, with their gradients:
 * cross-entropy, IntraQ's target-probability loss and HAST's hard-sample focal CE
 * (../shared/reference/synthesis.md §1). */
#ifndef ZSQ_SYNTH_LABEL_LOSS_H
#define ZSQ_SYNTH_LABEL_LOSS_H

#include <stdint.h>

typedef enum zsq_label_loss {
  ZSQ_LABEL_NONE,
  ZSQ_LABEL_CE,     /* mean_n −log p_y */
  ZSQ_LABEL_TARGET, /* IntraQ: mean_n (p_y − t_n)², t_n the image's soft target (default 1) */
  ZSQ_LABEL_HAST,   /* HAST: β mean_n (1 − p_y)^γ · (−log p_y), weight not detached */
} zsq_label_loss;

/* logits: n × k; adds scale·dL/dlogits into g (if not NULL); returns the loss. target (per
 * image, NULL: all 1) is the target loss's t_n. */
double zsq_label_loss_apply(zsq_label_loss kind, const float *logits, int64_t n, int64_t k,
                            const int *labels, const float *target, float hast_beta,
                            float hast_gamma, float scale, float *g);

/* Softmax of one row (numerically stable), into p. */
void zsq_softmax_row(const float *z, int64_t k, double *p);

#endif
