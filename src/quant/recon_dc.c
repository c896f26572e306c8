/* recon_dc.c — PD-Quant's distribution correction of a unit's float input on the BN-folded graph:
 * the BN statistics are matched on the folded convs' pre-activation outputs, mapped back to the
 * BN's input (docs/quantization.md derives it), as hustvl/PD-Quant's GetDcFpLayerInpOut does. */
#include "quant/recon_dc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "float/adam.h"

#define DC_EPS 1e-6 /* PD-Quant's per-image std: sqrt(var + 1e-6) */
#define PLATEAU_PATIENCE 100
#define PLATEAU_FACTOR 0.1f
#define PLATEAU_MIN_LR 1e-5f
#define PLATEAU_THRESHOLD 1e-4 /* a relative improvement (PyTorch's ReduceLROnPlateau 'rel') */

/* Gives every BN-folded conv of the unit its pre-activation output as a tensor of its own (a fused
 * clamp moves to a Clip node after it) and records it in dc->bn. */
static zsq_status split_clamps(zsq_dc *dc, const zsq_bn_stats *stats, zsq_err *err) {
  zsq_graph *g = dc->g;
  const size_t n_nodes = g->n_nodes;
  dc->bn = calloc(n_nodes + 1, sizeof(zsq_dc_bn));
  if (dc->bn == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n_nodes; i++) {
    const int out = g->nodes[i].outputs[0];
    if (g->nodes[i].op != ZSQ_OP_CONV || stats[dc->origin[out]].channels == 0) continue;
    zsq_dc_bn *b = &dc->bn[dc->n_bn++];
    *b = (zsq_dc_bn){out, &stats[dc->origin[out]]};
    if (g->nodes[i].act_min == -INFINITY && g->nodes[i].act_max == INFINITY) continue;
    char name[256];
    snprintf(name, sizeof name, "%s.pre", g->tensors[out].name);
    const int pre = zsq_graph_add_tensor(g, name);
    int *o = realloc(dc->origin, (g->n_tensors + 1) * sizeof(int));
    if (o) dc->origin = o;
    if (pre < 0 || o == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    o[pre] = -1; /* not a tensor of the folded graph */
    zsq_node *conv = &g->nodes[i];
    zsq_node clip = {.name = conv->name,
                     .op = ZSQ_OP_CLIP,
                     .opset = conv->opset,
                     .n_inputs = 1,
                     .n_outputs = 1,
                     .inputs = {pre},
                     .outputs = {out}};
    /* the Clip's own fused range repeats its bounds (a zeroed one would read as [0, 0]) */
    clip.a.clip.min = clip.act_min = conv->act_min;
    clip.a.clip.max = clip.act_max = conv->act_max;
    conv->outputs[0] = b->t = pre;
    conv->act_min = -INFINITY;
    conv->act_max = INFINITY;
    if (zsq_graph_add_node(g, &clip) < 0) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  return ZSQ_OK;
}

zsq_status zsq_dc_init(zsq_dc *dc, const zsq_graph *folded, const zsq_bn_stats *stats,
                       const zsq_block *b, const zsq_value *shape, int64_t mb, float lamb_c,
                       pthreadpool_t tp, zsq_err *err) {
  *dc = (zsq_dc){.lamb_c = lamb_c, .mb = mb, .x_img = (int64_t)shape->numel / shape->dims[0]};
  if (!(lamb_c > 0)) return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "lamb_c must be positive");
  ZSQ_TRY(zsq_block_graph(folded, b, shape->dims, shape->rank, &dc->g, &dc->origin, err));
  ZSQ_TRY(split_clamps(dc, stats, err));
  if (dc->n_bn == 0) return ZSQ_OK;
  ZSQ_TRY(zsq_graph_finalize(dc->g, err));
  ZSQ_TRY(zsq_fplan_create(dc->g, mb, tp, &dc->p, err));
  for (int k = 0; k < dc->n_bn; k++) {
    const zsq_value *v = zsq_fplan_value(dc->p, dc->bn[k].t);
    if (v->rank != 4 || v->dims[1] != dc->bn[k].s->channels)
      return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "a BN-folded conv output is not NCHW");
  }
  ZSQ_TRY(zsq_fgrad_create(dc->p, NULL, 0, &dc->gr, err));
  int64_t widest = 0;
  for (int k = 0; k < dc->n_bn; k++)
    widest = dc->bn[k].s->channels > widest ? dc->bn[k].s->channels : widest;
  dc->gx = malloc((size_t)(mb * dc->x_img) * sizeof(float));
  dc->acc = malloc((size_t)(3 * widest) * sizeof(double));
  return dc->gx && dc->acc ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
}

void zsq_dc_free(zsq_dc *dc) {
  zsq_fgrad_destroy(dc->gr);
  zsq_fplan_destroy(dc->p);
  zsq_graph_free(dc->g);
  free(dc->origin), free(dc->bn), free(dc->gx), free(dc->acc);
  *dc = (zsq_dc){0};
}

/* Σ_images Σ_channels scale²·(m − β)² + (sqrt(scale²·v + eps) − in_std)², divided by the images,
 * with m and v the mean and unbiased variance over H·W of one image's channel of the folded
 * pre-activation y (x − μ = ±scale·(y − β): PD-Quant's terms on the BN input x); its gradient
 * goes into y's. A channel of one pixel has no variance (PyTorch's would be NaN): its std term
 * is constant. */
static double bn_term(zsq_dc *dc, const zsq_dc_bn *b) {
  const zsq_value *v = zsq_fplan_value(dc->p, b->t);
  const int64_t n = v->dims[0], c = v->dims[1], hw = (int64_t)v->numel / (n * c);
  const float *y = v->data;
  float *g = zsq_fgrad_of(dc->gr, b->t);
  /* per channel: the mean, then the gradient's coefficients of (y_p − m) and of 1 */
  double *mean = dc->acc, *gdev = dc->acc + c, *gmean = dc->acc + 2 * c, loss = 0;
  for (int64_t i = 0; i < n; i++) {
    const float *yi = y + i * hw * c;
    float *gi = g + i * hw * c;
    for (int64_t k = 0; k < c; k++) mean[k] = gdev[k] = 0;
    for (int64_t p = 0; p < hw; p++) {
      for (int64_t k = 0; k < c; k++) mean[k] += yi[p * c + k];
    }
    for (int64_t k = 0; k < c; k++) mean[k] /= (double)hw;
    for (int64_t p = 0; p < hw; p++) {
      for (int64_t k = 0; k < c; k++) {
        const double d = yi[p * c + k] - mean[k];
        gdev[k] += d * d;
      }
    }
    for (int64_t k = 0; k < c; k++) {
      const double s2 = (double)b->s->scale[k] * b->s->scale[k], dm = mean[k] - b->s->mean[k];
      const double var = hw > 1 ? gdev[k] / (double)(hw - 1) : 0.0;
      const double sd = sqrt(s2 * var + DC_EPS), ds = sd - b->s->in_std[k];
      loss += s2 * dm * dm + ds * ds;
      /* d/dy_p = (2·s2·dm/hw + 2·ds·(s2 / (2·sd))·2·(y_p − m)/(hw − 1)) / n */
      gdev[k] = hw > 1 ? 2.0 * ds * s2 / (sd * (double)(hw - 1) * (double)n) : 0.0;
      gmean[k] = 2.0 * s2 * dm / ((double)hw * (double)n);
    }
    for (int64_t p = 0; p < hw; p++) {
      for (int64_t k = 0; k < c; k++)
        gi[p * c + k] += (float)(gmean[k] + gdev[k] * (yi[p * c + k] - mean[k]));
    }
  }
  return loss / (double)n;
}

double zsq_dc_loss(zsq_dc *dc, const float *x, const float *x0, double *bn_part) {
  zsq_value *xv = zsq_fplan_value(dc->p, dc->g->inputs[0]);
  zsq_value_from_logical(xv, x);
  zsq_fplan_forward(dc->p);
  zsq_fgrad_zero(dc->gr);
  double loss = 0;
  for (int k = 0; k < dc->n_bn; k++) loss += bn_term(dc, &dc->bn[k]);
  if (bn_part) *bn_part = loss;
  zsq_fgrad_backward(dc->gr);
  zsq_layout_to_logical(xv, zsq_fgrad_of(dc->gr, dc->g->inputs[0]), dc->gx);
  /* ||x − x0||² summed over channels, averaged over images and pixels (PD-Quant's lp_loss) */
  const int64_t numel = dc->mb * dc->x_img, rows = numel / xv->dims[1];
  const double w = 1.0 / ((double)rows * dc->lamb_c);
  double dist = 0;
  for (int64_t i = 0; i < numel; i++) {
    const double d = (double)x[i] - x0[i];
    dist += d * d;
    dc->gx[i] += (float)(2.0 * w * d);
  }
  return loss + w * dist;
}

/* PyTorch's ReduceLROnPlateau (mode min, relative threshold, no cooldown). */
typedef struct plateau {
  double best;
  int bad;
} plateau;

static void plateau_step(plateau *pl, zsq_adam *a, double loss) {
  if (loss < pl->best * (1.0 - PLATEAU_THRESHOLD)) {
    pl->best = loss;
    pl->bad = 0;
  } else if (++pl->bad > PLATEAU_PATIENCE) {
    a->lr = fmaxf(a->lr * PLATEAU_FACTOR, PLATEAU_MIN_LR);
    pl->bad = 0;
  }
}

zsq_status zsq_dc_correct(zsq_dc *dc, const float *x0, int64_t n, int steps, float lr, float *x,
                          float *y, zsq_err *err) {
  const int64_t mb = dc->mb, xi = dc->x_img;
  if (n < mb) return zsq_fail(err, ZSQ_ERR_INTERNAL, "fewer images than a minibatch");
  zsq_value *xv = zsq_fplan_value(dc->p, dc->g->inputs[0]);
  const zsq_value *yv = zsq_fplan_value(dc->p, dc->g->outputs[0]);
  const int64_t yi = (int64_t)yv->numel / mb;
  float *xb = malloc((size_t)(mb * xi) * sizeof(float));
  if (xb == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  zsq_status st = ZSQ_OK;
  for (int64_t start = 0; st == ZSQ_OK && start < n; start += mb) {
    const int64_t first = start + mb > n ? n - mb : start; /* the last minibatch ends at image n */
    const float *x0b = x0 + first * xi;
    zsq_adam adam = {0};
    plateau pl = {INFINITY, 0};
    memcpy(xb, x0b, (size_t)(mb * xi) * sizeof(float));
    if (!zsq_adam_init(&adam, (size_t)(mb * xi), lr)) {
      st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
      break;
    }
    for (int s = 0; s < steps; s++) {
      const double loss = zsq_dc_loss(dc, xb, x0b, NULL);
      zsq_adam_step(&adam, xb, dc->gx, dc->p->threadpool);
      plateau_step(&pl, &adam, loss);
    }
    zsq_adam_free(&adam);
    memcpy(x + first * xi, xb, (size_t)(mb * xi) * sizeof(float));
    if (y == NULL) continue;
    zsq_value_from_logical(xv, xb);
    zsq_fplan_forward(dc->p);
    zsq_value_to_logical(yv, y + first * yi);
  }
  free(xb);
  return st;
}
