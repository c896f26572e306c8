/* synth.c — the pixel-optimisation loop shared by noise, ZeroQ, DSG, IntraQ, HAST, centres,
 * GZSQ and (through its generator) GENIE. */
#include "synth/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "float/adam.h"
#include "float/grad.h"
#include "float/layout.h"
#include "float/parallel.h"
#include "float/plan.h"
#include "graph/passes.h"
#include "synth/augment.h"
#include "synth/bn_fused.h"
#include "synth/bn_loss.h"
#include "synth/centres.h"
#include "synth/feature_loss.h"
#include "synth/generator.h"
#include "synth/swing.h"
#include "synth/weight_stats.h"

/* ReduceLROnPlateau(mode=min, factor 0.1, threshold 1e-4 rel, min_lr 1e-4), PyTorch semantics. */
typedef struct plateau {
  double best;
  int64_t bad, patience;
} plateau;

static void plateau_step(plateau *p, double loss, zsq_adam *adam) {
  if (loss < p->best * (1.0 - 1e-4)) {
    p->best = loss;
    p->bad = 0;
    return;
  }
  if (++p->bad > p->patience) {
    float lr = adam->lr * 0.1f;
    adam->lr = lr < 1e-4f ? 1e-4f : lr;
    p->bad = 0;
  }
}

/* A batch-sized plan with gradients, the hooks, and the per-batch scratch. */
typedef struct synth_ctx {
  const zsq_graph *g;
  const zsq_synth_cfg *cfg;
  zsq_fplan *plan;
  zsq_fgrad *grad;
  zsq_bn_hook *hooks;
  int n_hooks;
  float *slack_mean, *slack_std; /* per hook (DSG) */
  int64_t batch, c, h, w, classes;
  float *x, *gx, *sample_w;
  zsq_crop *crops;
  float *target;        /* per image: the target loss's t_n */
  int mdc;              /* IntraQ's MDC is on */
  int feat;             /* the penultimate feature tensor (input of the last Gemm/MatMul) */
  int64_t feat_dim;     /* its width */
  zsq_centroids cents;  /* class centroids of the features of finished batches */
  float *centre, *mask; /* per image: its class centroid and whether there is one */
  int centres_on;       /* the centres method's class centres */
  zsq_centres cen;
  unsigned char *agree; /* per image: the teacher's argmax is its label (centres) */
  int fuse_bn;          /* batch BN terms through bn_fused.h (not with centres, which adds into
                           the hook gradients itself) */
  zsq_bn_fused fused;
} synth_ctx;

static void ctx_free(synth_ctx *s) {
  zsq_fgrad_destroy(s->grad);
  zsq_fplan_destroy(s->plan);
  zsq_bn_fused_free(&s->fused);
  zsq_bn_hooks_free(s->hooks, s->n_hooks);
  free(s->slack_mean);
  free(s->slack_std);
  zsq_aligned_free(s->x);
  zsq_aligned_free(s->gx);
  free(s->sample_w);
  free(s->crops);
  free(s->target);
  zsq_centroids_free(&s->cents);
  free(s->centre);
  free(s->mask);
  zsq_centres_free(&s->cen);
  free(s->agree);
}

/* The centres method observes the deep BN inputs, l >= (L + 1)/2 − 2 as ClusterQ and FDDA. */
static zsq_status centres_init(synth_ctx *s, zsq_err *err) {
  int first = (s->n_hooks + 1) / 2 - 2;
  first = first < 0 ? 0 : first;
  s->centres_on = 1;
  s->agree = malloc((size_t)s->batch);
  if (!s->agree || !zsq_centres_init(&s->cen, s->n_hooks - first, s->classes, s->batch)) {
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  for (int l = first; l < s->n_hooks; l++) {
    zsq_centre_layer *L = &s->cen.layers[l - first];
    const zsq_value *v = zsq_fplan_value(s->plan, s->hooks[l].tensor);
    L->x = v->data;
    L->gx = zsq_fgrad_of(s->grad, s->hooks[l].tensor);
    L->channels = s->hooks[l].channels;
    L->pixels = (int64_t)v->numel / (s->batch * L->channels);
  }
  s->cen.weight = s->cfg->centre_weight;
  s->cen.sep = s->cfg->centre_sep;
  s->cen.ratio = s->cfg->centre_ratio;
  s->cen.decay = s->cfg->centre_decay;
  return zsq_centres_alloc(&s->cen) ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
}

/* IntraQ's MDC observes the input of the layer producing the logits. */
static zsq_status mdc_init(synth_ctx *s, zsq_err *err) {
  const zsq_graph *g = s->g;
  const int prod = g->tensors[g->outputs[0]].producer;
  const zsq_node *last = prod >= 0 ? &g->nodes[prod] : NULL;
  if (last == NULL || (last->op != ZSQ_OP_GEMM && last->op != ZSQ_OP_MATMUL)) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "the marginal distance constraint needs logits from a Gemm/MatMul layer");
  }
  s->feat = last->inputs[0];
  const zsq_value *f = zsq_fplan_value(s->plan, s->feat);
  if (f->rank != 2) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "the penultimate feature has rank %d, not 2",
                    f->rank);
  }
  s->feat_dim = f->dims[1];
  s->mdc = 1;
  s->centre = malloc((size_t)(s->batch * s->feat_dim) * sizeof(float));
  s->mask = malloc((size_t)s->batch * sizeof(float));
  if (!zsq_centroids_init(&s->cents, s->classes, s->feat_dim) || !s->centre || !s->mask) {
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  return ZSQ_OK;
}

static zsq_status ctx_init(synth_ctx *s, const zsq_graph *g, const zsq_synth_cfg *cfg,
                           int64_t batch, zsq_err *err) {
  memset(s, 0, sizeof *s);
  s->g = g;
  s->cfg = cfg;
  s->batch = batch;
  ZSQ_TRY(zsq_fplan_create(g, batch, cfg->threadpool, &s->plan, err));
  const zsq_value *in = zsq_fplan_value(s->plan, g->inputs[0]),
                  *out = zsq_fplan_value(s->plan, g->outputs[0]);
  if (in->rank != 4)
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "synthesis needs an image (rank-4) input");
  s->c = in->dims[1];
  s->h = in->dims[2];
  s->w = in->dims[3];
  s->classes = out->rank >= 2 ? (int64_t)(out->numel / (size_t)batch) : 1;
  if (cfg->label != ZSQ_LABEL_NONE && out->rank != 2) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "label losses need a [N, classes] output (it has rank %d)", out->rank);
  }
  if (cfg->optimise) ZSQ_TRY(zsq_fgrad_create(s->plan, NULL, 0, &s->grad, err));
  const int with_input = cfg->bn == ZSQ_BN_PER_SAMPLE || cfg->bn == ZSQ_BN_GENIE;
  s->n_hooks = cfg->weight_stats ? zsq_weight_hooks_find(g, &s->hooks)
                                 : zsq_bn_hooks_find(g, with_input, &s->hooks);
  if (s->n_hooks < 0) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  if (cfg->weight_stats && s->n_hooks == 0) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "gzsq found no Conv layer whose input statistics it can predict");
  }
  if (cfg->bn != ZSQ_BN_NONE && s->n_hooks <= with_input) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "the model has no BatchNormalization layers to match; use --method gzsq for "
                    "BN-free models");
  }
  const size_t img = (size_t)(s->c * s->h * s->w);
  s->x = zsq_aligned_alloc((size_t)batch * img * sizeof(float));
  s->gx = zsq_aligned_alloc((size_t)batch * img * sizeof(float));
  s->sample_w = malloc((size_t)batch * sizeof(float));
  s->crops = calloc((size_t)batch, sizeof(zsq_crop));
  s->target = malloc((size_t)batch * sizeof(float));
  s->slack_mean = calloc((size_t)s->n_hooks + 1, sizeof(float));
  s->slack_std = calloc((size_t)s->n_hooks + 1, sizeof(float));
  if (!s->x || !s->gx || !s->sample_w || !s->crops || !s->target || !s->slack_mean ||
      !s->slack_std) {
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory for a synthesis batch of %lld",
                    (long long)batch);
  }
  if (cfg->optimise && (cfg->mdc_lower > 0 || cfg->mdc_upper < 2)) ZSQ_TRY(mdc_init(s, err));
  if (cfg->optimise && (cfg->centre_weight > 0 || cfg->centre_sep > 0)) {
    ZSQ_TRY(centres_init(s, err));
  }
  s->fuse_bn = cfg->optimise && (cfg->bn == ZSQ_BN_BATCH || cfg->bn == ZSQ_BN_GENIE) &&
               !s->centres_on && zsq_bn_fused_init(&s->fused, s->plan, s->hooks, s->n_hooks);
  if (!s->fuse_bn) zsq_bn_fused_free(&s->fused);
  return ZSQ_OK;
}

static int cmp_float(const void *a, const void *b) {
  const float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* DSG: per-layer margins = the eps-percentile of |target − statistic| over Gaussian inputs. */
static zsq_status dsg_margins(synth_ctx *s, zsq_rng *rng, zsq_err *err) {
  float *in = zsq_fplan_value(s->plan, s->g->inputs[0])->data;
  const size_t n = (size_t)(s->batch * s->c * s->h * s->w);
  for (size_t i = 0; i < n; i++) in[i] = (float)zsq_rng_normal(rng);
  zsq_fplan_forward(s->plan);
  for (int l = 0; l < s->n_hooks; l++) {
    const zsq_bn_hook *hk = &s->hooks[l];
    const zsq_value *v = zsq_fplan_value(s->plan, hk->tensor);
    const int64_t C = hk->channels, pixels = (int64_t)v->numel / (s->batch * C);
    float *dm = malloc((size_t)(s->batch * C) * sizeof(float)),
          *ds = malloc((size_t)(s->batch * C) * sizeof(float));
    double *mu = malloc((size_t)C * sizeof(double)), *sd = malloc((size_t)C * sizeof(double));
    if (!dm || !ds || !mu || !sd) {
      free(dm), free(ds), free(mu), free(sd);
      return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    }
    for (int64_t b = 0; b < s->batch; b++) {
      zsq_channel_stats((const float *)v->data + b * pixels * C, pixels, C, NULL, mu, sd);
      for (int64_t c = 0; c < C; c++) {
        dm[b * C + c] = (float)fabs(hk->mean[c] - mu[c]);
        ds[b * C + c] = (float)fabs(hk->std[c] - sd[c]);
      }
    }
    const size_t cnt = (size_t)(s->batch * C), at = (size_t)(s->cfg->dsg_eps * (float)(cnt - 1));
    qsort(dm, cnt, sizeof(float), cmp_float);
    qsort(ds, cnt, sizeof(float), cmp_float);
    s->slack_mean[l] = dm[at];
    s->slack_std[l] = ds[at];
    free(dm), free(ds), free(mu), free(sd);
  }
  return ZSQ_OK;
}

/* Per-image work of a step, split across the threadpool: crops, per-sample BN losses. */
typedef struct step_ctx {
  synth_ctx *s;
  int hook;
  float *gh; /* the hook's gradient buffer, fetched on the calling thread */
  const float *gin;
  double *loss; /* per image, summed in order afterwards: deterministic for any thread count */
  const int *labels;
} step_ctx;

static void crop_forward_range(void *ctx, size_t begin, size_t end) {
  const step_ctx *c = ctx;
  synth_ctx *s = c->s;
  const int64_t img = s->c * s->h * s->w;
  float *in = zsq_fplan_value(s->plan, s->g->inputs[0])->data;
  for (size_t b = begin; b < end; b++) {
    zsq_crop_forward(&s->crops[b], s->x + b * img, in + b * img, s->h, s->w, s->c);
  }
}

static void crop_adjoint_range(void *ctx, size_t begin, size_t end) {
  const step_ctx *c = ctx;
  synth_ctx *s = c->s;
  const int64_t img = s->c * s->h * s->w;
  memset(s->gx + begin * img, 0, (end - begin) * (size_t)img * sizeof(float));
  for (size_t b = begin; b < end; b++) {
    zsq_crop_adjoint(&s->crops[b], c->gin + b * img, s->gx + b * img, s->h, s->w, s->c);
  }
}

static void centres_range(void *ctx, size_t begin, size_t end) {
  const step_ctx *c = ctx;
  for (size_t b = begin; b < end; b++) {
    c->loss[b] = zsq_centres_image(&c->s->cen, (int64_t)b, c->labels[b], c->s->batch);
  }
}

/* centres: did the teacher pick each image's label? */
static void mark_agreement(synth_ctx *s, const float *logits, const int *labels) {
  for (int64_t b = 0; b < s->batch; b++) {
    const float *z = logits + b * s->classes;
    int64_t best = 0;
    for (int64_t k = 1; k < s->classes; k++) best = z[k] > z[best] ? k : best;
    s->agree[b] = best == labels[b];
  }
}

static void per_sample_range(void *ctx, size_t begin, size_t end) {
  const step_ctx *c = ctx;
  synth_ctx *s = c->s;
  const zsq_bn_hook *hk = &s->hooks[c->hook];
  const zsq_value *v = zsq_fplan_value(s->plan, hk->tensor);
  const int64_t px = (int64_t)v->numel / (s->batch * hk->channels);
  for (size_t b = begin; b < end; b++) {
    c->loss[b] = zsq_bn_loss_per_sample_range(hk, v->data, s->batch, (int64_t)b, 1, px,
                                              s->slack_mean[c->hook], s->slack_std[c->hook],
                                              s->cfg->dsg_lse ? s->sample_w : NULL, 1.0f, c->gh);
  }
}

/* One forward/backward step on the current images; returns the loss (gradient left in s->gx). */
static double step(synth_ctx *s, const int *labels, zsq_rng *rng, double *per_image) {
  const zsq_synth_cfg *cfg = s->cfg;
  pthreadpool_t tp = cfg->threadpool;
  for (int64_t b = 0; b < s->batch; b++) {
    zsq_crop_sample(rng, s->h, s->w, cfg->lor_p, cfg->lor_scale_lo, &s->crops[b]);
  }
  step_ctx c = {s, 0, NULL, NULL, per_image, labels};
  zsq_parallel_for(tp, (size_t)s->batch, 1, crop_forward_range, &c);
  if (cfg->swing) zsq_swing_draw(s->plan, rng);
  zsq_fplan_forward(s->plan);
  zsq_fgrad_zero(s->grad);
  double loss = 0.0;
  for (int l = 0; l < s->n_hooks; l++) {
    const zsq_bn_hook *hk = &s->hooks[l];
    const zsq_value *v = zsq_fplan_value(s->plan, hk->tensor);
    const int64_t px = (int64_t)v->numel / (s->batch * hk->channels);
    const int fused = s->fuse_bn && !(cfg->bn == ZSQ_BN_GENIE && l == 0);
    float *gh = fused ? NULL : zsq_fgrad_of(s->grad, hk->tensor); /* centres adds into it too */
    c.gh = gh;
    if (fused) {
      const int on_std = cfg->bn == ZSQ_BN_GENIE; /* GENIE sums the layer terms, IntraQ/HAST */
      const float sc = on_std ? 1.0f : 1.0f / (float)s->n_hooks; /* average them */
      const double term = zsq_bn_fused_term(&s->fused, s->plan, s->grad, s->hooks, l, on_std, sc);
      loss += on_std ? term : term / s->n_hooks;
    } else if (cfg->bn == ZSQ_BN_PER_SAMPLE) {
      if (cfg->dsg_lse) { /* sample i < L gets layer (i mod L)'s term doubled */
        for (int64_t b = 0; b < s->batch; b++) {
          s->sample_w[b] = (b < s->n_hooks && b % s->n_hooks == l) ? 2.0f : 1.0f;
        }
      }
      c.hook = l;
      zsq_parallel_for(tp, (size_t)s->batch, 1, per_sample_range, &c);
      for (int64_t b = 0; b < s->batch; b++) loss += per_image[b];
    } else if (cfg->bn == ZSQ_BN_GENIE && l == 0) { /* the input: per image, targets 0 / 1 */
      c.hook = 0;
      zsq_parallel_for(tp, (size_t)s->batch, 1, per_sample_range, &c);
      for (int64_t b = 0; b < s->batch; b++) loss += per_image[b];
    } else if (cfg->bn == ZSQ_BN_GENIE) { /* GENIE sums the layer terms */
      loss += zsq_bn_loss_batch_std(hk, v->data, s->batch, px, 1.0f, tp, gh);
    } else if (cfg->bn == ZSQ_BN_BATCH) {
      /* IntraQ/HAST average the layer terms */
      loss += zsq_bn_loss_batch(hk, v->data, s->batch, px, 1.0f / (float)s->n_hooks, tp, gh) /
              s->n_hooks;
    }
  }
  const zsq_value *out = zsq_fplan_value(s->plan, s->g->outputs[0]);
  if (s->centres_on) {
    zsq_parallel_for(tp, (size_t)s->batch, 1, centres_range, &c);
    for (int64_t b = 0; b < s->batch; b++) loss += per_image[b];
    mark_agreement(s, out->data, labels);
    zsq_centres_update(&s->cen, labels, s->agree, s->batch);
  }
  loss += zsq_label_loss_apply(cfg->label, out->data, s->batch, s->classes, labels, s->target,
                               cfg->hast_beta, cfg->hast_gamma, 1.0f,
                               zsq_fgrad_of(s->grad, s->g->outputs[0]));
  if (s->mdc) {
    loss += zsq_mdc_loss(zsq_fplan_value(s->plan, s->feat)->data, s->centre, s->mask, s->batch,
                         s->feat_dim, cfg->mdc_lower, cfg->mdc_upper, 1.0f,
                         zsq_fgrad_of(s->grad, s->feat));
  }
  zsq_fgrad_backward(s->grad);
  c.gin = zsq_fgrad_of(s->grad, s->g->inputs[0]);
  zsq_parallel_for(tp, (size_t)s->batch, 1, crop_adjoint_range, &c);
  return loss;
}

/* Projects the batch's images (NHWC) into the per-channel input range, when there is one. */
static void project(synth_ctx *s) {
  const float *lo = s->cfg->lo, *hi = s->cfg->hi;
  if (lo == NULL) return;
  const size_t n = (size_t)(s->batch * s->h * s->w);
  const int64_t c = s->c;
  for (size_t p = 0; p < n; p++) {
    float *v = s->x + p * (size_t)c;
    for (int64_t k = 0; k < c; k++) v[k] = v[k] < lo[k] ? lo[k] : (v[k] > hi[k] ? hi[k] : v[k]);
  }
}

/* GENIE-D: a fresh generator per batch; its weights and the latents follow the images' gradient.
 * The images are the generator's output for the final weights and latents. */
static zsq_status run_genie_batch(synth_ctx *s, int64_t index, int64_t batches, const int *labels,
                                  zsq_rng *rng, double *per_image, zsq_err *err) {
  const zsq_synth_cfg *cfg = s->cfg;
  if (s->h % 4 != 0 || s->w % 4 != 0) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "genie needs an image size divisible by 4 (%lldx%lld)", (long long)s->h,
                    (long long)s->w);
  }
  const size_t nz = (size_t)(s->batch * cfg->gen_latent);
  const size_t bytes = (size_t)(s->batch * s->c * s->h * s->w) * sizeof(float);
  zsq_gen gen;
  zsq_adam az = {0}, ag = {0};
  float *z = malloc(nz * sizeof(float)), *gz = malloc(nz * sizeof(float));
  const int ok = zsq_gen_init(&gen, s->batch, cfg->gen_latent, cfg->gen_c0, cfg->gen_c1, s->c,
                              s->h / 4, s->w / 4, rng, cfg->threadpool) &&
                 z && gz && zsq_adam_init(&az, nz, cfg->lr) &&
                 zsq_adam_init(&ag, gen.n_params, cfg->gen_lr);
  zsq_status st = ok ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory for the generator");
  for (size_t i = 0; ok && i < nz; i++) z[i] = (float)zsq_rng_normal(rng);
  plateau pl = {INFINITY, 0, cfg->patience};
  for (int64_t it = 0; st == ZSQ_OK && it < cfg->iters; it++) {
    zsq_gen_forward(&gen, z);
    memcpy(s->x, gen.out, bytes);
    const double loss = step(s, labels, rng, per_image);
    if (!isfinite(loss)) {
      st = zsq_fail(err, ZSQ_ERR_INTERNAL, "synthesis diverged (loss %g at step %lld)", loss,
                    (long long)it);
      break;
    }
    zsq_gen_backward(&gen, z, s->gx, gz);
    zsq_adam_step(&az, z, gz, cfg->threadpool);
    zsq_adam_step(&ag, gen.params, gen.grads, cfg->threadpool);
    plateau_step(&pl, loss, &az);
    if ((it + 1) % 100 == 0) ag.lr *= 0.95f;
    if (cfg->progress) cfg->progress(cfg->progress_ctx, index, batches, it + 1, cfg->iters, loss);
  }
  if (st == ZSQ_OK) {
    zsq_gen_forward(&gen, z);
    memcpy(s->x, gen.out, bytes);
  }
  zsq_adam_free(&az);
  zsq_adam_free(&ag);
  zsq_gen_free(&gen);
  free(z);
  free(gz);
  return st;
}

static zsq_status run_batch(synth_ctx *s, int64_t index, int64_t batches, const int *labels,
                            zsq_rng *rng, zsq_err *err) {
  const zsq_synth_cfg *cfg = s->cfg;
  const size_t n = (size_t)(s->batch * s->c * s->h * s->w);
  for (size_t i = 0; i < n; i++) {
    s->x[i] = cfg->init_uniform ? (float)(((double)zsq_rng_below(rng, 255) - 127.5) / 5418.75)
                                : (float)zsq_rng_normal(rng);
  }
  project(s);
  if (!cfg->optimise) return ZSQ_OK;
  if (cfg->genie) {
    double *per_image = malloc((size_t)s->batch * sizeof(double));
    if (per_image == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    const zsq_status st = run_genie_batch(s, index, batches, labels, rng, per_image, err);
    free(per_image);
    return st;
  }
  if (cfg->dsg_eps > 0) ZSQ_TRY(dsg_margins(s, rng, err));
  for (int64_t b = 0; b < s->batch; b++) { /* IntraQ: U(target_lo, 1) for half the images */
    const int soft = cfg->target_lo < 1.0f && zsq_rng_uniform(rng) < 0.5;
    s->target[b] =
        soft ? (float)(cfg->target_lo + (1.0 - cfg->target_lo) * zsq_rng_uniform(rng)) : 1.0f;
  }
  if (s->mdc) zsq_centroids_for(&s->cents, labels, s->batch, s->centre, s->mask);
  zsq_adam adam;
  if (!zsq_adam_init(&adam, n, cfg->lr)) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  plateau pl = {INFINITY, 0, cfg->patience};
  double *per_image = malloc((size_t)s->batch * sizeof(double));
  if (per_image == NULL) {
    zsq_adam_free(&adam);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  for (int64_t it = 0; it < cfg->iters; it++) {
    const double loss = step(s, labels, rng, per_image);
    if (!isfinite(loss)) {
      zsq_adam_free(&adam);
      free(per_image);
      return zsq_fail(err, ZSQ_ERR_INTERNAL,
                      "synthesis diverged (loss %g at step %lld); try a lower --lr", loss,
                      (long long)it);
    }
    zsq_adam_step(&adam, s->x, s->gx, cfg->threadpool);
    project(s);
    plateau_step(&pl, loss, &adam);
    if (cfg->progress) cfg->progress(cfg->progress_ctx, index, batches, it + 1, cfg->iters, loss);
  }
  free(per_image);
  zsq_adam_free(&adam);
  return ZSQ_OK;
}

/* MDC: the finished batch's first n images (not augmented) join their class centroids. */
static void add_features(synth_ctx *s, const int *labels, int64_t n) {
  const size_t bytes = (size_t)(s->batch * s->c * s->h * s->w) * sizeof(float);
  memcpy(zsq_fplan_value(s->plan, s->g->inputs[0])->data, s->x, bytes);
  zsq_fplan_forward(s->plan);
  zsq_centroids_add(&s->cents, zsq_fplan_value(s->plan, s->feat)->data, labels, n);
}

/* Balanced target labels (count/classes of each), shuffled. */
static void make_labels(int *labels, int64_t count, int64_t classes, zsq_rng *rng) {
  for (int64_t i = 0; i < count; i++) labels[i] = (int)(i % classes);
  for (int64_t i = count - 1; i > 0; i--) {
    const int64_t j = (int64_t)zsq_rng_below(rng, (uint32_t)(i + 1));
    const int t = labels[i];
    labels[i] = labels[j];
    labels[j] = t;
  }
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

zsq_status zsq_synth_run(const zsq_graph *g, const zsq_synth_cfg *cfg, float *images, int *labels,
                         zsq_synth_report *report, zsq_err *err) {
  const double t0 = now();
  if (cfg->count < 1 || cfg->batch < 1)
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "count and batch must be >= 1");
  if (cfg->optimise && (cfg->iters < 1 || !(cfg->lr > 0))) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "iterations and the learning rate must be positive");
  }
  zsq_rng rng;
  zsq_rng_seed(&rng, cfg->seed);
  const int64_t batch = cfg->batch < cfg->count ? cfg->batch : cfg->count;
  const int64_t batches = (cfg->count + batch - 1) / batch;
  /* Relu/Clip fused into BatchNorm/Conv/Add: fewer passes; the hooked BN inputs are unchanged. */
  zsq_graph *fused = zsq_graph_clone(g);
  if (fused == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  synth_ctx s;
  memset(&s, 0, sizeof s);
  /* gzsq hooks conv outputs before their activation: keep the graph unfused */
  zsq_status st = cfg->weight_stats ? ZSQ_OK : zsq_graph_fuse_activations(fused, err);
  if (st == ZSQ_OK && cfg->swing) st = zsq_swing_insert(fused, NULL, err);
  if (st == ZSQ_OK) st = ctx_init(&s, fused, cfg, batch, err);
  if (st == ZSQ_OK) make_labels(labels, cfg->count, s.classes, &rng);
  const int64_t img = s.c * s.h * s.w;
  for (int64_t b = 0; st == ZSQ_OK && b < batches; b++) {
    const int64_t first = b * batch, n = cfg->count - first < batch ? cfg->count - first : batch;
    int *lab = malloc((size_t)batch * sizeof(int));
    if (lab == NULL) {
      st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
      break;
    }
    for (int64_t i = 0; i < batch; i++) lab[i] = labels[first + (i < n ? i : 0)];
    st = run_batch(&s, b, batches, lab, &rng, err);
    if (st == ZSQ_OK && s.mdc) add_features(&s, lab, n);
    free(lab);
    if (st != ZSQ_OK) break;
    /* the last batch may be partly padding: keep its first n images */
    for (int64_t i = 0; i < n; i++) {
      zsq_nhwc_to_nchw(s.x + i * img, images + (first + i) * img, 1, s.c, s.h * s.w);
    }
  }
  ctx_free(&s);
  if (st == ZSQ_OK && report != NULL) {
    st = zsq_synth_quality(fused, images, labels, cfg->count, cfg->threadpool, report, err);
    report->seconds = now() - t0;
  }
  zsq_graph_free(fused);
  return st;
}
