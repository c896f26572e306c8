/* adaround.h — AdaRound (Nagel et al. 2020): per-layer learned rounding of the weights, so each
 * quantized layer reproduces the float layer's output on its quantized input. */
#ifndef ZSQ_QUANT_ADAROUND_H
#define ZSQ_QUANT_ADAROUND_H

#include "quant/quant.h"

/* Rewrites the weights of every layer of r->sim, in order, with learned rounding; calib holds
 * count images (NCHW). iters: Adam steps per layer. */
zsq_status zsq_adaround(zsq_qresult *r, const float *calib, int64_t count, int iters,
                        pthreadpool_t tp, zsq_err *err);

#endif
