/* recon_pd.h — PD-Quant's prediction-difference term for reconstruction (ptq.md §6.2): the
 * unit's output runs through the rest of the float network to the logits z_q, compared with the
 * float model's logits z_fp by KL(softmax(z_fp/T) ‖ softmax(z_q/T)) (batchmean) / lamb_r. */
#ifndef ZSQ_QUANT_RECON_PD_H
#define ZSQ_QUANT_RECON_PD_H

#include "float/grad.h"
#include "float/plan.h"

#define ZSQ_PD_T 4.0f      /* softmax temperature (PD-Quant's ResNet setting) */
#define ZSQ_PD_LAMB_R 0.1f /* the KL term is divided by it */

/* The float remainder of the network after one unit, on a minibatch of mb images. */
typedef struct zsq_pd {
  zsq_graph *g; /* unit output -> logits; NULL when the unit's output is the logits */
  int *origin;
  zsq_fplan *p;
  zsq_fgrad *gr;
  const float *zf; /* the float model's logits of every calibration image (logical) */
  int64_t k, mb, y_img;
  /* the minibatch's z_q, dLoss/dz_q, z_fp and dLoss/d(unit output), logical */
  float *zq, *gz, *zfb, *gy;
} zsq_pd;

/* KL(softmax(zf/T) ‖ softmax(zq/T)) summed over the k logits of each of n images, divided by n
 * and lamb_r; g (n·k, may be NULL) receives its gradient with respect to zq. */
double zsq_pd_kl(const float *zq, const float *zf, int64_t n, int64_t k, float *g);

/* Cuts the remainder from folded tensor `exit` (shaped like `shape`, any batch) to the single
 * output of `folded` and plans it for mb images; zf holds k logits per calibration image. When
 * `exit` does not cut the network (other values reach the logits around it), *on = 0 and pd is
 * left empty. */
zsq_status zsq_pd_init(zsq_pd *pd, const zsq_graph *folded, int exit, const zsq_value *shape,
                       const float *zf, int64_t k, int64_t mb, pthreadpool_t tp, int *on,
                       zsq_err *err);
void zsq_pd_free(zsq_pd *pd);

/* For the unit outputs y (logical, mb images) of calibration images idx[0 .. mb): the remainder
 * forward, the KL term (returned) and its gradient with respect to y in pd->gy. */
double zsq_pd_step(zsq_pd *pd, const float *y, const int64_t *idx);

#endif
