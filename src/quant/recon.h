/* recon.h — reconstruction: per layer (AdaRound) or per block (BRECQ), learn the weight rounding
 * and, where the simulation has them, the activation rounding borders (AQuant) so that each unit
 * fed its quantized input reproduces the float model's output; optional QDrop. */
#ifndef ZSQ_QUANT_RECON_H
#define ZSQ_QUANT_RECON_H

#include "quant/dfq.h"
#include "quant/quant.h"

/* Rewrites, unit by unit in order, the weights and border constants of r->sim; calib holds
 * count images (NCHW). The scheme gives the method, steps, QDrop probability and seed; stats
 * (zsq_bn_stats_collect's, needed with sc->pd_dc) the BN statistics of r->folded. Sets
 * r->recon_units, r->pd_units and r->dc_units. */
zsq_status zsq_reconstruct(zsq_qresult *r, const zsq_qscheme *sc, const zsq_bn_stats *stats,
                           const float *calib, int64_t count, pthreadpool_t tp, zsq_err *err);

#endif
