/* recon_dc.h — PD-Quant's distribution correction (ptq.md §6.1): a copy x of a unit's float input
 * x0 is optimised so that, per image, the channel statistics of every BN inside the float unit
 * match the BN's running mean and std, plus ||x − x0||² / lamb_c; the corrected x only builds the
 * float targets (and QDrop's float input), never the quantized input. */
#ifndef ZSQ_QUANT_RECON_DC_H
#define ZSQ_QUANT_RECON_DC_H

#include "float/grad.h"
#include "float/plan.h"
#include "quant/blocks.h"
#include "quant/dfq.h"

#define ZSQ_DC_LAMB_C 0.02f /* PD-Quant's ResNet-18/50 setting */
#define ZSQ_DC_STEPS 500
#define ZSQ_DC_LR 1e-3f

/* One BN of the unit: the pre-activation output of the folded conv that swallowed it. */
typedef struct zsq_dc_bn {
  int t; /* tensor of the unit's DC graph */
  const zsq_bn_stats *s;
} zsq_dc_bn;

/* The float unit with its fused clamps split off the BN-folded convs, planned for mb images. */
typedef struct zsq_dc {
  zsq_graph *g;
  int *origin;
  zsq_fplan *p;
  zsq_fgrad *gr;
  zsq_dc_bn *bn;
  int n_bn;
  float lamb_c;
  int64_t mb, x_img;
  float *gx;   /* dLoss/dx of the last zsq_dc_loss, logical */
  double *acc; /* 3 per channel of the widest BN */
} zsq_dc;

/* Cuts unit b out of `folded` (input shaped like `shape`, any batch); stats: zsq_bn_stats_collect's
 * (after CLE, if any). When the unit holds no BN-folded conv, dc->n_bn = 0 and nothing is planned.
 */
zsq_status zsq_dc_init(zsq_dc *dc, const zsq_graph *folded, const zsq_bn_stats *stats,
                       const zsq_block *b, const zsq_value *shape, int64_t mb, float lamb_c,
                       pthreadpool_t tp, zsq_err *err);
void zsq_dc_free(zsq_dc *dc);

/* The DC loss of inputs x (logical, mb images) against x0, its gradient in dc->gx; *bn_part (may
 * be NULL) gets the BN-statistics part alone. */
double zsq_dc_loss(zsq_dc *dc, const float *x, const float *x0, double *bn_part);

/* Corrects the n inputs x0 in minibatches of mb, `steps` Adam steps each at learning rate lr
 * (ReduceLROnPlateau: ×0.1 after 100 steps without improvement, down to 1e-5): x gets the
 * corrected inputs and y (may be NULL) the unit's float output on them, both logical. */
zsq_status zsq_dc_correct(zsq_dc *dc, const float *x0, int64_t n, int steps, float lr, float *x,
                          float *y, zsq_err *err);

#endif
