/* recon_steps.h — step sizes learned in reconstruction: the activation steps of a unit's
 * FakeQuant nodes (LSQ, Esser et al. 2020, as QDrop learns them) and the per-channel weight steps
 * of its layers (GENIE-M, Jeon et al. 2023), jointly with the rounding variables. */
#ifndef ZSQ_QUANT_RECON_STEPS_H
#define ZSQ_QUANT_RECON_STEPS_H

#include "float/adam.h"
#include "float/grad.h"
#include "quant/adaround.h"

/* Adam learns u = s/s0 of every step (so one learning rate fits steps of any magnitude). */
typedef struct zsq_steps {
  zsq_fplan *p;
  zsq_graph *g;       /* the unit's graph: its FakeQuant nodes carry the activation steps */
  int n_act, *act;    /* nodes (of g and p) whose step is learned */
  zsq_round_vars *rv; /* layers whose row steps rv[i].s are learned (n_layers, 0: none) */
  int n_layers;
  size_t n;                   /* n_act activation steps, then the rows of every layer */
  float *s0, *u, *gs, *scale; /* per step: initial value, s/s0, dLoss/ds, gradient factor */
  zsq_adam adam;
} zsq_steps;

/* With acts, every FakeQuant node of p (planned from g) learns its step; with n_layers > 0, the
 * rows of rv (initialised: rv[i].s = s0) learn theirs. */
zsq_status zsq_steps_init(zsq_steps *st, zsq_fplan *p, zsq_graph *g, int acts, zsq_round_vars *rv,
                          int n_layers, zsq_err *err);
void zsq_steps_free(zsq_steps *st);
/* Writes s = s0·u into the FakeQuant nodes and the layers' rv[i].s. */
zsq_status zsq_steps_load(zsq_steps *st, zsq_err *err);
/* The output tensor of activation step k (its gradient must be computed: list it in wrt). */
static inline int zsq_steps_act_output(const zsq_steps *st, int k) {
  return st->g->nodes[st->act[k]].outputs[0];
}
/* dLoss/ds of the activation steps from the gradients of gr; the weight rows' part of st->gs
 * (after the n_act activation steps, layer after layer) is the caller's (zsq_round_grad). */
void zsq_steps_act_grads(zsq_steps *st, zsq_fgrad *gr);
/* One Adam step at step `it` of `iters` (learning rate annealed to 0 on a cosine). */
void zsq_steps_update(zsq_steps *st, int it, int iters, pthreadpool_t tp);
/* After the layers' final weights are written: the learned steps into r (the simulation's
 * FakeQuant nodes and quantization points, the layers' scales); origin maps g's tensors to
 * r->sim's. */
void zsq_steps_store(const zsq_steps *st, zsq_qresult *r, const int *origin);

#endif
