/* adaround.c — AdaRound: per layer, learn whether each weight rounds up or down so that the layer
 * fed its quantized input reproduces the float model's output (ptq.md §3.1: rectified sigmoid
 * h(V), ζ = 1.1, γ = −0.1, regulariser Σ 1 − |2h − 1|^β with β annealed 20 → 2 after 20 %). */
#include "quant/adaround.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "float/adam.h"
#include "float/grad.h"
#include "float/plan.h"

#define ZETA 1.1f
#define GAMMA (-0.1f)
#define REG_WEIGHT 0.01f
#define MINIBATCH 32
#define MAX_IMAGES 256

static float rect_sigmoid(float v) {
  const float h = (1.0f / (1.0f + expf(-v))) * (ZETA - GAMMA) + GAMMA;
  return h < 0 ? 0 : (h > 1 ? 1 : h);
}

/* A graph of the one layer: input "x" (dynamic batch), weights, bias, output "y". */
static zsq_graph *layer_graph(const zsq_graph *sim, const zsq_node *sn, const zsq_value *in_shape) {
  zsq_graph *g = zsq_graph_new();
  if (g == NULL) return NULL;
  zsq_node n = *sn;
  n.name = sn->name;
  const int x = zsq_graph_add_tensor(g, "x"), y = zsq_graph_add_tensor(g, "y");
  g->inputs = malloc(sizeof(int));
  g->outputs = malloc(sizeof(int));
  if (x < 0 || y < 0 || !g->inputs || !g->outputs) goto fail;
  g->inputs[0] = x;
  g->outputs[0] = y;
  g->n_inputs = g->n_outputs = 1;
  g->tensors[x].rank = in_shape->rank;
  memcpy(g->tensors[x].dims, in_shape->dims, sizeof in_shape->dims);
  g->tensors[x].dims[0] = -1;
  n.inputs[0] = x;
  n.outputs[0] = y;
  for (int k = 1; k < sn->n_inputs; k++) {
    const zsq_tensor *src = &sim->tensors[sn->inputs[k]];
    const int t = zsq_graph_add_tensor(g, k == 1 ? "w" : "b");
    if (t < 0) goto fail;
    zsq_tensor *d = &g->tensors[t];
    d->is_const = 1;
    d->rank = src->rank;
    memcpy(d->dims, src->dims, sizeof d->dims);
    const size_t bytes = (size_t)zsq_tensor_numel(src) * sizeof(float);
    d->data = zsq_aligned_alloc(bytes);
    if (d->data == NULL) goto fail;
    memcpy(d->data, src->data, bytes);
    n.inputs[k] = t;
  }
  if (zsq_graph_add_node(g, &n) < 0) goto fail;
  zsq_err e;
  zsq_err_clear(&e);
  if (zsq_graph_finalize(g, &e) != ZSQ_OK) goto fail;
  return g;
fail:
  zsq_graph_free(g);
  return NULL;
}

typedef struct layer_job {
  const zsq_qlayer *l;
  const float *w; /* float weights (folded), logical */
  float *out;     /* where the rounded weights go (sim graph tensor), logical */
  int64_t numel;
  float qmin, qmax;
} layer_job;

/* The soft (h) or hard (V >= 0) rounded weights. */
static void rounded(const layer_job *j, const float *v, int hard, float *wq) {
  const zsq_qlayer *l = j->l;
  const int64_t len = j->numel / l->wrows;
  for (int64_t o = 0; o < l->wrows; o++) {
    const float s = l->wscale[o];
    for (int64_t k = 0; k < len; k++) {
      const int64_t i = o * l->row_stride + k * l->elem_stride;
      const float h = hard ? (v[i] >= 0 ? 1.0f : 0.0f) : rect_sigmoid(v[i]);
      float q = floorf(j->w[i] / s) + h;
      q = q < j->qmin ? j->qmin : (q > j->qmax ? j->qmax : q);
      wq[i] = q * s;
    }
  }
}

/* dLoss/dV from dLoss/dŴ (logical), plus the rounding regulariser. */
static void v_grad(const layer_job *j, const float *v, const float *gw, float beta, float reg,
                   float *gv) {
  const zsq_qlayer *l = j->l;
  const int64_t len = j->numel / l->wrows;
  for (int64_t o = 0; o < l->wrows; o++) {
    const float s = l->wscale[o];
    for (int64_t k = 0; k < len; k++) {
      const int64_t i = o * l->row_stride + k * l->elem_stride;
      const float sg = 1.0f / (1.0f + expf(-v[i])), raw = sg * (ZETA - GAMMA) + GAMMA;
      const float base = floorf(j->w[i] / s);
      float dh = (raw > 0 && raw < 1) ? sg * (1 - sg) * (ZETA - GAMMA) : 0.0f;
      const float h = raw < 0 ? 0 : (raw > 1 ? 1 : raw), q = base + h;
      float g = (q >= j->qmin && q <= j->qmax) ? gw[i] * s : 0.0f;
      if (reg > 0) {
        const float t = 2 * h - 1, a = fabsf(t);
        g += reg * -beta * powf(a, beta - 1) * (t >= 0 ? 1.0f : -1.0f) * 2.0f;
      }
      gv[i] = g * dh;
    }
  }
}

/* Learns the rounding of one layer from inputs x (n images) and float targets y (logical). */
static zsq_status learn_layer(zsq_graph *one, const layer_job *j, const float *x, const float *y,
                              int64_t n, int64_t x_img, int64_t y_img, int iters, pthreadpool_t tp,
                              zsq_rng *rng, zsq_err *err) {
  const int64_t mb = n < MINIBATCH ? n : MINIBATCH;
  zsq_fplan *p = NULL;
  zsq_fgrad *gr = NULL;
  zsq_adam adam = {0};
  const int wt = zsq_graph_find(one, "w");
  float *v = malloc((size_t)j->numel * sizeof(float)),
        *wq = malloc((size_t)j->numel * sizeof(float));
  float *gw = malloc((size_t)j->numel * sizeof(float)),
        *gv = malloc((size_t)j->numel * sizeof(float));
  float *xb = malloc((size_t)(mb * x_img) * sizeof(float)),
        *yb = malloc((size_t)(mb * y_img) * sizeof(float));
  zsq_status st = (v && wq && gw && gv && xb && yb && zsq_adam_init(&adam, (size_t)j->numel, 1e-2f))
                      ? ZSQ_OK
                      : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  if (st == ZSQ_OK) st = zsq_fplan_create(one, mb, tp, &p, err);
  if (st == ZSQ_OK) st = zsq_fgrad_create_ex(p, &wt, 1, 0, &gr, err);
  /* V so that h(V) equals the fractional part of W/s: rounding starts where the float weight is. */
  for (int64_t o = 0; st == ZSQ_OK && o < j->l->wrows; o++) {
    const int64_t len = j->numel / j->l->wrows;
    for (int64_t k = 0; k < len; k++) {
      const int64_t i = o * j->l->row_stride + k * j->l->elem_stride;
      const float r = j->w[i] / j->l->wscale[o], frac = r - floorf(r);
      v[i] = -logf((ZETA - GAMMA) / (frac - GAMMA) - 1.0f);
    }
  }
  for (int it = 0; st == ZSQ_OK && it < iters; it++) {
    const float warm = 0.2f * (float)iters,
                beta = it < warm ? 20.0f : 20.0f - 18.0f * (it - warm) / (iters - warm);
    rounded(j, v, 0, wq);
    st = zsq_fplan_set_constant(p, wt, wq, err);
    if (st != ZSQ_OK) break;
    for (int64_t b = 0; b < mb; b++) {
      const int64_t src = (int64_t)zsq_rng_below(rng, (uint32_t)n);
      memcpy(xb + b * x_img, x + src * x_img, (size_t)x_img * sizeof(float));
      memcpy(yb + b * y_img, y + src * y_img, (size_t)y_img * sizeof(float));
    }
    zsq_value_from_logical(zsq_fplan_value(p, one->inputs[0]), xb);
    zsq_fplan_forward(p);
    const zsq_value *out = zsq_fplan_value(p, one->outputs[0]);
    float *ylog = malloc(out->numel * sizeof(float));
    if (ylog == NULL) {
      st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
      break;
    }
    zsq_value_to_logical(out, ylog);
    /* loss = Σ_channels (y − t)², averaged over images and pixels: gradient 2(y − t)/(rows) */
    const int64_t c = out->dims[1], rows = (int64_t)out->numel / c;
    for (size_t i = 0; i < out->numel; i++) ylog[i] = 2.0f * (ylog[i] - yb[i]) / (float)rows;
    zsq_fgrad_zero(gr);
    zsq_layout_add_logical(out, zsq_fgrad_of(gr, one->outputs[0]), ylog);
    free(ylog);
    zsq_fgrad_backward(gr);
    zsq_layout_to_logical(zsq_fplan_value(p, wt), zsq_fgrad_of(gr, wt), gw);
    v_grad(j, v, gw, beta, it < warm ? 0.0f : REG_WEIGHT, gv);
    zsq_adam_step(&adam, v, gv, tp);
  }
  if (st == ZSQ_OK) rounded(j, v, 1, j->out);
  zsq_fgrad_destroy(gr);
  zsq_fplan_destroy(p);
  zsq_adam_free(&adam);
  free(v), free(wq), free(gw), free(gv), free(xb), free(yb);
  return st;
}

zsq_status zsq_adaround(zsq_qresult *r, const float *calib, int64_t count, int iters,
                        pthreadpool_t tp, zsq_err *err) {
  const int64_t n = count < MAX_IMAGES ? count : MAX_IMAGES;
  zsq_fplan *pf = NULL;
  ZSQ_TRY(zsq_fplan_create(r->folded, n, tp, &pf, err));
  zsq_value_from_logical(zsq_fplan_value(pf, r->folded->inputs[0]), calib);
  zsq_fplan_forward(pf);
  zsq_rng rng;
  zsq_rng_seed(&rng, 12345);
  zsq_status st = ZSQ_OK;
  for (int li = 0; st == ZSQ_OK && li < r->n_layers; li++) {
    const zsq_qlayer *l = &r->layers[li];
    const zsq_node *fn = &r->folded->nodes[l->node];
    const int t_out = fn->outputs[0];
    const zsq_node *sn = &r->sim->nodes[r->sim->tensors[t_out].producer];
    /* this layer's quantized input, from the simulation with the layers before it already learned
     */
    zsq_fplan *ps = NULL;
    st = zsq_fplan_create(r->sim, n, tp, &ps, err);
    if (st != ZSQ_OK) break;
    zsq_value_from_logical(zsq_fplan_value(ps, r->sim->inputs[0]), calib);
    zsq_fplan_forward(ps);
    const zsq_value *xin = zsq_fplan_value(ps, sn->inputs[0]), *yt = zsq_fplan_value(pf, t_out);
    float *x = malloc(xin->numel * sizeof(float)), *y = malloc(yt->numel * sizeof(float));
    zsq_graph *one = layer_graph(r->sim, sn, xin);
    if (x == NULL || y == NULL || one == NULL) st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    if (st == ZSQ_OK) {
      zsq_value_to_logical(xin, x);
      zsq_value_to_logical(yt, y);
      zsq_tensor *wsim = &r->sim->tensors[l->sim_weight];
      const int64_t numel = zsq_tensor_numel(wsim);
      layer_job j = {
          l,     r->folded->tensors[fn->inputs[1]].data, wsim->data,
          numel, -(float)(1 << (l->wbits - 1)),          (float)((1 << (l->wbits - 1)) - 1)};
      st = learn_layer(one, &j, x, y, n, (int64_t)xin->numel / n, (int64_t)yt->numel / n, iters, tp,
                       &rng, err);
    }
    free(x);
    free(y);
    zsq_graph_free(one);
    zsq_fplan_destroy(ps);
  }
  zsq_fplan_destroy(pf);
  return st;
}
