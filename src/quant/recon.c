/* recon.c — layer-wise (AdaRound) and block-wise (BRECQ) reconstruction with QDrop, LSQ
 * activation steps, GENIE-M weight steps and AQuant borders: Adam on the rounding variables of
 * every layer of the unit (with the steps, quant/recon_steps.h) and then on the borders of every
 * FakeQuant in it, loss Σ_channels (ŷ − y)² averaged over images and pixels (ptq.md §3–5), plus
 * optionally PD-Quant's prediction difference through the float rest of the network (§6.2) and
 * its distribution-corrected float targets (§6.1). */
#include "quant/recon.h"

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "float/adam.h"
#include "float/fakequant.h"
#include "float/grad.h"
#include "float/plan.h"
#include "quant/adaround.h"
#include "quant/blocks.h"
#include "quant/recon_dc.h"
#include "quant/recon_pd.h"
#include "quant/recon_steps.h"

#define MINIBATCH 32
#define MAX_IMAGES 256
#define ROUND_LR 1e-2f
#define BORDER_LR 5e-4f     /* 2e-3 fitted the borders to synthetic activations (docs/RESULTS.md) */
#define BORDER_MARGIN 0.01f /* borders stay in [margin, 1 − margin] on the code range */

/* The borders of one FakeQuant of the unit, learned as θ = (a_c, e_c) with b_c = e_c / qmax:
 * the border at code 0 and its rise up to the top code, both in code units (qmin is 0). */
typedef struct border_vars {
  int ta, tb;   /* unit graph tensors of a and b */
  int64_t c;    /* channels */
  float qmax;   /* top code */
  float *theta; /* 2c values inside the unit's border parameter vector */
} border_vars;

/* What one unit learns, and its plan. */
typedef struct unit {
  zsq_graph *g;
  int *origin; /* unit tensor -> sim tensor */
  zsq_fplan *p;
  zsq_fgrad *gr;
  zsq_round_vars *rv;
  int *wt; /* unit weight tensor of each layer, then the other tensors gradients are taken for */
  int n_layers;
  border_vars *bv;
  int n_borders;
  zsq_steps steps;
  /* ws: the layers' row steps; buf: the largest weight, border or output, logical */
  float *v, *gv, *ws, *theta, *gtheta, *buf;
  size_t n_v, n_ws, n_theta;
} unit;

static void unit_free(unit *u) {
  zsq_fgrad_destroy(u->gr);
  zsq_fplan_destroy(u->p);
  zsq_graph_free(u->g);
  zsq_steps_free(&u->steps);
  free(u->origin), free(u->rv), free(u->wt), free(u->bv);
  free(u->v), free(u->gv), free(u->ws), free(u->theta), free(u->gtheta), free(u->buf);
}

static int unit_tensor(const unit *u, int sim_tensor) {
  for (size_t t = 0; t < u->g->n_tensors; t++) {
    if (u->origin[t] == sim_tensor) return (int)t;
  }
  return -1;
}

/* Finds the layers' weights and the borders in the unit graph, allocates and initialises their
 * variables and the steps the scheme learns, and the gradients with respect to them. */
static zsq_status unit_vars(unit *u, const zsq_qresult *r, const zsq_qscheme *sc,
                            const zsq_block *b, int64_t mb, zsq_err *err) {
  u->n_layers = b->n_layers;
  u->rv = calloc((size_t)b->n_layers, sizeof(zsq_round_vars));
  u->wt = calloc((size_t)b->n_layers + 3 * u->g->n_nodes, sizeof(int));
  u->bv = calloc(u->g->n_nodes + 1, sizeof(border_vars));
  if (!u->rv || !u->wt || !u->bv) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  size_t big = zsq_fplan_value(u->p, u->g->outputs[0])->numel;
  for (int i = 0; i < b->n_layers; i++) {
    const zsq_qlayer *l = &r->layers[b->first_layer + i];
    const zsq_node *fn = &r->folded->nodes[l->node];
    const int64_t numel = zsq_tensor_numel(&r->sim->tensors[l->sim_weight]);
    u->rv[i] =
        (zsq_round_vars){.l = l, .w = r->folded->tensors[fn->inputs[1]].data, .numel = numel};
    zsq_weight_code_range(l->wbits, l->wzero != NULL, &u->rv[i].qmin, &u->rv[i].qmax);
    u->wt[i] = unit_tensor(u, l->sim_weight);
    if (u->wt[i] < 0) return zsq_fail(err, ZSQ_ERR_INTERNAL, "layer '%s' not in its unit", l->name);
    u->n_v += (size_t)numel;
    u->n_ws += (size_t)l->wrows;
    big = (size_t)numel > big ? (size_t)numel : big;
  }
  for (size_t i = 0; i < u->g->n_nodes; i++) {
    const zsq_node *n = &u->g->nodes[i];
    if (n->op != ZSQ_OP_FAKEQUANT || n->n_inputs < 3) continue;
    border_vars *bv = &u->bv[u->n_borders];
    bv->ta = u->wt[u->n_layers + 2 * u->n_borders] = n->inputs[1];
    bv->tb = u->wt[u->n_layers + 2 * u->n_borders + 1] = n->inputs[2];
    bv->c = zsq_tensor_numel(&u->g->tensors[bv->ta]);
    bv->qmax = n->a.fq.qmax;
    u->n_theta += 2 * (size_t)bv->c;
    big = (size_t)bv->c > big ? (size_t)bv->c : big;
    u->n_borders++;
  }
  u->v = malloc((u->n_v + 1) * sizeof(float));
  u->gv = malloc((u->n_v + 1) * sizeof(float));
  u->ws = malloc((u->n_ws + 1) * sizeof(float));
  u->theta = malloc((u->n_theta + 1) * sizeof(float));
  u->gtheta = malloc((u->n_theta + 1) * sizeof(float));
  u->buf = malloc((big + (size_t)mb) * sizeof(float));
  if (!u->v || !u->gv || !u->ws || !u->theta || !u->gtheta || !u->buf)
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  float *v = u->v, *ws = u->ws, *theta = u->theta;
  for (int i = 0; i < u->n_layers; i++) {
    u->rv[i].v = v;
    u->rv[i].s = ws;
    v += u->rv[i].numel;
    ws += u->rv[i].l->wrows;
    zsq_round_init(&u->rv[i]);
  }
  for (int i = 0; i < u->n_borders; i++) {
    border_vars *bv = &u->bv[i];
    const float *a = u->g->tensors[bv->ta].data, *bb = u->g->tensors[bv->tb].data;
    bv->theta = theta;
    theta += 2 * bv->c;
    for (int64_t c = 0; c < bv->c; c++)
      bv->theta[c] = a[c], bv->theta[bv->c + c] = bb[c] * bv->qmax;
  }
  ZSQ_TRY(zsq_steps_init(&u->steps, u->p, u->g, sc->learn_act_steps, u->rv,
                         sc->learn_weight_steps ? u->n_layers : 0, err));
  int n_wrt = u->n_layers + 2 * u->n_borders;
  for (int k = 0; k < u->steps.n_act; k++) u->wt[n_wrt++] = zsq_steps_act_output(&u->steps, k);
  return zsq_fgrad_create_ex(u->p, u->wt, (size_t)n_wrt, 0, &u->gr, err);
}

/* Keeps the border at code 0 (a) and at the top code (a + e) inside [margin, 1 − margin]. */
static void border_project(border_vars *bv) {
  const float lo = BORDER_MARGIN, hi = 1.0f - BORDER_MARGIN;
  for (int64_t c = 0; c < bv->c; c++) {
    float a = bv->theta[c], top = a + bv->theta[bv->c + c];
    a = a < lo ? lo : (a > hi ? hi : a);
    top = top < lo ? lo : (top > hi ? hi : top);
    bv->theta[c] = a;
    bv->theta[bv->c + c] = top - a;
  }
}

/* Writes the steps, the soft (or hard) rounded weights and the borders into the unit's plan. */
static zsq_status unit_load(unit *u, int hard, zsq_err *err) {
  ZSQ_TRY(zsq_steps_load(&u->steps, err));
  for (int i = 0; i < u->n_layers; i++) {
    zsq_round_weights(&u->rv[i], hard, u->buf);
    ZSQ_TRY(zsq_fplan_set_constant(u->p, u->wt[i], u->buf, err));
  }
  for (int i = 0; i < u->n_borders; i++) {
    const border_vars *bv = &u->bv[i];
    /* a first without a refresh, then b with one: the operator never sees a mixed pair */
    zsq_value_from_logical(zsq_fplan_value(u->p, bv->ta), bv->theta);
    for (int64_t c = 0; c < bv->c; c++) u->buf[c] = bv->theta[bv->c + c] / bv->qmax;
    ZSQ_TRY(zsq_fplan_set_constant(u->p, bv->tb, u->buf, err));
  }
  return ZSQ_OK;
}

/* Gradients of the rounding variables, weight steps and borders from those of the weights and
 * borders in the plan. */
static void unit_grads(unit *u, float beta, float reg) {
  float *gv = u->gv, *gt = u->gtheta;
  float *gs = u->steps.n_layers > 0 ? u->steps.gs + u->steps.n_act : NULL;
  for (int i = 0; i < u->n_layers; i++) {
    const zsq_value *w = zsq_fplan_value(u->p, u->wt[i]);
    zsq_layout_to_logical(w, zsq_fgrad_of(u->gr, u->wt[i]), u->buf);
    zsq_round_grad(&u->rv[i], u->buf, beta, reg, gv, gs);
    gv += u->rv[i].numel;
    gs = gs ? gs + u->rv[i].l->wrows : NULL;
  }
  for (int i = 0; i < u->n_borders; i++) {
    const border_vars *bv = &u->bv[i];
    const float *ga = zsq_fgrad_of(u->gr, bv->ta), *gb = zsq_fgrad_of(u->gr, bv->tb);
    for (int64_t c = 0; c < bv->c; c++) gt[c] = ga[c], gt[bv->c + c] = gb[c] / bv->qmax;
    gt += 2 * bv->c;
  }
}

/* Unit inputs x (the simulation's, n images), float inputs xf (for QDrop) and targets y. */
typedef struct unit_data {
  const float *x, *xf, *y;
  int64_t n, x_img, y_img;
} unit_data;

/* Adam on the unit's variables, with the PD term when pd is not NULL; at the end the hard weights
 * and the borders go into r->sim. */
static zsq_status unit_learn(unit *u, zsq_qresult *r, const zsq_qscheme *sc, const unit_data *d,
                             zsq_pd *pd, int64_t mb, zsq_rng *rng, pthreadpool_t tp, zsq_err *err) {
  const int in = u->g->inputs[0], out = u->g->outputs[0];
  zsq_value *xv = zsq_fplan_value(u->p, in);
  const zsq_value *yv = zsq_fplan_value(u->p, out);
  zsq_value fallback = *xv;
  zsq_adam aw = {0}, ab = {0};
  float *xb = malloc((size_t)(mb * d->x_img) * sizeof(float)),
        *xfb = malloc((size_t)(mb * d->x_img) * sizeof(float)),
        *yb = malloc((size_t)(mb * d->y_img) * sizeof(float));
  int64_t *idx = malloc((size_t)mb * sizeof(int64_t));
  fallback.data = malloc((size_t)(mb * d->x_img) * sizeof(float));
  zsq_status st =
      (xb && xfb && yb && idx && fallback.data && zsq_adam_init(&aw, u->n_v, ROUND_LR) &&
       zsq_adam_init(&ab, u->n_theta, sc->border_lr > 0 ? sc->border_lr : BORDER_LR))
          ? ZSQ_OK
          : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (size_t i = 0; st == ZSQ_OK && sc->qdrop > 0 && i < u->p->n_nodes; i++) {
    zsq_fnode *n = &u->p->nodes[i];
    if (n->node->op != ZSQ_OP_FAKEQUANT) continue;
    /* the unit's input takes the float model's value where dropped (QDrop's recon.py) */
    zsq_fakequant_set_drop(n, sc->qdrop, sc->seed * 7919 + i + 1,
                           n->node->inputs[0] == in ? fallback.data : NULL);
  }
  const int iters = sc->recon_iters, total = u->n_borders > 0 ? 2 * iters : iters;
  for (int it = 0; st == ZSQ_OK && it < total; it++) {
    /* a second stage of as many steps learns the borders on the hard-rounded weights */
    const int borders = it >= iters;
    float beta = 0, reg = 0;
    if (!borders) zsq_round_schedule(it, iters, &beta, &reg);
    st = unit_load(u, borders, err);
    if (st != ZSQ_OK) break;
    for (int64_t b = 0; b < mb; b++) {
      const int64_t src = idx[b] = (int64_t)zsq_rng_below(rng, (uint32_t)d->n);
      memcpy(xb + b * d->x_img, d->x + src * d->x_img, (size_t)d->x_img * sizeof(float));
      if (sc->qdrop > 0)
        memcpy(xfb + b * d->x_img, d->xf + src * d->x_img, (size_t)d->x_img * sizeof(float));
      memcpy(yb + b * d->y_img, d->y + src * d->y_img, (size_t)d->y_img * sizeof(float));
    }
    zsq_value_from_logical(xv, xb);
    if (sc->qdrop > 0) zsq_value_from_logical(&fallback, xfb);
    zsq_fplan_forward(u->p);
    zsq_value_to_logical(yv, u->buf);
    if (pd) zsq_pd_step(pd, u->buf, idx); /* its gradient joins the output's in pd->gy */
    /* loss = Σ_channels (y − t)², averaged over images and pixels: gradient 2(y − t)/rows */
    const int64_t rows = (int64_t)yv->numel / yv->dims[1];
    for (size_t i = 0; i < yv->numel; i++)
      u->buf[i] = 2.0f * (u->buf[i] - yb[i]) / (float)rows + (pd ? pd->gy[i] : 0.0f);
    zsq_fgrad_zero(u->gr);
    zsq_layout_add_logical(yv, zsq_fgrad_of(u->gr, out), u->buf);
    zsq_fgrad_backward(u->gr);
    unit_grads(u, beta, reg);
    if (!borders) {
      zsq_adam_step(&aw, u->v, u->gv, tp);
      if (u->steps.n > 0) {
        zsq_steps_act_grads(&u->steps, u->gr);
        zsq_steps_update(&u->steps, it, iters, tp);
      }
      continue;
    }
    zsq_adam_step(&ab, u->theta, u->gtheta, tp);
    for (int i = 0; i < u->n_borders; i++) border_project(&u->bv[i]);
  }
  if (st == ZSQ_OK) st = zsq_steps_load(&u->steps, err);
  for (int i = 0; st == ZSQ_OK && i < u->n_layers; i++)
    zsq_round_weights(&u->rv[i], 1, r->sim->tensors[u->rv[i].l->sim_weight].data);
  if (st == ZSQ_OK) zsq_steps_store(&u->steps, r, u->origin); /* after: it replaces s0 */
  for (int i = 0; st == ZSQ_OK && i < u->n_borders; i++) {
    const border_vars *bv = &u->bv[i];
    float *a = r->sim->tensors[u->origin[bv->ta]].data,
          *b = r->sim->tensors[u->origin[bv->tb]].data;
    for (int64_t c = 0; c < bv->c; c++) a[c] = bv->theta[c], b[c] = bv->theta[bv->c + c] / bv->qmax;
  }
  zsq_adam_free(&aw);
  zsq_adam_free(&ab);
  free(xb), free(xfb), free(yb), free(idx), free(fallback.data);
  return st;
}

/* With sc->pd_dc, replaces the unit's float inputs xl (n images) by their distribution-corrected
 * copies and the targets y by the float unit's output on them; a unit without a BN-folded conv
 * keeps both. Counts a corrected unit in r->dc_units. */
static zsq_status unit_correct(zsq_qresult *r, const zsq_qscheme *sc, const zsq_bn_stats *stats,
                               const zsq_block *b, const zsq_value *xf, int64_t mb, float *xl,
                               float *y, pthreadpool_t tp, zsq_err *err) {
  zsq_dc dc = {0};
  const int64_t n = xf->dims[0];
  float *xc = NULL;
  zsq_status st = zsq_dc_init(&dc, r->folded, stats, b, xf, mb, sc->pd_dc_lamb, tp, err);
  if (st == ZSQ_OK && dc.n_bn > 0) {
    xc = malloc(xf->numel * sizeof(float));
    st = xc ? zsq_dc_correct(&dc, xl, n, sc->pd_dc_steps, ZSQ_DC_LR, xc, y, err)
            : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    if (st == ZSQ_OK) memcpy(xl, xc, xf->numel * sizeof(float)), r->dc_units++;
  }
  free(xc);
  zsq_dc_free(&dc);
  return st;
}

/* Reconstructs one unit from the simulation's current state; zf: the float logits of the n
 * images (k each) when the PD term is on, else NULL; stats: the BN statistics when the float
 * inputs are distribution-corrected, else NULL. */
static zsq_status unit_run(zsq_qresult *r, const zsq_qscheme *sc, const zsq_bn_stats *stats,
                           const zsq_block *b, zsq_fplan *pf, const float *calib, int64_t n,
                           const float *zf, int64_t k, zsq_rng *rng, pthreadpool_t tp,
                           zsq_err *err) {
  zsq_fplan *ps = NULL;
  ZSQ_TRY(zsq_fplan_create(r->sim, n, tp, &ps, err));
  zsq_value_from_logical(zsq_fplan_value(ps, r->sim->inputs[0]), calib);
  zsq_fplan_forward(ps);
  const zsq_value *xs = zsq_fplan_value(ps, b->entry), *xf = zsq_fplan_value(pf, b->entry),
                  *yf = zsq_fplan_value(pf, b->exit);
  float *x = malloc(xs->numel * sizeof(float)), *xl = malloc(xf->numel * sizeof(float)),
        *y = malloc(yf->numel * sizeof(float));
  unit u = {0};
  zsq_pd pd = {0};
  int pd_on = 0;
  const int64_t mb = n < MINIBATCH ? n : MINIBATCH;
  zsq_status st = x && xl && y ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  if (st == ZSQ_OK) st = zsq_block_graph(r->sim, b, xs->dims, xs->rank, &u.g, &u.origin, err);
  if (st == ZSQ_OK) st = zsq_fplan_create(u.g, mb, tp, &u.p, err);
  if (st == ZSQ_OK) st = unit_vars(&u, r, sc, b, mb, err);
  if (st == ZSQ_OK && zf) st = zsq_pd_init(&pd, r->folded, b->exit, yf, zf, k, mb, tp, &pd_on, err);
  r->pd_units += pd_on;
  if (st == ZSQ_OK) {
    zsq_value_to_logical(xs, x);
    zsq_value_to_logical(xf, xl);
    zsq_value_to_logical(yf, y);
    if (stats) st = unit_correct(r, sc, stats, b, xf, mb, xl, y, tp, err);
  }
  if (st == ZSQ_OK) {
    const unit_data d = {x, xl, y, n, (int64_t)xs->numel / n, (int64_t)yf->numel / n};
    st = unit_learn(&u, r, sc, &d, pd_on ? &pd : NULL, mb, rng, tp, err);
  }
  zsq_pd_free(&pd);
  unit_free(&u);
  free(x), free(xl), free(y);
  zsq_fplan_destroy(ps);
  return st;
}

zsq_status zsq_reconstruct(zsq_qresult *r, const zsq_qscheme *sc, const zsq_bn_stats *stats,
                           const float *calib, int64_t count, pthreadpool_t tp, zsq_err *err) {
  const int64_t n = count < MAX_IMAGES ? count : MAX_IMAGES;
  zsq_block *blocks = NULL;
  int n_blocks = 0;
  zsq_fplan *pf = NULL;
  float *zf = NULL; /* the float logits, for the PD term */
  int64_t k = 0;
  zsq_status st = zsq_blocks(r, sc->recon == ZSQ_RECON_ADAROUND, &blocks, &n_blocks, err);
  r->recon_units = n_blocks;
  r->pd_units = r->dc_units = 0;
  if (st == ZSQ_OK) st = zsq_fplan_create(r->folded, n, tp, &pf, err);
  if (st == ZSQ_OK) {
    zsq_value_from_logical(zsq_fplan_value(pf, r->folded->inputs[0]), calib);
    zsq_fplan_forward(pf);
  }
  if (st == ZSQ_OK && sc->pd_loss) {
    const zsq_value *z = zsq_fplan_value(pf, r->folded->outputs[0]);
    k = (int64_t)z->numel / n;
    zf = malloc(z->numel * sizeof(float));
    if (zf)
      zsq_value_to_logical(z, zf);
    else
      st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  zsq_rng rng;
  zsq_rng_seed(&rng, 12345 + sc->seed);
  for (int i = 0; st == ZSQ_OK && i < n_blocks; i++)
    st = unit_run(r, sc, sc->pd_dc ? stats : NULL, &blocks[i], pf, calib, n, zf, k, &rng, tp, err);
  zsq_fplan_destroy(pf);
  free(blocks), free(zf);
  return st;
}
