/* recon_steps.c — LSQ activation steps and GENIE-M weight steps learned with the rounding
 * (ptq.md §4, §5): Adam on s/s0 with a cosine-annealed learning rate, LSQ's gradient scale
 * 1/sqrt(N·qmax) on the activation steps (QDrop's use_grad_scaling). */
#include "quant/recon_steps.h"

#include <math.h>
#include <stdlib.h>

#include "float/fakequant.h"

#define STEP_LR 2e-3f
#define STEP_MIN 0.01f /* s stays above s0 / 100 */

zsq_status zsq_steps_init(zsq_steps *st, zsq_fplan *p, zsq_graph *g, int acts, zsq_round_vars *rv,
                          int n_layers, zsq_err *err) {
  *st = (zsq_steps){.p = p, .g = g, .rv = rv, .n_layers = n_layers};
  st->act = malloc((g->n_nodes + 1) * sizeof(int));
  if (st->act == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (size_t i = 0; acts && i < g->n_nodes; i++) {
    if (g->nodes[i].op == ZSQ_OP_FAKEQUANT) st->act[st->n_act++] = (int)i;
  }
  st->n = (size_t)st->n_act;
  for (int i = 0; i < n_layers; i++) st->n += (size_t)rv[i].l->wrows;
  st->s0 = malloc((st->n + 1) * sizeof(float));
  st->u = malloc((st->n + 1) * sizeof(float));
  st->gs = calloc(st->n + 1, sizeof(float));
  st->scale = malloc((st->n + 1) * sizeof(float));
  if (!st->s0 || !st->u || !st->gs || !st->scale || !zsq_adam_init(&st->adam, st->n, STEP_LR))
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (int k = 0; k < st->n_act; k++) {
    const zsq_node *n = &g->nodes[st->act[k]];
    st->s0[k] = n->a.fq.scale;
    st->scale[k] = 1.0f / sqrtf((float)p->values[n->inputs[0]].numel * n->a.fq.qmax);
  }
  size_t j = (size_t)st->n_act;
  for (int i = 0; i < n_layers; i++) {
    for (int64_t o = 0; o < rv[i].l->wrows; o++, j++) st->s0[j] = rv[i].s[o], st->scale[j] = 1.0f;
  }
  for (size_t k = 0; k < st->n; k++) st->u[k] = 1.0f;
  return ZSQ_OK;
}

void zsq_steps_free(zsq_steps *st) {
  zsq_adam_free(&st->adam);
  free(st->act), free(st->s0), free(st->u), free(st->gs), free(st->scale);
}

zsq_status zsq_steps_load(zsq_steps *st, zsq_err *err) {
  for (int k = 0; k < st->n_act; k++) {
    const int i = st->act[k];
    ZSQ_TRY(zsq_fakequant_set_step(&st->p->nodes[i], &st->g->nodes[i], st->s0[k] * st->u[k], st->p,
                                   err));
  }
  size_t j = (size_t)st->n_act;
  for (int i = 0; i < st->n_layers; i++) {
    for (int64_t o = 0; o < st->rv[i].l->wrows; o++, j++) st->rv[i].s[o] = st->s0[j] * st->u[j];
  }
  return ZSQ_OK;
}

void zsq_steps_act_grads(zsq_steps *st, zsq_fgrad *gr) {
  for (int k = 0; k < st->n_act; k++) {
    const float *gy = zsq_fgrad_of(gr, zsq_steps_act_output(st, k));
    st->gs[k] = gy ? (float)zsq_fakequant_step_grad(&st->p->nodes[st->act[k]], gy) : 0.0f;
  }
}

void zsq_steps_update(zsq_steps *st, int it, int iters, pthreadpool_t tp) {
  for (size_t k = 0; k < st->n; k++) st->gs[k] *= st->scale[k] * st->s0[k]; /* dLoss/du */
  st->adam.lr = STEP_LR * 0.5f * (1.0f + cosf(3.14159265f * (float)it / (float)iters));
  zsq_adam_step(&st->adam, st->u, st->gs, tp);
  for (size_t k = 0; k < st->n; k++) st->u[k] = st->u[k] < STEP_MIN ? STEP_MIN : st->u[k];
}

void zsq_steps_store(const zsq_steps *st, zsq_qresult *r, const int *origin) {
  for (int k = 0; k < st->n_act; k++) {
    const zsq_node *n = &st->g->nodes[st->act[k]];
    zsq_node *sn = &r->sim->nodes[r->sim->tensors[origin[n->outputs[0]]].producer];
    sn->a.fq.scale = n->a.fq.scale;
    sn->a.fq.inv_scale = n->a.fq.inv_scale;
    for (int q = 0; q < r->n_points; q++) {
      if (r->points[q].tensor == origin[n->inputs[0]]) r->points[q].scale = n->a.fq.scale;
    }
  }
  for (int i = 0; i < st->n_layers; i++) {
    zsq_qlayer *l = &r->layers[st->rv[i].l - r->layers];
    for (int64_t o = 0; o < l->wrows; o++) l->wscale[o] = st->rv[i].s[o];
  }
}
