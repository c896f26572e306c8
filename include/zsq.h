/* zsq.h — the public C API of zsq: zero-shot quantization and integer inference for CNNs. */
#ifndef ZSQ_H
#define ZSQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZSQ_VERSION_MAJOR 0
#define ZSQ_VERSION_MINOR 1
#define ZSQ_VERSION_PATCH 0
#define ZSQ_VERSION_STRING "0.1.0"

/* Every call returns one of these. Messages live on the handle (zsq_*_last_error). */
typedef enum zsq_status {
  ZSQ_OK = 0,
  ZSQ_ERR_INVALID_ARG = 1, /* the caller passed something impossible (NULL, bad size, bad flag) */
  ZSQ_ERR_IO = 2,          /* a file could not be opened or read */
  ZSQ_ERR_FORMAT = 3,      /* a file is malformed, truncated or inconsistent */
  ZSQ_ERR_UNSUPPORTED = 4, /* well-formed input that zsq does not implement (operator, dtype) */
  ZSQ_ERR_NOMEM = 5,
  ZSQ_ERR_INTERNAL = 6,
} zsq_status;

const char *zsq_status_name(zsq_status s);
const char *zsq_version(void);

/* The best instruction set this CPU offers to zsq's kernels ("avx512vnni", "avx2", "neon-dot",
 * "neon", "scalar") and a human-readable list of the CPU features zsq looks at. */
const char *zsq_cpu_isa(void);
const char *zsq_cpu_features(void);
/* The integer kernels a session runs for tier isa (NULL: the best of this CPU), one
 * "family: kernel" line each, into buf (truncated to size). ZSQ_ERR_INVALID_ARG for an unknown
 * tier, ZSQ_ERR_UNSUPPORTED for one this CPU or build lacks. */
zsq_status zsq_kernels_describe(const char *isa, char *buf, size_t size);

/* ---- Float models (ONNX import) ---------------------------------------------------------- */

typedef struct zsq_model zsq_model;

zsq_status zsq_model_create(zsq_model **out);
void zsq_model_destroy(zsq_model *m);
/* Message of the last failed call on this handle ("" if none). */
const char *zsq_model_last_error(const zsq_model *m);

/* Import an ONNX file (or an in-memory ONNX buffer). The float graph keeps BatchNormalization. */
zsq_status zsq_model_load_onnx(zsq_model *m, const char *path);
zsq_status zsq_model_load_onnx_buffer(zsq_model *m, const void *data, size_t size);
/* Load either format, by content: a quantized .zsq file or an ONNX model. */
zsq_status zsq_model_load(zsq_model *m, const char *path);
/* Save a quantized model as .zsq (docs/file-format.md). */
zsq_status zsq_model_save(zsq_model *m, const char *path);
/* 1 for a quantized model (from zsq_quantize or a .zsq file): runs as the simulation. */
int zsq_model_is_quantized(const zsq_model *m);

/* The model's single image input: logical NCHW dims (dims[0] is the batch, -1 if dynamic). */
zsq_status zsq_model_input_shape(const zsq_model *m, int64_t dims[4]);
/* Number of output features per image of the model's first output (e.g. 10 classes). */
int64_t zsq_model_output_size(const zsq_model *m);
/* A metadata_props value of the ONNX file, or NULL when absent. */
const char *zsq_model_metadata(const zsq_model *m, const char *key);

typedef struct zsq_layer_info {
  const char *name;    /* node name (or a generated one) */
  const char *op;      /* ONNX operator type */
  int out_rank;        /* rank of the first output */
  int64_t out_dims[8]; /* logical (ONNX order) output dims for batch 1 */
  int64_t params;      /* number of constant parameters the node reads */
  int64_t macs;        /* multiply-accumulates per image */
  int is_batchnorm;
} zsq_layer_info;

size_t zsq_model_layer_count(const zsq_model *m);
zsq_status zsq_model_layer(const zsq_model *m, size_t i, zsq_layer_info *info);

/* ---- Float inference ------------------------------------------------------------------- */

typedef struct zsq_session zsq_session;

typedef struct zsq_session_options {
  int64_t batch;      /* images per run (>= 1) */
  void *threadpool;   /* a caller-owned pthreadpool_t, or NULL */
  int threads;        /* with threadpool NULL: > 1 makes the session own a pool of this size */
  int fold_batchnorm; /* 1: fold BN into conv and fuse activations (inference); 0: keep the graph */
  /* Quantized models run on the integer runtime; simulate = 1 runs the float simulation instead. */
  int simulate;
  const char *isa; /* integer runtime: NULL for the best kernels of this CPU, or a tier name */
} zsq_session_options;

/* Create an inference session of the model for a fixed batch size. The model must outlive it. */
zsq_status zsq_session_create(zsq_model *m, const zsq_session_options *opt, zsq_session **out);
void zsq_session_destroy(zsq_session *s);
const char *zsq_session_last_error(const zsq_session *s);
/* input: batch images, NCHW float32 (already normalised); output: batch × output_size floats. */
zsq_status zsq_session_run(zsq_session *s, const float *input, float *output);
/* What runs the session: "float", "float simulation" or "integer runtime (KERNEL)". */
const char *zsq_session_engine(const zsq_session *s);

/* ---- Datasets ------------------------------------------------------------------------- */

typedef struct zsq_dataset zsq_dataset;

typedef enum zsq_split { ZSQ_SPLIT_TRAIN = 0, ZSQ_SPLIT_TEST = 1 } zsq_split;

zsq_status zsq_dataset_create(zsq_dataset **out);
void zsq_dataset_destroy(zsq_dataset *d);
const char *zsq_dataset_last_error(const zsq_dataset *d);
/* Load an MNIST-style IDX pair (images + labels, gzip or raw) from dir: for Fashion-MNIST,
 * dir is /usr/share/datasets/fashion-mnist. */
zsq_status zsq_dataset_load_idx(zsq_dataset *d, const char *dir, zsq_split split);
size_t zsq_dataset_count(const zsq_dataset *d);
/* Image geometry: channels, height, width. */
void zsq_dataset_geometry(const zsq_dataset *d, int *c, int *h, int *w);
const uint8_t *zsq_dataset_image(const zsq_dataset *d, size_t i); /* c*h*w bytes, CHW */
int zsq_dataset_label(const zsq_dataset *d, size_t i);

/* ---- Calibration data and synthesis ------------------------------------------------------ */

/* A calibration set: images (float, the model's normalised input space, NCHW) with target labels.
 */
typedef struct zsq_calib zsq_calib;

zsq_status zsq_calib_create(zsq_calib **out);
void zsq_calib_destroy(zsq_calib *c);
const char *zsq_calib_last_error(const zsq_calib *c);
/* The versioned .zsd file (docs/file-format.md): save, and load with full validation. */
zsq_status zsq_calib_save(zsq_calib *c, const char *path);
zsq_status zsq_calib_load(zsq_calib *c, const char *path);
/* Replace the set's contents with copies of images (count × c × h × w) and labels. */
zsq_status zsq_calib_set(zsq_calib *c, int64_t count, int channels, int height, int width,
                         const float *images, const int *labels, const char *method, uint64_t seed);
int64_t zsq_calib_count(const zsq_calib *c);
void zsq_calib_geometry(const zsq_calib *c, int *channels, int *height, int *width);
const float *zsq_calib_image(const zsq_calib *c, int64_t i); /* C*H*W floats */
int zsq_calib_label(const zsq_calib *c, int64_t i);
const char *zsq_calib_method(const zsq_calib *c);
uint64_t zsq_calib_seed(const zsq_calib *c);

typedef void (*zsq_synth_progress_fn)(void *ctx, int64_t batch, int64_t batches, int64_t iter,
                                      int64_t iters, double loss);

typedef struct zsq_synth_options {
  const char *method; /* noise, zeroq, dsg, intraq, hast, centres, gzsq, genie */
  int64_t count;      /* images to make */
  int64_t batch;      /* images optimised together (0: the method's default) */
  int64_t iters;      /* optimisation steps per batch (0: the method's default) */
  float lr;           /* Adam learning rate (0: the method's default) */
  uint64_t seed;
  int threads;
  zsq_synth_progress_fn progress; /* may be NULL */
  void *progress_ctx;
  /* Method-specific knobs: 0 keeps the method's default; a negative value turns the term off. */
  float target_lo; /* intraq: half the images get a soft target U(target_lo, 1); 1: all hard */
  float mdc_lower, mdc_upper;      /* intraq: marginal distance constraint margins on 1 − cos */
  float centre_weight, centre_sep; /* centres: weights of the centring and separation terms */
  int fold_batchnorm; /* 1: fold BatchNorm into the convs first (synthesise as for a BN-free
                         model) */
  int swing; /* GENIE's swing convolution (strided convs see a random ±1-pixel shift each step):
                0 the method's default (on for genie only), 1 on, -1 off */
  const float *input_lo, *input_hi; /* per input channel: the images stay inside [lo, hi], e.g.
                                       the normalised pixel range (0 − mean)/std … (1 − mean)/std
                                       (projected after every step; not genie's
                                       generator output); NULL: unbounded */
} zsq_synth_options;

typedef struct zsq_synth_report {
  double bn_distance; /* mean over BN layers of (1/C) Σ (μ − μ̂)² + (σ − σ̂)², whole set */
  double mean_confidence; /* mean max softmax probability of the teacher */
  double label_agreement; /* fraction whose teacher argmax equals the target label */
  double class_entropy; /* entropy of the teacher's argmax histogram / log(classes), 1 = balanced */
  int64_t min_class, max_class; /* smallest and largest argmax class count */
  int bn_layers;                /* BN layers bn_distance averages over (0: not defined) */
  double seconds;
} zsq_synth_report;

/* Synthesise a calibration set from the model alone. The report may be NULL. */
zsq_status zsq_synthesize(zsq_model *m, const zsq_synth_options *opt, zsq_calib *out,
                          zsq_synth_report *report);

/* ---- Post-training quantization (simulation) -------------------------------------------- */

/* Bias correction (docs/quantization.md): empirical measures each layer's mean output error on
 * the calibration images; analytic (DFQ) computes it from the BatchNorm statistics. */
enum {
  ZSQ_BIAS_CORRECTION_NONE = 0,
  ZSQ_BIAS_CORRECTION_EMPIRICAL = 1,
  ZSQ_BIAS_CORRECTION_ANALYTIC = 2,
};

typedef struct zsq_quant_options {
  int wbits, abits;          /* 8, 4, 3 or 2 */
  int quantize_all;          /* 0: first and last layer stay at 8 bits, and so do the first layer's
                                output and the last layer's input (the default scheme) */
  const char *act_range;     /* "minmax", "percentile" or "mse" (NULL: mse) */
  const char *weight_range;  /* "minmax" or "mse" (NULL: mse) */
  const char *weight_scheme; /* "sym" or "asym" (NULL: sym): asym gives every layer below 8 bits
                                a zero point per output channel; 8-bit layers stay symmetric */
  float percentile;          /* for act_range "percentile" (0: 99.99) */
  int bias_correction;       /* ZSQ_BIAS_CORRECTION_*: none (0), empirical or analytic */
  int cle;                   /* 1: cross-layer equalisation before calibration (a ReLU6 between
                                equalised layers becomes a ReLU) */
  const char *recon;         /* NULL: none; "adaround" (per layer) or "brecq" (per block) */
  int recon_iters;           /* Adam steps per layer or block (0: 1000) */
  float qdrop;               /* QDrop: drop probability of each activation quantization while
                                reconstructing (0: off); needs recon */
  const char *border;        /* NULL / "nearest", or "aquant": learned per-channel activation
                                rounding borders; needs recon */
  int learn_act_steps;       /* 1: LSQ, the activation steps learned with the rounding; needs
                                recon */
  int learn_weight_steps;    /* 1: GENIE-M, the per-channel weight steps learned with the
                                rounding; needs recon */
  int pd_loss;               /* 1: PD-Quant's prediction-difference loss, KL to the float logits
                                through the float rest of the network; needs recon */
  int pd_dc;                 /* 1: PD-Quant's distribution correction: each unit's float input is
                                optimised towards its BatchNorm statistics before it builds the
                                float targets; needs recon */
  float pd_dc_lamb;          /* its lamb_c, the weight 1/lamb_c of ||x − x0||² (0: 0.02) */
  int pd_dc_steps;           /* its Adam steps per minibatch of 32 (0: 500) */
  uint64_t seed;             /* reconstruction minibatches and QDrop draws */
  int threads;
  /* Mixed precision (one of them > 0): weight bits per layer from {8, 4, 3, 2}, at most wbits,
   * chosen by per-layer sensitivity so that the weight codes fit budget_bytes, or budget_fraction
   * of their size at 8 bits, or so that one image (batch 1) takes at most budget_seconds in the
   * integer runtime on this machine with `threads`: each layer's operator is timed here at each
   * width (docs/quantization.md). First and last layer stay at 8 bits unless quantize_all. */
  double budget_bytes, budget_fraction, budget_seconds;
} zsq_quant_options;

typedef struct zsq_quant_layer {
  const char *name;
  int wbits, abits;      /* weight and input-activation bits */
  double in_min, in_max; /* input range seen on the calibration data */
  float in_scale, in_zero_point;
  double weight_sqnr_db;      /* weights alone */
  double isolated_sqnr_db;    /* output, only this layer quantized */
  double accumulated_sqnr_db; /* output, the whole model quantized */
  int64_t weights;            /* weight codes (wbits each) */
  int weight_asym;            /* 1: asymmetric weights, a zero point per output channel */
  int wzero_min, wzero_max;   /* the range of those zero points (0 when symmetric) */
  double seconds; /* latency budgets: its operator's measured time at wbits per image (0 when the
                     zsq_quantize that made the model had none, and for a model from a file) */
} zsq_quant_layer;

/* Quantize m with the calibration set; out becomes the simulated quantized model (a float graph
 * computing what the integer runtime will compute), usable with zsq_session_*. */
zsq_status zsq_quantize(zsq_model *m, const zsq_quant_options *opt, const zsq_calib *calib,
                        zsq_model *out);
size_t zsq_model_quant_layer_count(const zsq_model *m);

/* What reconstruction did in the zsq_quantize that made a model (all 0 otherwise, and for a model
 * loaded from a file). */
typedef struct zsq_recon_summary {
  int units;    /* reconstruction units: layers (adaround) or blocks (brecq) */
  int pd_units; /* units trained with the PD term (the others' outputs do not cut the network) */
  int dc_units; /* units whose float inputs were distribution-corrected (those with a BN) */
} zsq_recon_summary;
zsq_status zsq_model_recon_summary(const zsq_model *m, zsq_recon_summary *out);

/* What a latency budget measured in the zsq_quantize that made a model, seconds per image on this
 * machine (all 0 without one, and for a model loaded from a file). */
typedef struct zsq_latency_summary {
  double budget;    /* budget_seconds */
  double predicted; /* the chosen bits: their layers' times plus `other` */
  double all_8bit;  /* every layer at 8-bit weights */
  double fastest;   /* every free layer at its fastest width: the least budget accepted */
  double other;     /* the steps that are no Conv/Gemm (quantize, add, pooling, softmax, ...) */
  int threads;      /* the threads they were measured with */
} zsq_latency_summary;
zsq_status zsq_model_latency_summary(const zsq_model *m, zsq_latency_summary *out);
zsq_status zsq_model_quant_layer(const zsq_model *m, size_t i, zsq_quant_layer *layer);

#ifdef __cplusplus
}
#endif

#endif /* ZSQ_H */
