/* calib.c — public zsq_calib handle (calibration sets) and zsq_synthesize. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "io/calib_file.h"
#include "graph/passes.h"
#include "synth/synth.h"

struct zsq_calib {
  zsq_calib_data d;
  zsq_err err;
};

zsq_status zsq_calib_create(zsq_calib **out) {
  if (out == NULL) return ZSQ_ERR_INVALID_ARG;
  *out = calloc(1, sizeof(zsq_calib));
  return *out ? ZSQ_OK : ZSQ_ERR_NOMEM;
}

void zsq_calib_destroy(zsq_calib *c) {
  if (c == NULL) return;
  zsq_calib_data_free(&c->d);
  free(c);
}

const char *zsq_calib_last_error(const zsq_calib *c) {
  return c ? c->err.msg : "no calibration set";
}

zsq_status zsq_calib_save(zsq_calib *c, const char *path) {
  if (c == NULL || path == NULL) return ZSQ_ERR_INVALID_ARG;
  zsq_err_clear(&c->err);
  if (c->d.count == 0)
    return zsq_fail(&c->err, ZSQ_ERR_INVALID_ARG, "the calibration set is empty");
  return zsq_calib_write(path, &c->d, &c->err);
}

zsq_status zsq_calib_load(zsq_calib *c, const char *path) {
  if (c == NULL || path == NULL) return ZSQ_ERR_INVALID_ARG;
  zsq_err_clear(&c->err);
  zsq_calib_data_free(&c->d);
  return zsq_calib_read(path, &c->d, &c->err);
}

zsq_status zsq_calib_set(zsq_calib *c, int64_t count, int channels, int height, int width,
                         const float *images, const int *labels, const char *method,
                         uint64_t seed) {
  if (c == NULL || images == NULL || labels == NULL || count < 1 || channels < 1 || height < 1 ||
      width < 1) {
    return ZSQ_ERR_INVALID_ARG;
  }
  zsq_err_clear(&c->err);
  const size_t n = (size_t)count * (size_t)channels * (size_t)height * (size_t)width;
  zsq_calib_data d = {.count = count, .c = channels, .h = height, .w = width, .seed = seed};
  strncpy(d.method, method ? method : "", sizeof d.method - 1);
  d.images = malloc(n * sizeof(float));
  d.labels = malloc((size_t)count * sizeof(int));
  if (d.images == NULL || d.labels == NULL) {
    zsq_calib_data_free(&d);
    return zsq_fail(&c->err, ZSQ_ERR_NOMEM, "out of memory");
  }
  memcpy(d.images, images, n * sizeof(float));
  memcpy(d.labels, labels, (size_t)count * sizeof(int));
  zsq_calib_data_free(&c->d);
  c->d = d;
  return ZSQ_OK;
}

int64_t zsq_calib_count(const zsq_calib *c) {
  return c ? c->d.count : 0;
}

void zsq_calib_geometry(const zsq_calib *c, int *channels, int *height, int *width) {
  *channels = c->d.c;
  *height = c->d.h;
  *width = c->d.w;
}

const float *zsq_calib_image(const zsq_calib *c, int64_t i) {
  if (c == NULL || i < 0 || i >= c->d.count) return NULL;
  return c->d.images + i * (int64_t)(c->d.c * c->d.h * c->d.w);
}

int zsq_calib_label(const zsq_calib *c, int64_t i) {
  if (c == NULL || i < 0 || i >= c->d.count) return -1;
  return c->d.labels[i];
}

const char *zsq_calib_method(const zsq_calib *c) {
  return c ? c->d.method : "";
}
uint64_t zsq_calib_seed(const zsq_calib *c) {
  return c ? c->d.seed : 0;
}

/* An option of zsq_synth_options: 0 keeps the default, negative sets `off`. */
static void override(float *field, float option, float off) {
  if (option != 0) *field = option < 0 ? off : option;
}

zsq_status zsq_synthesize(zsq_model *m, const zsq_synth_options *opt, zsq_calib *out,
                          zsq_synth_report *report) {
  if (m == NULL || opt == NULL || out == NULL || opt->method == NULL) return ZSQ_ERR_INVALID_ARG;
  zsq_err_clear(&m->err);
  if (m->graph == NULL) return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "no model loaded");
  if (opt->count < 1 || opt->count > (1 << 24)) {
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "count must be in [1, 2^24]");
  }
  int64_t dims[4];
  if (zsq_model_input_shape(m, dims) != ZSQ_OK) {
    return zsq_fail(&m->err, ZSQ_ERR_UNSUPPORTED,
                    "synthesis needs a model with one image (NCHW) input");
  }
  zsq_synth_cfg cfg = {.count = opt->count, .seed = opt->seed};
  ZSQ_TRY(zsq_synth_cfg_for(opt->method, &cfg, &m->err));
  if (opt->batch > 0) cfg.batch = opt->batch;
  if (opt->iters > 0) cfg.iters = opt->iters;
  if (opt->lr > 0) cfg.lr = opt->lr;
  override(&cfg.target_lo, opt->target_lo, 1.0f);
  override(&cfg.mdc_lower, opt->mdc_lower, 0.0f);
  override(&cfg.mdc_upper, opt->mdc_upper, 2.0f);
  override(&cfg.centre_weight, opt->centre_weight, 0.0f);
  override(&cfg.centre_sep, opt->centre_sep, 0.0f);
  if (opt->swing != 0) cfg.swing = opt->swing > 0;
  if ((opt->input_lo == NULL) != (opt->input_hi == NULL)) {
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "input_lo and input_hi go together");
  }
  for (int64_t c = 0; opt->input_lo && c < dims[1]; c++) {
    if (!(opt->input_lo[c] < opt->input_hi[c])) {
      return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "empty input range [%g, %g] for channel %lld",
                      opt->input_lo[c], opt->input_hi[c], (long long)c);
    }
  }
  cfg.lo = opt->input_lo;
  cfg.hi = opt->input_hi;
  cfg.progress = opt->progress;
  cfg.progress_ctx = opt->progress_ctx;
  pthreadpool_t pool = opt->threads > 1 ? pthreadpool_create((size_t)opt->threads) : NULL;
  cfg.threadpool = pool;
  zsq_calib_data d = {.count = opt->count,
                      .c = (int)dims[1],
                      .h = (int)dims[2],
                      .w = (int)dims[3],
                      .seed = opt->seed};
  strncpy(d.method, opt->method, sizeof d.method - 1);
  d.labels = malloc((size_t)opt->count * sizeof(int));
  d.images = malloc((size_t)opt->count * (size_t)(d.c * d.h * d.w) * sizeof(float));
  zsq_synth_report rep;
  zsq_graph *folded = opt->fold_batchnorm ? zsq_graph_clone(m->graph) : NULL;
  zsq_status st = (d.labels && d.images && (folded || !opt->fold_batchnorm))
                      ? ZSQ_OK
                      : zsq_fail(&m->err, ZSQ_ERR_NOMEM, "out of memory for %lld images",
                                 (long long)opt->count);
  if (st == ZSQ_OK && folded) st = zsq_graph_fold_batchnorm(folded, &m->err);
  if (st == ZSQ_OK) {
    st = zsq_synth_run(folded ? folded : m->graph, &cfg, d.images, d.labels, &rep, &m->err);
  }
  zsq_graph_free(folded);
  if (pool) pthreadpool_destroy(pool);
  if (st != ZSQ_OK) {
    zsq_calib_data_free(&d);
    return st;
  }
  zsq_calib_data_free(&out->d);
  out->d = d;
  if (report) *report = rep;
  return ZSQ_OK;
}
