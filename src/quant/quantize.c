/* quantize.c — builds the simulated quantized graph: fold BN, pick quantization points and bit
 * widths, calibrate activation grids on calibration images, quantize weights per channel, insert
 * FakeQuant nodes, and measure per-layer error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "float/layout.h"
#include "float/plan.h"
#include "graph/passes.h"
#include "quant/dfq.h"
#include "quant/mixed.h"
#include "quant/quant.h"
#include "quant/ranges.h"
#include "quant/recon.h"
#include "quant/wquant.h"

#define CALIB_BATCH 64
#define CLE_SWEEPS 100 /* at most; equalisation stops earlier once the scales settle */

static int is_layer(const zsq_node *n) {
  return n->op == ZSQ_OP_CONV || n->op == ZSQ_OP_GEMM;
}

static int consumers(const zsq_graph *g, int t) {
  int c = 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    for (int k = 0; k < g->nodes[i].n_inputs; k++) c += g->nodes[i].inputs[k] == t;
  }
  return c;
}

/* Whether tensor t can only hold values >= 0 (after ReLU/ReLU6, through pools and reshapes). */
static int nonneg(const zsq_graph *g, int t) {
  const int p = g->tensors[t].producer;
  if (p < 0) return 0;
  const zsq_node *n = &g->nodes[p];
  switch (n->op) {
    case ZSQ_OP_RELU:
      return 1;
    case ZSQ_OP_CLIP:
      return n->a.clip.min >= 0 && n->n_inputs < 2;
    case ZSQ_OP_CONV:
    case ZSQ_OP_ADD:
    case ZSQ_OP_GEMM:
      return n->act_min >= 0;
    case ZSQ_OP_MAXPOOL:
    case ZSQ_OP_AVGPOOL:
    case ZSQ_OP_GLOBALAVGPOOL:
    case ZSQ_OP_FLATTEN:
    case ZSQ_OP_RESHAPE:
    case ZSQ_OP_IDENTITY:
      return nonneg(g, n->inputs[0]);
    default:
      return 0;
  }
}

/* Adds (or widens) the quantization point of tensor t. */
static int add_point(zsq_qresult *r, const zsq_graph *g, int t, int bits) {
  for (int i = 0; i < r->n_points; i++) {
    if (r->points[i].tensor == t) {
      if (bits > r->points[i].bits) r->points[i].bits = bits;
      return i;
    }
  }
  zsq_qpoint *p = &r->points[r->n_points];
  memset(p, 0, sizeof *p);
  p->tensor = t;
  p->bits = bits;
  p->is_unsigned = nonneg(g, t);
  p->min = INFINITY;
  p->max = -INFINITY;
  return r->n_points++;
}

/* Whether tensor t is, under first_last_8bit, the first layer's output or derives from it through
 * operators that only select among its values (max pooling, reshapes). */
static int stem_output(const zsq_graph *g, const zsq_qscheme *sc, int first, int t) {
  if (!sc->first_last_8bit) return 0;
  for (;;) {
    const int p = g->tensors[t].producer;
    if (p < 0) return 0;
    if (p == first) return 1;
    const zsq_op op = g->nodes[p].op;
    if (op != ZSQ_OP_MAXPOOL && op != ZSQ_OP_FLATTEN && op != ZSQ_OP_RESHAPE &&
        op != ZSQ_OP_IDENTITY)
      return 0;
    t = g->nodes[p].inputs[0];
  }
}

/* Layers and quantization points: a Conv/Gemm's data input is stored as codes at its activation
 * width; so is every Add/Mul operand that is not a Conv/Gemm output fused into the epilogue. */
static zsq_status find_points(zsq_qresult *r, const zsq_qscheme *sc, zsq_err *err) {
  const zsq_graph *g = r->folded;
  r->points = calloc(g->n_tensors + 1, sizeof(zsq_qpoint));
  r->layers = calloc(g->n_nodes + 1, sizeof(zsq_qlayer));
  if (!r->points || !r->layers) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  int first = -1, last = -1;
  for (size_t i = 0; i < g->n_nodes; i++) {
    if (!is_layer(&g->nodes[i])) continue;
    if (first < 0) first = (int)i;
    last = (int)i;
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    const zsq_node *n = &g->nodes[i];
    if (is_layer(n)) {
      const int edge = sc->first_last_8bit && ((int)i == first || (int)i == last);
      zsq_qlayer *l = &r->layers[r->n_layers++];
      l->node = (int)i;
      l->name = n->name;
      l->wbits = edge ? 8 : sc->wbits;
      l->abits = edge || stem_output(g, sc, first, n->inputs[0]) ? 8 : sc->abits;
      l->input_point =
          g->tensors[n->inputs[0]].is_const ? -1 : add_point(r, g, n->inputs[0], l->abits);
      if (!g->tensors[n->inputs[1]].is_const) {
        return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "layer '%s' has non-constant weights", n->name);
      }
    } else if (n->op == ZSQ_OP_ADD || n->op == ZSQ_OP_MUL) {
      for (int k = 0; k < 2; k++) {
        const int t = n->inputs[k], p = g->tensors[t].producer;
        if (g->tensors[t].is_const) continue;
        if (p >= 0 && is_layer(&g->nodes[p]) && consumers(g, t) == 1) continue; /* fused epilogue */
        add_point(r, g, t, stem_output(g, sc, first, t) ? 8 : sc->abits);
      }
    }
  }
  if (r->n_layers == 0)
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "the model has no Conv or Gemm layer to quantize");
  return ZSQ_OK;
}

typedef void (*batch_fn)(void *ctx, zsq_fplan *p, int64_t n);

/* Runs g over the calibration images in batches (the last plan sized for the remainder). */
static zsq_status for_each_batch(const zsq_graph *g, const float *calib, int64_t count,
                                 pthreadpool_t tp, batch_fn fn, void *ctx, zsq_err *err) {
  const int64_t full = count < CALIB_BATCH ? count : CALIB_BATCH;
  zsq_fplan *p = NULL;
  int64_t planned = 0;
  for (int64_t first = 0; first < count; first += full) {
    const int64_t n = count - first < full ? count - first : full;
    if (n != planned) {
      zsq_fplan_destroy(p);
      ZSQ_TRY(zsq_fplan_create(g, n, tp, &p, err));
      planned = n;
    }
    zsq_value *in = zsq_fplan_value(p, g->inputs[0]);
    zsq_value_from_logical(in, calib + first * (int64_t)(in->numel / (size_t)n));
    zsq_fplan_forward(p);
    fn(ctx, p, n);
  }
  zsq_fplan_destroy(p);
  return ZSQ_OK;
}

typedef struct stats_ctx {
  zsq_qresult *r;
  zsq_hist *hist; /* NULL on the min/max pass */
} stats_ctx;

static void collect(void *vc, zsq_fplan *p, int64_t n) {
  (void)n;
  stats_ctx *c = vc;
  for (int i = 0; i < c->r->n_points; i++) {
    const zsq_value *v = zsq_fplan_value(p, c->r->points[i].tensor);
    const float *x = v->data;
    if (c->hist) {
      zsq_hist_add(&c->hist[i], x, v->numel);
      continue;
    }
    zsq_qpoint *q = &c->r->points[i];
    q->channels = v->rank >= 2 ? v->dims[1] : 1;
    for (size_t k = 0; k < v->numel; k++) {
      q->min = x[k] < q->min ? x[k] : q->min;
      q->max = x[k] > q->max ? x[k] : q->max;
    }
  }
}

static zsq_status calibrate(zsq_qresult *r, const zsq_qscheme *sc, const float *calib,
                            int64_t count, pthreadpool_t tp, zsq_err *err) {
  stats_ctx c = {r, NULL};
  ZSQ_TRY(for_each_batch(r->folded, calib, count, tp, collect, &c, err));
  c.hist = malloc((size_t)r->n_points * sizeof(zsq_hist));
  if (c.hist == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (int i = 0; i < r->n_points; i++)
    zsq_hist_init(&c.hist[i], r->points[i].min, r->points[i].max);
  zsq_status st = for_each_batch(r->folded, calib, count, tp, collect, &c, err);
  for (int i = 0; st == ZSQ_OK && i < r->n_points; i++) {
    zsq_qpoint *q = &r->points[i];
    const double lo = q->is_unsigned ? 0.0 : q->min;
    zsq_act_grid(&c.hist[i], lo, q->max, q->bits, sc->act_range, sc->percentile, &q->scale,
                 &q->zero_point);
  }
  free(c.hist);
  return st;
}

/* Weight rows per output channel: Conv OIHW rows; Gemm rows of B' (transB: rows of B, else
 * columns). */
/* Rounds the layer's weights in g; with record, keeps the tensor, layout and scales in l. */
static void quantize_weights(zsq_graph *g, zsq_qlayer *l, const zsq_qscheme *sc, int record) {
  const zsq_node *n = &g->nodes[l->node];
  zsq_tensor *w = &g->tensors[n->inputs[1]];
  const zsq_wlayout lay = zsq_weight_layout(n, w);
  if (record) {
    free(l->wscale);
    free(l->wzero);
    l->wscale = malloc((size_t)lay.rows * sizeof(float));
    l->wzero = zsq_weight_asym(sc->weight_asym, l->wbits) ? malloc((size_t)lay.rows * sizeof(float))
                                                          : NULL;
    l->sim_weight = n->inputs[1];
    l->wrows = lay.rows;
    l->row_stride = (int)lay.rstride;
    l->elem_stride = (int)lay.estride;
  }
  l->weight_sqnr_db =
      zsq_quantize_weight_rows(w->data, &lay, l->wbits, sc->weight_asym, sc->weight_range, w->data,
                               record ? l->wscale : NULL, record ? l->wzero : NULL);
}

/* Every Conv/Gemm gets a private copy of its weights (folding may share them). */
static zsq_status own_weights(zsq_graph *g, zsq_err *err) {
  for (size_t i = 0; i < g->n_nodes; i++) {
    zsq_node *n = &g->nodes[i];
    if (!is_layer(n)) continue;
    char name[600];
    snprintf(name, sizeof name, "%s/qweight", n->name);
    const int src = n->inputs[1], t = zsq_graph_add_tensor(g, name);
    if (t < 0) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    n = &g->nodes[i];
    zsq_tensor *d = &g->tensors[t], *s = &g->tensors[src];
    const size_t bytes = (size_t)zsq_tensor_numel(s) * sizeof(float);
    d->data = zsq_aligned_alloc(bytes);
    if (d->data == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    memcpy(d->data, s->data, bytes);
    d->is_const = 1;
    d->rank = s->rank;
    memcpy(d->dims, s->dims, sizeof d->dims);
    n->inputs[1] = t;
  }
  return ZSQ_OK;
}

/* Adds the rounding-border inputs of FakeQuant node fq (a = 0.5, b = 0 per channel: nearest). */
static zsq_status add_borders(zsq_graph *g, zsq_node *fq, const zsq_qpoint *q, zsq_err *err) {
  for (int k = 1; k < 3; k++) {
    char name[620];
    snprintf(name, sizeof name, "%s/border_%c", fq->name, k == 1 ? 'a' : 'b');
    const int t = zsq_graph_add_tensor(g, name);
    float *d = t < 0 ? NULL : zsq_aligned_alloc((size_t)q->channels * sizeof(float));
    if (d == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    for (int64_t c = 0; c < q->channels; c++) d[c] = k == 1 ? 0.5f : 0.0f;
    zsq_tensor *bt = &g->tensors[t];
    bt->is_const = 1;
    bt->rank = 1;
    bt->dims[0] = q->channels;
    bt->data = d;
    fq->inputs[k] = t;
  }
  fq->n_inputs = 3;
  return ZSQ_OK;
}

/* The folded graph with the layers in mask (NULL = all) quantized: weights rounded and their
 * input points (and, with all layers, every point) behind FakeQuant nodes, with rounding borders
 * when the scheme learns them (the full graph only). */
static zsq_status build_sim(zsq_qresult *r, const zsq_qscheme *sc, const int *mask, zsq_graph **out,
                            zsq_err *err) {
  zsq_graph *g = zsq_graph_clone(r->folded);
  if (g == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  zsq_status st = own_weights(g, err);
  for (int i = 0; st == ZSQ_OK && i < r->n_layers; i++) {
    if (mask == NULL || mask[i]) quantize_weights(g, &r->layers[i], sc, mask == NULL);
  }
  for (int i = 0; st == ZSQ_OK && i < r->n_points; i++) {
    int wanted = mask == NULL;
    for (int l = 0; !wanted && l < r->n_layers; l++)
      wanted = mask[l] && r->layers[l].input_point == i;
    if (!wanted) continue;
    const zsq_qpoint *q = &r->points[i];
    char name[600];
    snprintf(name, sizeof name, "%s/fq", g->tensors[q->tensor].name);
    const int t = zsq_graph_add_tensor(g, name);
    if (t < 0) {
      st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
      break;
    }
    for (size_t k = 0; k < g->n_nodes; k++) {
      for (int j = 0; j < g->nodes[k].n_inputs; j++) {
        if (g->nodes[k].inputs[j] == q->tensor) g->nodes[k].inputs[j] = t;
      }
    }
    for (size_t k = 0; k < g->n_outputs; k++) {
      if (g->outputs[k] == q->tensor) g->outputs[k] = t;
    }
    zsq_node fq;
    memset(&fq, 0, sizeof fq);
    fq.name = name;
    fq.op = ZSQ_OP_FAKEQUANT;
    fq.opset = (int)g->opset;
    fq.n_inputs = fq.n_outputs = 1;
    fq.inputs[0] = q->tensor;
    fq.outputs[0] = t;
    fq.act_min = -INFINITY;
    fq.act_max = INFINITY;
    fq.a.fq.scale = q->scale;
    fq.a.fq.inv_scale = 1.0f / q->scale;
    fq.a.fq.zero_point = q->zero_point;
    fq.a.fq.qmin = 0.0f;
    fq.a.fq.qmax = (float)((1 << q->bits) - 1);
    if (mask == NULL && sc->aquant_borders) st = add_borders(g, &fq, q, err);
    if (st == ZSQ_OK && zsq_graph_add_node(g, &fq) < 0)
      st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  if (st == ZSQ_OK) st = zsq_graph_finalize(g, err);
  if (st != ZSQ_OK) {
    zsq_graph_free(g);
    return st;
  }
  *out = g;
  return ZSQ_OK;
}

/* SQNR (dB) of every layer's output of `test` against the float plan `ref` (already run on the
 * same images). */
static zsq_status layer_sqnr(const zsq_qresult *r, zsq_fplan *ref, const zsq_graph *test,
                             const float *calib, int64_t count, pthreadpool_t tp, double *out,
                             zsq_err *err) {
  zsq_fplan *pt;
  ZSQ_TRY(zsq_fplan_create(test, count, tp, &pt, err));
  zsq_value_from_logical(zsq_fplan_value(pt, test->inputs[0]), calib);
  zsq_fplan_forward(pt);
  for (int l = 0; l < r->n_layers; l++) {
    const int t = r->folded->nodes[r->layers[l].node].outputs[0]; /* same index in both graphs */
    const zsq_value *a = zsq_fplan_value(ref, t), *b = zsq_fplan_value(pt, t);
    const float *x = a->data, *y = b->data;
    double sig = 0, noise = 0;
    for (size_t i = 0; i < a->numel; i++) {
      sig += (double)x[i] * x[i];
      noise += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    }
    out[l] = noise > 0 ? 10.0 * log10(sig / noise) : INFINITY;
  }
  zsq_fplan_destroy(pt);
  return ZSQ_OK;
}

static zsq_status measure(zsq_qresult *r, const zsq_qscheme *sc, const float *calib, int64_t count,
                          pthreadpool_t tp, zsq_err *err) {
  const int64_t n = count < CALIB_BATCH ? count : CALIB_BATCH;
  zsq_fplan *ref;
  ZSQ_TRY(zsq_fplan_create(r->folded, n, tp, &ref, err));
  zsq_value_from_logical(zsq_fplan_value(ref, r->folded->inputs[0]), calib);
  zsq_fplan_forward(ref);
  double *sq = malloc((size_t)r->n_layers * sizeof(double));
  int *mask = calloc((size_t)r->n_layers, sizeof(int));
  zsq_status st = (sq && mask) ? layer_sqnr(r, ref, r->sim, calib, n, tp, sq, err)
                               : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (int l = 0; st == ZSQ_OK && l < r->n_layers; l++) r->layers[l].accumulated_sqnr_db = sq[l];
  for (int l = 0; st == ZSQ_OK && l < r->n_layers; l++) {
    zsq_graph *one;
    memset(mask, 0, (size_t)r->n_layers * sizeof(int));
    mask[l] = 1;
    st = build_sim(r, sc, mask, &one, err);
    if (st == ZSQ_OK) st = layer_sqnr(r, ref, one, calib, n, tp, sq, err);
    if (st == ZSQ_OK) r->layers[l].isolated_sqnr_db = sq[l];
    if (st == ZSQ_OK) zsq_graph_free(one);
  }
  free(sq);
  free(mask);
  zsq_fplan_destroy(ref);
  return st;
}

/* Per-channel mean of (float − quantized) output over the images of an open plan pair. */
static void channel_shift(const zsq_value *a, const zsq_value *b, int is_nhwc, int64_t c,
                          double *shift) {
  const float *x = a->data, *y = b->data;
  const int64_t rows = (int64_t)a->numel / c;
  for (int64_t k = 0; k < c; k++) shift[k] = 0.0;
  if (is_nhwc || a->rank == 2) { /* channel innermost */
    for (int64_t r = 0; r < rows; r++) {
      for (int64_t k = 0; k < c; k++) shift[k] += (double)x[r * c + k] - y[r * c + k];
    }
  }
  for (int64_t k = 0; k < c; k++) shift[k] /= (double)rows;
}

/* Empirical bias correction, layer by layer in order: each layer's bias absorbs the mean output
 * error it shows on the calibration images given the already-corrected layers before it. */
static zsq_status bias_correct(zsq_qresult *r, const float *calib, int64_t count, pthreadpool_t tp,
                               zsq_err *err) {
  const int64_t n = count < CALIB_BATCH ? count : CALIB_BATCH;
  zsq_fplan *pf;
  ZSQ_TRY(zsq_fplan_create(r->folded, n, tp, &pf, err));
  zsq_value_from_logical(zsq_fplan_value(pf, r->folded->inputs[0]), calib);
  zsq_fplan_forward(pf);
  zsq_status st = ZSQ_OK;
  for (int l = 0; st == ZSQ_OK && l < r->n_layers; l++) {
    const zsq_node *fn = &r->folded->nodes[r->layers[l].node];
    const int t = fn->outputs[0];
    const zsq_node *sn = &r->sim->nodes[r->sim->tensors[t].producer];
    const int bt = sn->n_inputs > 2 ? sn->inputs[2] : -1;
    if (bt < 0 || !r->sim->tensors[bt].is_const) continue;
    zsq_tensor *bias = &r->sim->tensors[bt];
    const int64_t c = zsq_tensor_numel(bias);
    zsq_fplan *ps;
    st = zsq_fplan_create(r->sim, n, tp, &ps, err);
    if (st != ZSQ_OK) break;
    zsq_value_from_logical(zsq_fplan_value(ps, r->sim->inputs[0]), calib);
    zsq_fplan_forward(ps);
    const zsq_value *a = zsq_fplan_value(pf, t), *b = zsq_fplan_value(ps, t);
    double *shift = malloc((size_t)c * sizeof(double));
    if (shift != NULL && (a->rank == 4 || a->rank == 2) && a->dims[1] == c) {
      channel_shift(a, b, a->rank == 4, c, shift);
      float *bd = bias->data;
      for (int64_t k = 0; k < c; k++) bd[k] += (float)shift[k];
    }
    free(shift);
    zsq_fplan_destroy(ps);
  }
  zsq_fplan_destroy(pf);
  return st;
}

/* Latency costs: for 8 bits and each narrower width some free layer may take, a simulated graph
 * with every free layer at that width, all timed together by sc->timer: ml[i].cost[b] is layer i's
 * time (INFINITY at widths no layer takes), *other the rest of the 8-bit graph. */
static zsq_status latency_costs(zsq_qresult *r, const zsq_qscheme *sc, zsq_mp_layer *ml,
                                double *other, zsq_err *err) {
  const zsq_layer_timer *tm = &sc->timer;
  zsq_graph *sims[ZSQ_MP_NBITS] = {NULL};
  void *inst[ZSQ_MP_NBITS] = {NULL};
  int width_of[ZSQ_MP_NBITS], n = 0; /* instance k times width index width_of[k] */
  zsq_status st = ZSQ_OK;
  for (int b = 0; st == ZSQ_OK && b < ZSQ_MP_NBITS; b++) {
    int offered = b == 0;
    for (int i = 0; i < r->n_layers; i++) {
      offered |= !ml[i].fixed_bits && isfinite(ml[i].sens[b]);
      ml[i].cost[b] = INFINITY;
      if (!ml[i].fixed_bits) r->layers[i].wbits = zsq_mp_bits[b];
    }
    if (!offered) continue;
    st = build_sim(r, sc, NULL, &sims[n], err);
    if (st == ZSQ_OK) st = tm->prepare(tm->ctx, r, sims[n], &inst[n], err);
    width_of[n++] = b;
  }
  double *t = malloc(((size_t)n * (size_t)r->n_layers + 1) * sizeof(double));
  double rest[ZSQ_MP_NBITS];
  if (st == ZSQ_OK && t == NULL) st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  if (st == ZSQ_OK) st = tm->time(tm->ctx, inst, n, r->n_layers, t, rest, err);
  for (int k = 0; st == ZSQ_OK && k < n; k++)
    for (int i = 0; i < r->n_layers; i++)
      ml[i].cost[width_of[k]] = t[(size_t)k * (size_t)r->n_layers + (size_t)i];
  if (st == ZSQ_OK) *other = rest[0]; /* width_of[0] is 8 bits */
  for (int k = 0; k < n; k++) {
    if (inst[k] != NULL) tm->release(tm->ctx, inst[k]);
    zsq_graph_free(sims[k]);
  }
  free(t);
  return st;
}

/* Refuses a budget below the least cost, in the budget's units. */
static zsq_status check_budget(const zsq_qresult *r, const zsq_qscheme *sc, const zsq_mp_layer *ml,
                               double other, pthreadpool_t tp, zsq_err *err) {
  const double least = other + zsq_mixed_least_cost(ml, r->n_layers);
  if (sc->budget_seconds <= 0) {
    if (sc->budget_bits >= least * (1.0 - 1e-12)) return ZSQ_OK;
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                    "budget of %.0f bytes is below the smallest model (%.0f bytes: every free "
                    "layer at the fewest bits it may take)",
                    sc->budget_bits / 8, least / 8);
  }
  if (sc->budget_seconds >= least * (1.0 - 1e-12)) return ZSQ_OK;
  double all_8bit = other;
  for (int i = 0; i < r->n_layers; i++) all_8bit += ml[i].cost[0];
  const int threads = tp ? (int)pthreadpool_get_threads_count(tp) : 1;
  return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                  "latency budget of %.4g ms is below the fastest choice: %.4g ms per image as "
                  "measured here with %d thread%s (every free layer at its fastest width; all "
                  "8-bit: %.4g ms)",
                  sc->budget_seconds * 1e3, least * 1e3, threads, threads > 1 ? "s" : "",
                  all_8bit * 1e3);
}

/* Mixed precision: per-layer weight bits under sc->budget_bits or sc->budget_seconds (the first
 * and last layer keep their 8 bits when first_last_8bit), at most sc->wbits, 2 bits only with
 * reconstruction. */
static zsq_status choose_bits(zsq_qresult *r, const zsq_qscheme *sc, const float *calib,
                              int64_t count, pthreadpool_t tp, zsq_err *err) {
  const int n = r->n_layers, latency = sc->budget_seconds > 0;
  zsq_mp_layer *ml = calloc((size_t)n, sizeof *ml);
  int *bits = malloc((size_t)n * sizeof(int));
  zsq_status st = ml && bits ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (int i = 0; st == ZSQ_OK && i < n; i++) {
    const int edge = sc->first_last_8bit && (i == 0 || i == n - 1);
    ml[i].node = r->layers[i].node;
    ml[i].fixed_bits = edge ? 8 : 0;
  }
  if (st == ZSQ_OK)
    st = zsq_mixed_sensitivity(r->folded, ml, n, calib, count, sc->wbits, sc->weight_range,
                               sc->weight_asym, tp, err);
  for (int i = 0; st == ZSQ_OK && i < n; i++) {
    for (int b = 0; b < ZSQ_MP_NBITS; b++) {
      /* Not choices: widths above --bits, and 2 bits without reconstruction (rounding to nearest
       * at 2 bits collapses the model, docs/RESULTS.md). */
      if (zsq_mp_bits[b] > sc->wbits || (zsq_mp_bits[b] == 2 && sc->recon == ZSQ_RECON_NONE))
        ml[i].sens[b] = INFINITY;
      ml[i].cost[b] = (double)ml[i].params * zsq_mp_bits[b];
    }
  }
  double other = 0.0;
  if (st == ZSQ_OK && latency) st = latency_costs(r, sc, ml, &other, err);
  if (st == ZSQ_OK) st = check_budget(r, sc, ml, other, tp, err);
  if (st == ZSQ_OK)
    st = zsq_mixed_choose(ml, n, (latency ? sc->budget_seconds : sc->budget_bits) - other, bits,
                          err);
  for (int i = 0; st == ZSQ_OK && i < n; i++) {
    r->layers[i].wbits = bits[i];
    for (int b = 0; latency && b < ZSQ_MP_NBITS; b++)
      if (zsq_mp_bits[b] == bits[i]) r->layers[i].seconds = ml[i].cost[b];
  }
  if (st == ZSQ_OK && latency) {
    r->other_s = r->predicted_s = r->all_8bit_s = other;
    r->fastest_s = other + zsq_mixed_least_cost(ml, n);
    for (int i = 0; i < n; i++) {
      r->predicted_s += r->layers[i].seconds;
      r->all_8bit_s += ml[i].cost[0];
    }
  }
  free(ml);
  free(bits);
  return st;
}

zsq_status zsq_quantize_graph(const zsq_graph *g, const zsq_qscheme *sc, const float *calib,
                              int64_t count, pthreadpool_t tp, zsq_qresult *out, zsq_err *err) {
  memset(out, 0, sizeof *out);
  const int ok_bits[] = {2, 3, 4, 8};
  int wok = 0, aok = 0;
  for (int i = 0; i < 4; i++) {
    wok |= sc->wbits == ok_bits[i];
    aok |= sc->abits == ok_bits[i];
  }
  if (!wok || !aok) return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "bit widths must be 8, 4, 3 or 2");
  if (count < 1) return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "quantization needs calibration images");
  if (sc->recon == ZSQ_RECON_NONE && (sc->qdrop > 0 || sc->aquant_borders || sc->learn_act_steps ||
                                      sc->learn_weight_steps || sc->pd_loss || sc->pd_dc)) {
    return zsq_fail(
        err, ZSQ_ERR_INVALID_ARG,
        "QDrop, AQuant borders, LSQ and GENIE-M steps, the PD loss and the distribution "
        "correction are learned in reconstruction: choose a method");
  }
  if (sc->pd_dc && !(sc->pd_dc_lamb > 0 && sc->pd_dc_steps >= 1))
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                    "the distribution correction needs lamb_c > 0 and at least one step");
  if (sc->recon != ZSQ_RECON_NONE && sc->recon_iters < 1)
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "reconstruction needs at least one step");
  if (sc->budget_bits > 0 && sc->budget_seconds > 0)
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "give a size budget or a latency budget, not both");
  if (sc->budget_seconds > 0 && (!sc->timer.prepare || !sc->timer.time || !sc->timer.release))
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "a latency budget needs a way to time the layers");
  if (!(sc->qdrop >= 0.0f && sc->qdrop < 1.0f))
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "the QDrop probability must be in [0, 1)");
  out->folded = zsq_graph_clone(g);
  zsq_status st = out->folded ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  if (st == ZSQ_OK) st = zsq_graph_fold_batchnorm(out->folded, err);
  if (st == ZSQ_OK) st = zsq_graph_fuse_activations(out->folded, err);
  zsq_bn_stats *stats = NULL; /* analytic bias correction, DC: the folded convs' BN statistics */
  const size_t n_stats = out->folded ? out->folded->n_tensors : 0;
  if (st == ZSQ_OK && (sc->bias_correction == ZSQ_BIAS_CORRECTION_ANALYTIC || sc->pd_dc))
    st = zsq_bn_stats_collect(g, out->folded, &stats, err);
  if (st == ZSQ_OK && sc->cle) st = zsq_cle(out->folded, stats, CLE_SWEEPS, NULL, err);
  if (st == ZSQ_OK) st = find_points(out, sc, err);
  /* The activation grids do not depend on the weight bits; a latency budget times them. */
  if (st == ZSQ_OK) st = calibrate(out, sc, calib, count, tp, err);
  if (st == ZSQ_OK && (sc->budget_bits > 0 || sc->budget_seconds > 0))
    st = choose_bits(out, sc, calib, count, tp, err);
  if (st == ZSQ_OK) st = build_sim(out, sc, NULL, &out->sim, err);
  if (st == ZSQ_OK && sc->recon != ZSQ_RECON_NONE) {
    st = zsq_reconstruct(out, sc, stats, calib, count, tp, err);
  }
  if (st == ZSQ_OK && sc->bias_correction == ZSQ_BIAS_CORRECTION_EMPIRICAL)
    st = bias_correct(out, calib, count, tp, err);
  if (st == ZSQ_OK && sc->bias_correction == ZSQ_BIAS_CORRECTION_ANALYTIC)
    st = zsq_bias_correct_analytic(out, stats, calib, count, tp, NULL, err);
  zsq_bn_stats_free(stats, n_stats);
  if (st == ZSQ_OK) st = measure(out, sc, calib, count, tp, err);
  if (st != ZSQ_OK) zsq_qresult_free(out);
  return st;
}

void zsq_qresult_free(zsq_qresult *r) {
  for (int i = 0; r->layers && i < r->n_layers; i++) {
    free(r->layers[i].wscale);
    free(r->layers[i].wzero);
  }
  zsq_graph_free(r->folded);
  zsq_graph_free(r->sim);
  free(r->points);
  free(r->layers);
  memset(r, 0, sizeof *r);
}
