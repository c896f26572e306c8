/* quant.h — post-training quantization: BN folding, quantization points, range calibration,
 * per-channel weights, and the simulated (fake-quant) graph that computes what the integer
 * runtime will compute (docs/quantization.md). */
#ifndef ZSQ_QUANT_QUANT_H
#define ZSQ_QUANT_QUANT_H

#include <pthreadpool.h>
#include <stdint.h>

#include "graph/graph.h"

typedef enum zsq_range_method {
  ZSQ_RANGE_MINMAX,
  ZSQ_RANGE_PERCENTILE,
  ZSQ_RANGE_MSE,
} zsq_range_method;

typedef enum zsq_recon_method {
  ZSQ_RECON_NONE,
  ZSQ_RECON_ADAROUND, /* per layer */
  ZSQ_RECON_BRECQ,    /* per block (quant/blocks.h) */
} zsq_recon_method;

struct zsq_qresult;
/* The cost model of a latency budget: the quantizer builds simulated graphs of r at several weight
 * widths, and the timer (the caller's: the quantizer never calls kernels) measures them. */
typedef struct zsq_layer_timer {
  void *ctx;
  /* An instance of sim, r's simulated graph at r's current layer records, to be timed; r's records
   * may change afterwards, sim outlives the instance. */
  zsq_status (*prepare)(void *ctx, const struct zsq_qresult *r, const zsq_graph *sim,
                        void **instance, zsq_err *err);
  /* Times n instances with their runs taking turns (a change in the machine's load hits them
   * alike): seconds per image of layer i's operator in instance k into
   * layer_seconds[k·n_layers + i], of everything else into other_seconds[k]. */
  zsq_status (*time)(void *ctx, void *const *instances, int n, int n_layers, double *layer_seconds,
                     double *other_seconds, zsq_err *err);
  void (*release)(void *ctx, void *instance);
} zsq_layer_timer;

typedef struct zsq_qscheme {
  int wbits, abits;    /* 8, 4, 3 or 2 */
  int first_last_8bit; /* 8-bit weights of the first and last layer, and 8-bit activations into
                          the first layer, out of it (what the layers after it read) and into
                          the last */
  zsq_range_method act_range, weight_range;
  int weight_asym;        /* asymmetric weights (a zero point per row) on the layers below 8 bits */
  float percentile;       /* for ZSQ_RANGE_PERCENTILE, e.g. 99.99 */
  int bias_correction;    /* ZSQ_BIAS_CORRECTION_*: empirical, or analytic from BN statistics */
  int cle;                /* cross-layer equalisation of the folded graph (quant/dfq.h) */
  zsq_recon_method recon; /* learned weight rounding (and borders) on the calibration images */
  int recon_iters;        /* Adam steps per layer or block */
  float qdrop;            /* QDrop: probability of skipping each activation quantization */
  int aquant_borders;     /* learned per-channel activation rounding borders (AQuant) */
  float border_lr;        /* their Adam learning rate (0: 5e-4, recon.c) */
  int learn_act_steps;    /* LSQ: activation steps learned with the rounding */
  int learn_weight_steps; /* GENIE-M: per-channel weight steps learned with the rounding */
  int pd_loss;            /* PD-Quant: KL to the float logits through the float rest (recon_pd.h) */
  int pd_dc;              /* PD-Quant: BN-statistics correction of the float targets (recon_dc.h) */
  float pd_dc_lamb;       /* its lamb_c (> 0) */
  int pd_dc_steps;        /* its Adam steps per minibatch (≥ 1) */
  uint64_t seed;          /* minibatches and QDrop draws */
  /* Mixed precision: > 0 chooses each free layer's weight bits in {8, 4, 3, 2} (at most wbits)
   * so that all weight codes take at most this many bits (quant/mixed.h). */
  double budget_bits;
  /* Or > 0: so that one image takes at most this many seconds, each layer timed at each width by
   * timer (which must then be set). */
  double budget_seconds;
  zsq_layer_timer timer;
} zsq_qscheme;

/* One quantized activation tensor (per-tensor affine, codes 0 .. 2^bits − 1). */
typedef struct zsq_qpoint {
  int tensor; /* in the folded graph */
  int bits, is_unsigned;
  int64_t channels; /* dim 1 of the tensor (1 for rank < 2): the axis of rounding borders */
  double min, max;  /* observed on the calibration data */
  float scale, zero_point;
} zsq_qpoint;

/* One quantized layer (Conv or Gemm). */
typedef struct zsq_qlayer {
  int node; /* in the folded graph */
  const char *name;
  int wbits, abits;
  int input_point;                              /* index into qpoints, or -1 */
  double weight_sqnr_db;                        /* ‖W‖² / ‖W − Ŵ‖² */
  double isolated_sqnr_db, accumulated_sqnr_db; /* of the layer's output on calibration data */
  /* Filled for the full simulation: the weight tensor in `sim` and its per-row scales. */
  int sim_weight;
  int64_t wrows;
  int row_stride, elem_stride;
  float *wscale;
  float *wzero;   /* per-row zero points of an asymmetric layer, or NULL (symmetric) */
  double seconds; /* latency budgets: its operator's measured time at wbits (0 otherwise) */
} zsq_qlayer;

typedef struct zsq_qresult {
  zsq_graph *folded; /* BN folded, activations fused (float) */
  zsq_graph *sim;    /* folded + quantized weights + FakeQuant nodes */
  zsq_qpoint *points;
  int n_points;
  zsq_qlayer *layers;
  int n_layers;
  /* reconstruction units, and those trained with the PD term / distribution-corrected */
  int recon_units, pd_units, dc_units;
  /* latency budgets (0 otherwise), seconds per image: the chosen bits, every layer at 8 bits, the
   * fastest choice, and the steps that are no Conv/Gemm */
  double predicted_s, all_8bit_s, fastest_s, other_s;
} zsq_qresult;

/* calib: count images, NCHW logical, in the model's normalised input space. */
zsq_status zsq_quantize_graph(const zsq_graph *g, const zsq_qscheme *scheme, const float *calib,
                              int64_t count, pthreadpool_t tp, zsq_qresult *out, zsq_err *err);
void zsq_qresult_free(zsq_qresult *r);

/* Whether a layer at `bits` takes asymmetric weights under a scheme that asks for them: 8-bit
 * layers stay symmetric (their codes minus a zero point would not fit int8). */
static inline int zsq_weight_asym(int scheme_asym, int bits) {
  return scheme_asym && bits < 8;
}

/* The weight codes at `bits`: signed [−2^(b−1), 2^(b−1) − 1], or unsigned [0, 2^b − 1] with a zero
 * point (asym). */
static inline void zsq_weight_code_range(int bits, int asym, float *qmin, float *qmax) {
  *qmin = asym ? 0.0f : -(float)(1 << (bits - 1));
  *qmax = asym ? (float)((1 << bits) - 1) : (float)((1 << (bits - 1)) - 1);
}

/* The grid of one weight row: Ŵ = scale·(clamp(round(W/scale) + zero, qmin, qmax) − zero). */
typedef struct zsq_wgrid {
  float scale, zero, qmin, qmax;
} zsq_wgrid;

/* The grid of a weight row of n values at `bits`: symmetric (zero 0, scale from max |w|) or
 * asymmetric (scale from [min(w, 0), max(w, 0)], integer zero in [0, 2^b − 1]); MSE searches the
 * range shrunk by 30 .. 100 % for the least squared error (exposed for tests). */
zsq_wgrid zsq_weight_grid(const float *w, int64_t n, int bits, int asym, zsq_range_method m);

#endif
