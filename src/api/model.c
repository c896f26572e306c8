/* model.c — public zsq_model API: ONNX import, metadata and per-layer information. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/alloc.h"
#include "float/layout.h"
#include "float/plan.h"
#include "io/onnx_import.h"

zsq_status zsq_model_create(zsq_model **out) {
  if (out == NULL) return ZSQ_ERR_INVALID_ARG;
  *out = calloc(1, sizeof(zsq_model));
  return *out ? ZSQ_OK : ZSQ_ERR_NOMEM;
}

void zsq_model_reset(zsq_model *m) {
  zsq_graph_free(m->graph);
  zsq_file_layers_free(m->qlayers, m->n_qlayers);
  m->qlayers = NULL;
  m->n_qlayers = 0;
  m->quantized = 0;
  m->recon = (zsq_recon_summary){0};
  m->latency = (zsq_latency_summary){0};
  free(m->layer_seconds);
  m->layer_seconds = NULL;
  m->graph = NULL;
  free(m->layers);
  m->layers = NULL;
}

void zsq_model_destroy(zsq_model *m) {
  if (m == NULL) return;
  zsq_model_reset(m);
  free(m);
}

const char *zsq_model_last_error(const zsq_model *m) {
  return m ? m->err.msg : "no model";
}

/* Shapes and MACs per node for batch 1, from a throw-away plan. */
zsq_status zsq_model_describe(zsq_model *m) {
  zsq_fplan *p;
  const zsq_graph *g = m->graph;
  const zsq_tensor *in = &g->tensors[g->inputs[0]];
  int64_t batch = (in->rank > 0 && in->dims[0] > 0) ? in->dims[0] : 1;
  ZSQ_TRY(zsq_fplan_create(m->graph, batch, NULL, &p, &m->err));
  m->layers = calloc(g->n_nodes + 1, sizeof(zsq_layer_info));
  if (m->layers == NULL) {
    zsq_fplan_destroy(p);
    return zsq_fail(&m->err, ZSQ_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    const zsq_node *n = &g->nodes[i];
    const zsq_value *y = zsq_fplan_value(p, n->outputs[0]);
    zsq_layer_info *li = &m->layers[i];
    li->name = n->name;
    li->op = zsq_op_name(n->op);
    li->out_rank = y->rank;
    memcpy(li->out_dims, y->dims, sizeof li->out_dims);
    li->is_batchnorm = n->op == ZSQ_OP_BATCHNORM;
    for (int k = 1; k < n->n_inputs; k++) {
      if (n->inputs[k] >= 0 && g->tensors[n->inputs[k]].is_const) {
        li->params += zsq_tensor_numel(&g->tensors[n->inputs[k]]);
      }
    }
    int64_t out_elems = (int64_t)y->numel / batch;
    if (n->op == ZSQ_OP_CONV) {
      const zsq_tensor *w = &g->tensors[n->inputs[1]];
      li->macs = out_elems * (w->dims[1] * w->dims[2] * w->dims[3]);
    } else if (n->op == ZSQ_OP_GEMM || n->op == ZSQ_OP_MATMUL) {
      const zsq_value *a = zsq_fplan_value(p, n->inputs[0]);
      int64_t k = (n->op == ZSQ_OP_GEMM && n->a.gemm.trans_a) ? a->dims[0] : a->dims[a->rank - 1];
      li->macs = out_elems * k;
    }
  }
  zsq_fplan_destroy(p);
  return ZSQ_OK;
}

static zsq_status finish_load(zsq_model *m, zsq_status st) {
  if (st != ZSQ_OK) return st;
  if (m->graph->n_inputs == 0 || m->graph->n_outputs == 0) {
    return zsq_fail(&m->err, ZSQ_ERR_FORMAT, "the model has no float input or no output");
  }
  return zsq_model_describe(m);
}

static void reset(zsq_model *m) {
  zsq_model_reset(m);
  zsq_err_clear(&m->err);
}

zsq_status zsq_model_load_onnx(zsq_model *m, const char *path) {
  if (m == NULL || path == NULL) return ZSQ_ERR_INVALID_ARG;
  reset(m);
  return finish_load(m, zsq_onnx_import_file(path, &m->graph, &m->err));
}

zsq_status zsq_model_load(zsq_model *m, const char *path) {
  if (m == NULL || path == NULL) return ZSQ_ERR_INVALID_ARG;
  char magic[8] = {0};
  FILE *f = fopen(path, "rb");
  const size_t got = f ? fread(magic, 1, sizeof magic, f) : 0;
  if (f) fclose(f);
  if (!zsq_file_is_zsq(magic, got)) return zsq_model_load_onnx(m, path);
  reset(m);
  zsq_status st = zsq_file_read(path, &m->graph, &m->qlayers, &m->n_qlayers, &m->err);
  if (st != ZSQ_OK) return st;
  m->quantized = 1;
  return finish_load(m, st);
}

int zsq_model_is_quantized(const zsq_model *m) {
  return m ? m->quantized : 0;
}

zsq_status zsq_model_save(zsq_model *m, const char *path) {
  if (m == NULL || path == NULL) return ZSQ_ERR_INVALID_ARG;
  zsq_err_clear(&m->err);
  if (!m->quantized) {
    return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG,
                    "only quantized models are saved as .zsq (quantize first)");
  }
  return zsq_file_write(path, m->graph, m->qlayers, m->n_qlayers, &m->err);
}

zsq_status zsq_model_load_onnx_buffer(zsq_model *m, const void *data, size_t size) {
  if (m == NULL || data == NULL) return ZSQ_ERR_INVALID_ARG;
  reset(m);
  return finish_load(m, zsq_onnx_import_buffer(data, size, &m->graph, &m->err));
}

zsq_status zsq_model_input_shape(const zsq_model *m, int64_t dims[4]) {
  if (m == NULL || m->graph == NULL) return ZSQ_ERR_INVALID_ARG;
  const zsq_tensor *t = &m->graph->tensors[m->graph->inputs[0]];
  if (t->rank != 4) return ZSQ_ERR_UNSUPPORTED;
  memcpy(dims, t->dims, 4 * sizeof(int64_t));
  return ZSQ_OK;
}

int64_t zsq_model_output_size(const zsq_model *m) {
  if (m == NULL || m->graph == NULL) return -1;
  const zsq_graph *g = m->graph;
  int out = g->outputs[0];
  for (size_t i = 0; i < g->n_nodes; i++) {
    if (g->nodes[i].outputs[0] == out) {
      const zsq_layer_info *li = &m->layers[i];
      return li->out_rank < 1 ? 1 : zsq_dims_product(li->out_dims + 1, li->out_rank - 1);
    }
  }
  return -1;
}

const char *zsq_model_metadata(const zsq_model *m, const char *key) {
  if (m == NULL || m->graph == NULL || key == NULL) return NULL;
  return zsq_graph_meta(m->graph, key);
}

size_t zsq_model_layer_count(const zsq_model *m) {
  return (m && m->graph) ? m->graph->n_nodes : 0;
}

zsq_status zsq_model_layer(const zsq_model *m, size_t i, zsq_layer_info *info) {
  if (m == NULL || m->graph == NULL || info == NULL || i >= m->graph->n_nodes)
    return ZSQ_ERR_INVALID_ARG;
  *info = m->layers[i];
  return ZSQ_OK;
}
