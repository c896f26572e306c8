/* quantize.c — public zsq_quantize: options to a scheme, calibration set to images, and the
 * simulated model with its per-layer report. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "io/zsq_file.h"
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

/* Weights of the Conv/Gemm layers (the codes a quantized model stores). */
static int64_t weight_count(const zsq_model *m) {
  int64_t n = 0;
  for (size_t i = 0; i < m->graph->n_nodes; i++) {
    const zsq_node *nd = &m->graph->nodes[i];
    if (nd->op == ZSQ_OP_CONV || nd->op == ZSQ_OP_GEMM)
      n += zsq_tensor_numel(&m->graph->tensors[nd->inputs[1]]);
  }
  return n;
}

zsq_status zsq_file_layers_of(const zsq_qresult *q, zsqf_layer **out, zsq_err *err) {
  zsqf_layer *ls = calloc((size_t)q->n_layers + 1, sizeof(zsqf_layer));
  int ok = ls != NULL;
  for (int i = 0; ok && i < q->n_layers; i++) {
    const zsq_qlayer *l = &q->layers[i];
    zsqf_layer *f = &ls[i];
    f->name = strdup(l->name);
    f->wbits = l->wbits;
    f->abits = l->abits;
    f->weight_tensor = l->sim_weight;
    f->rows = l->wrows;
    f->row_stride = l->row_stride;
    f->elem_stride = l->elem_stride;
    f->scale = malloc((size_t)l->wrows * sizeof(float));
    if (f->scale && l->wscale) memcpy(f->scale, l->wscale, (size_t)l->wrows * sizeof(float));
    if (l->wzero != NULL) {
      f->zero_point = malloc((size_t)l->wrows * sizeof(float));
      if (f->zero_point == NULL)
        ok = 0;
      else
        memcpy(f->zero_point, l->wzero, (size_t)l->wrows * sizeof(float));
    }
    if (l->input_point >= 0) {
      const zsq_qpoint *p = &q->points[l->input_point];
      f->in_min = p->min;
      f->in_max = p->max;
      f->in_scale = p->scale;
      f->in_zero_point = p->zero_point;
    }
    f->weight_sqnr_db = l->weight_sqnr_db;
    f->isolated_sqnr_db = l->isolated_sqnr_db;
    f->accumulated_sqnr_db = l->accumulated_sqnr_db;
    if (f->name == NULL || f->scale == NULL || l->wscale == NULL) ok = 0;
  }
  if (!ok) {
    zsq_file_layers_free(ls, q->n_layers);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  *out = ls;
  return ZSQ_OK;
}

zsq_status zsq_quantize(zsq_model *m, const zsq_quant_options *o, const zsq_calib *calib,
                        zsq_model *out) {
  if (m == NULL || o == NULL || calib == NULL || out == NULL) return ZSQ_ERR_INVALID_ARG;
  zsq_err_clear(&m->err);
  if (m->graph == NULL) return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "no model loaded");
  if (m->quantized) return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "the model is already quantized");
  zsq_qscheme sc = {.wbits = o->wbits,
                    .abits = o->abits,
                    .first_last_8bit = !o->quantize_all,
                    .bias_correction = o->bias_correction,
                    .cle = o->cle,
                    .recon_iters = o->recon_iters > 0 ? o->recon_iters : 1000,
                    .qdrop = o->qdrop,
                    .learn_act_steps = o->learn_act_steps != 0,
                    .learn_weight_steps = o->learn_weight_steps != 0,
                    .pd_loss = o->pd_loss != 0,
                    .pd_dc = o->pd_dc != 0,
                    .pd_dc_lamb = o->pd_dc_lamb != 0 ? o->pd_dc_lamb : 0.02f,
                    .pd_dc_steps = o->pd_dc_steps != 0 ? o->pd_dc_steps : 500,
                    .seed = o->seed};
  sc.percentile = o->percentile > 0 ? o->percentile : 99.99f;
  if (!parse_range(o->act_range, ZSQ_RANGE_MSE, &sc.act_range)) {
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG,
                    "activation range must be minmax, percentile or mse");
  }
  if (!parse_range(o->weight_range, ZSQ_RANGE_MSE, &sc.weight_range) ||
      sc.weight_range == ZSQ_RANGE_PERCENTILE) {
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "weight range must be minmax or mse");
  }
  if (o->weight_scheme != NULL && strcmp(o->weight_scheme, "asym") == 0) {
    sc.weight_asym = 1;
  } else if (o->weight_scheme != NULL && strcmp(o->weight_scheme, "sym") != 0) {
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "weight scheme must be sym or asym");
  }
  if (o->recon == NULL || strcmp(o->recon, "none") == 0) {
    sc.recon = ZSQ_RECON_NONE;
  } else if (strcmp(o->recon, "adaround") == 0) {
    sc.recon = ZSQ_RECON_ADAROUND;
  } else if (strcmp(o->recon, "brecq") == 0) {
    sc.recon = ZSQ_RECON_BRECQ;
  } else {
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "reconstruction must be adaround or brecq");
  }
  if (o->border != NULL && strcmp(o->border, "aquant") == 0) {
    sc.aquant_borders = 1;
  } else if (o->border != NULL && strcmp(o->border, "nearest") != 0) {
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "activation rounding must be nearest or aquant");
  }
  if (o->bias_correction < ZSQ_BIAS_CORRECTION_NONE ||
      o->bias_correction > ZSQ_BIAS_CORRECTION_ANALYTIC)
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG,
                    "bias correction must be none (0), empirical (1) or analytic (2)");
  if ((o->budget_bytes > 0) + (o->budget_fraction > 0) + (o->budget_seconds > 0) > 1)
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG,
                    "give one budget: in bytes, as a fraction or in seconds");
  if (o->budget_fraction > 1.0)
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "a budget fraction must be at most 1");
  sc.budget_bits = o->budget_bytes * 8.0;
  if (o->budget_fraction > 0) sc.budget_bits = o->budget_fraction * 8.0 * (double)weight_count(m);
  sc.budget_seconds = o->budget_seconds;
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
  const int threads = pool ? (int)pthreadpool_get_threads_count(pool) : 1;
  sc.timer = zsq_runtime_timer(pool);
  zsq_status st = zsq_quantize_graph(m->graph, &sc, zsq_calib_image(calib, 0),
                                     zsq_calib_count(calib), pool, q, &m->err);
  if (pool) pthreadpool_destroy(pool);
  if (st != ZSQ_OK) {
    free(q);
    return st;
  }
  zsqf_layer *ls = NULL;
  double *seconds = sc.budget_seconds > 0 ? malloc((size_t)q->n_layers * sizeof(double)) : NULL;
  st = zsq_file_layers_of(q, &ls, &m->err);
  if (st == ZSQ_OK && sc.budget_seconds > 0 && seconds == NULL)
    st = zsq_fail(&m->err, ZSQ_ERR_NOMEM, "out of memory");
  if (st != ZSQ_OK) {
    free(seconds);
    zsq_qresult_free(q);
    free(q);
    return st;
  }
  zsq_model_reset(out);
  zsq_err_clear(&out->err);
  out->graph = q->sim;
  q->sim = NULL;
  out->qlayers = ls;
  out->n_qlayers = q->n_layers;
  out->quantized = 1;
  out->recon = (zsq_recon_summary){q->recon_units, q->pd_units, q->dc_units};
  if (seconds != NULL) {
    out->latency = (zsq_latency_summary){sc.budget_seconds, q->predicted_s, q->all_8bit_s,
                                         q->fastest_s,      q->other_s,     threads};
    for (int i = 0; i < q->n_layers; i++) seconds[i] = q->layers[i].seconds;
    out->layer_seconds = seconds;
  }
  zsq_qresult_free(q);
  free(q);
  st = zsq_model_describe(out);
  if (st != ZSQ_OK) zsq_fail(&m->err, st, "%s", out->err.msg);
  return st;
}

size_t zsq_model_quant_layer_count(const zsq_model *m) {
  return m ? (size_t)m->n_qlayers : 0;
}

zsq_status zsq_model_recon_summary(const zsq_model *m, zsq_recon_summary *out) {
  if (m == NULL || out == NULL) return ZSQ_ERR_INVALID_ARG;
  *out = m->recon;
  return ZSQ_OK;
}

zsq_status zsq_model_latency_summary(const zsq_model *m, zsq_latency_summary *out) {
  if (m == NULL || out == NULL) return ZSQ_ERR_INVALID_ARG;
  *out = m->latency;
  return ZSQ_OK;
}

zsq_status zsq_model_quant_layer(const zsq_model *m, size_t i, zsq_quant_layer *out) {
  if (m == NULL || out == NULL || i >= (size_t)m->n_qlayers) return ZSQ_ERR_INVALID_ARG;
  const zsqf_layer *l = &m->qlayers[i];
  memset(out, 0, sizeof *out);
  out->name = l->name;
  out->wbits = l->wbits;
  out->abits = l->abits;
  out->in_min = l->in_min;
  out->in_max = l->in_max;
  out->in_scale = l->in_scale;
  out->in_zero_point = l->in_zero_point;
  out->weight_sqnr_db = l->weight_sqnr_db;
  out->isolated_sqnr_db = l->isolated_sqnr_db;
  out->accumulated_sqnr_db = l->accumulated_sqnr_db;
  out->weight_asym = l->zero_point != NULL;
  out->seconds = m->layer_seconds ? m->layer_seconds[i] : 0.0;
  for (int64_t r = 0; out->weight_asym && r < l->rows; r++) {
    const int z = (int)l->zero_point[r];
    out->wzero_min = r == 0 || z < out->wzero_min ? z : out->wzero_min;
    out->wzero_max = r == 0 || z > out->wzero_max ? z : out->wzero_max;
  }
  if (l->weight_tensor >= 0 && (size_t)l->weight_tensor < m->graph->n_tensors)
    out->weights = zsq_tensor_numel(&m->graph->tensors[l->weight_tensor]);
  return ZSQ_OK;
}
