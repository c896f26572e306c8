/* synth.h — zero-shot calibration-data synthesis: optimise images so the teacher's BatchNorm
 * layers see their stored statistics (methods in docs/synthesis.md). */
#ifndef ZSQ_SYNTH_SYNTH_H
#define ZSQ_SYNTH_SYNTH_H

#include <pthreadpool.h>
#include <stdint.h>

#include "graph/graph.h"
#include "synth/label_loss.h"
#include "zsq.h"

typedef enum zsq_bn_loss_kind {
  ZSQ_BN_NONE,
  ZSQ_BN_PER_SAMPLE, /* ZeroQ / DSG: per-image mean and std, plus the input layer */
  ZSQ_BN_BATCH,      /* IntraQ / HAST / centres / gzsq: batch mean and variance (L-MSE) */
  ZSQ_BN_GENIE,      /* GENIE: batch mean and unbiased std (L-GEN), the input per sample */
} zsq_bn_loss_kind;

typedef struct zsq_synth_cfg {
  zsq_bn_loss_kind bn;
  zsq_label_loss label;
  int optimise;     /* 0: the initial images are the result (noise) */
  int init_uniform; /* 1: ZeroQ's tiny uniform init; 0: N(0, 1) */
  float lr;
  int64_t count, batch, iters, patience;
  float dsg_eps; /* > 0: DSG slack margins at this percentile of Gaussian-input deviations */
  int dsg_lse;   /* DSG layer-wise sample enhancement */
  float lor_p, lor_scale_lo; /* random-resized crop + flip probability and minimum area */
  float hast_beta, hast_gamma;
  float target_lo; /* IntraQ soft targets: t ~ U(target_lo, 1) with p 0.5, else 1 (1: hard) */
  float mdc_lower, mdc_upper;       /* IntraQ MDC margins on 1 − cos (lower 0, upper >= 2: off) */
  float centre_weight, centre_sep;  /* centres: centring and separation weights (0: off) */
  float centre_ratio, centre_decay; /* centres: separation ratio, EMA rate */
  int weight_stats; /* gzsq: batch L-MSE targets predicted from the weights, not BN */
  int genie; /* GENIE-D: a generator and per-image latents are optimised (lr: the latents') */
  int64_t gen_latent, gen_c0, gen_c1; /* latent width, generator channels */
  float gen_lr;                       /* the generator's Adam lr, ×0.95 every 100 steps */
  int swing; /* strided convs read their input through a shift redrawn every step (swing.h) */
  /* per channel: images projected into [lo, hi] after every step (genie ignores them: its
   * generator's output is not clipped); NULL: off */
  const float *lo, *hi;
  uint64_t seed;
  pthreadpool_t threadpool;
  zsq_synth_progress_fn progress;
  void *progress_ctx;
} zsq_synth_cfg;

/* The method's published defaults (count and seed left as they are). */
zsq_status zsq_synth_cfg_for(const char *method, zsq_synth_cfg *cfg, zsq_err *err);

/* Images are written logical NCHW (count × C × H × W) into images, labels into labels. */
zsq_status zsq_synth_run(const zsq_graph *g, const zsq_synth_cfg *cfg, float *images, int *labels,
                         zsq_synth_report *report, zsq_err *err);

/* Quality figures of an image set under the teacher (any set: synthetic or real). */
zsq_status zsq_synth_quality(const zsq_graph *g, const float *images, const int *labels,
                             int64_t count, pthreadpool_t tp, zsq_synth_report *report,
                             zsq_err *err);

#endif
