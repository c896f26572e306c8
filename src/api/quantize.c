/* quantize.c — public zsq_quantize: options to a scheme, calibration set to images, and the
 * simulated model with its per-layer report. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "quant/quant.h"

static int parse_range(const char *s, zsq_range_method def, zsq_range_method *out) {
  if (s == NULL)
    *out = def;
  else if (strcmp(s, "minmax") == 0)
    *out = ZSQ_RANGE_MINMAX;
  else if (strcmp(s, "percentile") == 0)
    *out = ZSQ_RANGE_PERCENTILE;
  else if (strcmp(s, "mse") == 0)
    *out = ZSQ_RANGE_MSE;
  else
    return 0;
  return 1;
}

zsq_status zsq_quantize(zsq_model *m, const zsq_quant_options *o, const zsq_calib *calib,
                        zsq_model *out) {
  if (m == NULL || o == NULL || calib == NULL || out == NULL) return ZSQ_ERR_INVALID_ARG;
  zsq_err_clear(&m->err);
  if (m->graph == NULL) return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "no model loaded");
  if (m->quant != NULL)
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "the model is already quantized");
  zsq_qscheme sc = {.wbits = o->wbits,
                    .abits = o->abits,
                    .first_last_8bit = !o->quantize_all,
                    .bias_correction = o->bias_correction};
  sc.percentile = o->percentile > 0 ? o->percentile : 99.99f;
  if (!parse_range(o->act_range, ZSQ_RANGE_MSE, &sc.act_range)) {
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG,
                    "activation range must be minmax, percentile or mse");
  }
  if (!parse_range(o->weight_range, ZSQ_RANGE_MSE, &sc.weight_range) ||
      sc.weight_range == ZSQ_RANGE_PERCENTILE) {
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "weight range must be minmax or mse");
  }
  int64_t dims[4];
  int c, h, w;
  zsq_calib_geometry(calib, &c, &h, &w);
  if (zsq_model_input_shape(m, dims) != ZSQ_OK || dims[1] != c || dims[2] != h || dims[3] != w) {
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG,
                    "the calibration images (%dx%dx%d) do not fit the model's input", c, h, w);
  }
  zsq_qresult *q = calloc(1, sizeof *q);
  if (q == NULL) return zsq_fail(&m->err, ZSQ_ERR_NOMEM, "out of memory");
  pthreadpool_t pool = o->threads > 1 ? pthreadpool_create((size_t)o->threads) : NULL;
  zsq_status st = zsq_quantize_graph(m->graph, &sc, zsq_calib_image(calib, 0),
                                     zsq_calib_count(calib), pool, q, &m->err);
  if (pool) pthreadpool_destroy(pool);
  if (st != ZSQ_OK) {
    free(q);
    return st;
  }
  zsq_model_reset(out);
  zsq_err_clear(&out->err);
  out->quant = q;
  out->graph = q->sim;
  st = zsq_model_describe(out);
  if (st != ZSQ_OK) zsq_fail(&m->err, st, "%s", out->err.msg);
  return st;
}

size_t zsq_model_quant_layer_count(const zsq_model *m) {
  return (m && m->quant) ? (size_t)m->quant->n_layers : 0;
}

zsq_status zsq_model_quant_layer(const zsq_model *m, size_t i, zsq_quant_layer *out) {
  if (m == NULL || m->quant == NULL || out == NULL || i >= (size_t)m->quant->n_layers)
    return ZSQ_ERR_INVALID_ARG;
  const zsq_qlayer *l = &m->quant->layers[i];
  memset(out, 0, sizeof *out);
  out->name = l->name;
  out->wbits = l->wbits;
  out->abits = l->abits;
  if (l->input_point >= 0) {
    const zsq_qpoint *p = &m->quant->points[l->input_point];
    out->in_min = p->min;
    out->in_max = p->max;
    out->in_scale = p->scale;
    out->in_zero_point = p->zero_point;
  }
  out->weight_sqnr_db = l->weight_sqnr_db;
  out->isolated_sqnr_db = l->isolated_sqnr_db;
  out->accumulated_sqnr_db = l->accumulated_sqnr_db;
  return ZSQ_OK;
}
