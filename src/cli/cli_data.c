/* cli_data.c — what eval and quantize share: the input normalisation (flags, then model
 * metadata), normalising dataset images, and top-1 accuracy of a model on a dataset. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static int parse_scale(const char *s, float *out) {
  if (strncmp(s, "1/", 2) == 0) {
    float d;
    if (zsq_cli_parse_floats(s + 2, &d, 1) != 1 || !(d > 0)) return 0;
    *out = 1.0f / d;
    return 1;
  }
  return zsq_cli_parse_floats(s, out, 1) == 1 && *out > 0;
}

int zsq_cli_norm(zsq_model *m, const char *path, const char *mean_s, const char *std_s,
                 const char *scale_s, int channels, zsq_norm *out) {
  const char *ms = mean_s ? mean_s : zsq_model_metadata(m, "zsq.input_mean");
  const char *ss = std_s ? std_s : zsq_model_metadata(m, "zsq.input_std");
  if (ms == NULL || ss == NULL) {
    zsq_cli_error(
        "the input normalisation is unknown: %s has no zsq.input_mean/zsq.input_std metadata, "
        "so pass --mean M --std S (per channel, for pixels scaled to [0,1])",
        path);
    return ZSQ_EXIT_USAGE;
  }
  if (channels > ZSQ_CLI_MAX_CH) return zsq_cli_error("too many channels"), ZSQ_EXIT_INPUT;
  out->channels = channels;
  int nm = zsq_cli_parse_floats(ms, out->mean, ZSQ_CLI_MAX_CH),
      ns = zsq_cli_parse_floats(ss, out->std, ZSQ_CLI_MAX_CH);
  if (nm < 0 || ns < 0) {
    zsq_cli_error("cannot read the normalisation mean '%s' / std '%s'", ms, ss);
    return mean_s ? ZSQ_EXIT_USAGE : ZSQ_EXIT_INPUT;
  }
  for (int c = 1; c < channels; c++) {
    if (nm == 1) out->mean[c] = out->mean[0];
    if (ns == 1) out->std[c] = out->std[0];
  }
  if ((nm != 1 && nm != channels) || (ns != 1 && ns != channels)) {
    zsq_cli_error("the normalisation has %d means and %d stds for %d channels", nm, ns, channels);
    return ZSQ_EXIT_USAGE;
  }
  for (int c = 0; c < channels; c++) {
    if (!(out->std[c] > 0)) return zsq_cli_error("std must be positive"), ZSQ_EXIT_USAGE;
  }
  const char *sc = scale_s ? scale_s : zsq_model_metadata(m, "zsq.input_scale");
  out->scale = 1.0f / 255.0f;
  if (sc != NULL && !parse_scale(sc, &out->scale)) {
    zsq_cli_error("cannot read the pixel scale '%s' (a number or 1/N)", sc);
    return ZSQ_EXIT_USAGE;
  }
  return ZSQ_EXIT_OK;
}

int zsq_cli_input_range(zsq_model *m, const char *path, const zsq_norm_flags *f, int want,
                        zsq_input_range *r, const float **lo, const float **hi) {
  *lo = *hi = NULL;
  int64_t dims[4];
  const int known = (f->mean || zsq_model_metadata(m, "zsq.input_mean")) &&
                    (f->std || zsq_model_metadata(m, "zsq.input_std"));
  if (want < 0 || (want == 0 && !known) || zsq_model_input_shape(m, dims) != ZSQ_OK) {
    return ZSQ_EXIT_OK; /* off, unknown, or not an image model (synthesis says so itself) */
  }
  zsq_norm n;
  const int rc = zsq_cli_norm(m, path, f->mean, f->std, f->scale, (int)dims[1], &n);
  if (rc != ZSQ_EXIT_OK) return rc;
  for (int c = 0; c < n.channels; c++) {
    r->lo[c] = (0.0f - n.mean[c]) / n.std[c];
    r->hi[c] = (255.0f * n.scale - n.mean[c]) / n.std[c];
  }
  *lo = r->lo;
  *hi = r->hi;
  return ZSQ_EXIT_OK;
}

void zsq_cli_normalise(const zsq_norm *n, const uint8_t *px, size_t hw, float *out) {
  for (int c = 0; c < n->channels; c++) {
    for (size_t k = 0; k < hw; k++) {
      out[c * hw + k] = ((float)px[c * hw + k] * n->scale - n->mean[c]) / n->std[c];
    }
  }
}

int zsq_cli_check_geometry(zsq_model *m, const char *path, zsq_dataset *d) {
  int c, h, w;
  zsq_dataset_geometry(d, &c, &h, &w);
  int64_t in[4];
  if (zsq_model_input_shape(m, in) != ZSQ_OK) {
    zsq_cli_error("%s: the model's input is not an image (rank-4 NCHW)", path);
    return ZSQ_EXIT_INPUT;
  }
  if (in[1] != c || in[2] != h || in[3] != w) {
    zsq_cli_error("%s expects %lldx%lldx%lld images; the dataset has %dx%dx%d", path,
                  (long long)in[1], (long long)in[2], (long long)in[3], c, h, w);
    return ZSQ_EXIT_INPUT;
  }
  return ZSQ_EXIT_OK;
}

static int argmax(const float *v, int64_t n) {
  int best = 0;
  for (int64_t i = 1; i < n; i++) best = v[i] > v[best] ? (int)i : best;
  return best;
}

int zsq_cli_accuracy(zsq_model *m, const char *path, zsq_dataset *d, const zsq_norm *nrm,
                     const zsq_acc_opts *o, zsq_acc_result *r) {
  int rc = zsq_cli_check_geometry(m, path, d);
  if (rc != ZSQ_EXIT_OK) return rc;
  int c, h, w;
  zsq_dataset_geometry(d, &c, &h, &w);
  int64_t in[4];
  zsq_model_input_shape(m, in);
  int64_t count = (int64_t)zsq_dataset_count(d);
  if (o->limit > 0 && o->limit < count) count = o->limit;
  int64_t batch = o->batch < count ? o->batch : count;
  if (in[0] > 0) batch = in[0]; /* a model with a fixed batch runs at that batch */
  zsq_session_options so = {.batch = batch,
                            .threads = o->threads,
                            .fold_batchnorm = o->fold,
                            .simulate = o->simulate,
                            .isa = o->isa};
  zsq_session *s;
  zsq_status st = zsq_session_create(m, &so, &s);
  if (st != ZSQ_OK) {
    zsq_cli_error("%s: %s", path, zsq_model_last_error(m));
    return zsq_cli_exit_for(st);
  }
  snprintf(r->engine, sizeof r->engine, "%s", zsq_session_engine(s));
  const int64_t classes = zsq_model_output_size(m);
  const size_t img = (size_t)c * h * w;
  float *x = calloc((size_t)batch * img, sizeof(float)),
        *y = calloc((size_t)(batch * classes), sizeof(float));
  if (x == NULL || y == NULL) {
    free(x);
    free(y);
    zsq_session_destroy(s);
    return zsq_cli_error("out of memory"), ZSQ_EXIT_INTERNAL;
  }
  r->correct = 0;
  r->count = count;
  zsq_progress prog;
  zsq_progress_begin(&prog, o->label, count);
  const double t0 = zsq_cli_now();
  rc = ZSQ_EXIT_OK;
  for (int64_t start = 0; rc == ZSQ_EXIT_OK && start < count; start += batch) {
    const int64_t nb = count - start < batch ? count - start : batch;
    memset(x, 0, (size_t)batch * img * sizeof(float));
    for (int64_t b = 0; b < nb; b++) {
      zsq_cli_normalise(nrm, zsq_dataset_image(d, (size_t)(start + b)), (size_t)h * w, x + b * img);
    }
    const zsq_status st = zsq_session_run(s, x, y);
    if (st != ZSQ_OK) {
      zsq_cli_error("%s: %s", path, zsq_session_last_error(s));
      rc = zsq_cli_exit_for(st);
      break;
    }
    for (int64_t b = 0; b < nb; b++) {
      r->correct += argmax(y + b * classes, classes) == zsq_dataset_label(d, (size_t)(start + b));
    }
    zsq_progress_update(&prog, start + nb);
  }
  r->seconds = zsq_cli_now() - t0;
  zsq_progress_end(&prog);
  free(x);
  free(y);
  zsq_session_destroy(s);
  return rc;
}
