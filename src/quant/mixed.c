/* mixed.c — per-layer weight-bit sensitivity and the bit allocation under a size budget. */
#include "quant/mixed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "float/plan.h"
#include "quant/wquant.h"

const int zsq_mp_bits[ZSQ_MP_NBITS] = {8, 4, 3, 2};

#define SENS_IMAGES 64
#define STEPS 4096

static double mse(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return n ? s / (double)n : 0.0;
}

/* Sets layer l's weights in plan p to `bits` (0: float) through the scratch buffer wq. */
static zsq_status set_bits(zsq_fplan *p, const zsq_graph *g, const zsq_mp_layer *l, int bits,
                           zsq_range_method m, int asym, float *wq, zsq_err *err) {
  const zsq_node *nd = &g->nodes[l->node];
  const zsq_tensor *w = &g->tensors[nd->inputs[1]];
  if (bits == 0) return zsq_fplan_set_constant(p, nd->inputs[1], w->data, err);
  const zsq_wlayout lay = zsq_weight_layout(nd, w);
  if (isnan(zsq_quantize_weight_rows(w->data, &lay, bits, asym, m, wq, NULL, NULL)))
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  return zsq_fplan_set_constant(p, nd->inputs[1], wq, err);
}

zsq_status zsq_mixed_sensitivity(const zsq_graph *g, zsq_mp_layer *layers, int n,
                                 const float *calib, int64_t count, int base_bits,
                                 zsq_range_method m, int asym, pthreadpool_t tp, zsq_err *err) {
  const int64_t batch = count < SENS_IMAGES ? count : SENS_IMAGES;
  if (batch < 1)
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "mixed precision needs calibration images");
  zsq_fplan *p;
  ZSQ_TRY(zsq_fplan_create(g, batch, tp, &p, err));
  const zsq_value *out = zsq_fplan_value(p, g->outputs[0]);
  const size_t no = out->numel;
  size_t maxw = 0;
  for (int i = 0; i < n; i++) {
    const size_t w = (size_t)zsq_tensor_numel(&g->tensors[g->nodes[layers[i].node].inputs[1]]);
    maxw = w > maxw ? w : maxw;
  }
  float *ref = malloc(no * sizeof(float)), *y = malloc(no * sizeof(float));
  float *wq = malloc((maxw + 1) * sizeof(float));
  zsq_status st = ref && y && wq ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  const void *in[1] = {calib};
  void *o_ref[1] = {ref}, *o_y[1] = {y};
  if (st == ZSQ_OK) zsq_fplan_run(p, in, o_ref);
  for (int i = 0; i < n; i++)
    layers[i].params = zsq_tensor_numel(&g->tensors[g->nodes[layers[i].node].inputs[1]]);
  for (int i = 0; st == ZSQ_OK && base_bits && i < n; i++)
    if (!layers[i].fixed_bits) st = set_bits(p, g, &layers[i], base_bits, m, asym, wq, err);
  for (int i = 0; st == ZSQ_OK && i < n; i++) {
    zsq_mp_layer *l = &layers[i];
    for (int b = 0; st == ZSQ_OK && !l->fixed_bits && b < ZSQ_MP_NBITS; b++) {
      st = set_bits(p, g, l, zsq_mp_bits[b], m, asym, wq, err);
      if (st != ZSQ_OK) break;
      zsq_fplan_run(p, in, o_y);
      l->sens[b] = mse(y, ref, no);
    }
    if (st == ZSQ_OK && !l->fixed_bits) st = set_bits(p, g, l, base_bits, m, asym, wq, err);
  }
  free(ref);
  free(y);
  free(wq);
  zsq_fplan_destroy(p);
  return st;
}

zsq_status zsq_mixed_choose(const zsq_mp_layer *layers, int n, double budget_bits, int *bits,
                            zsq_err *err) {
  double fixed = 0.0, smallest = 0.0, largest = 0.0;
  for (int i = 0; i < n; i++) {
    const double p = (double)layers[i].params;
    if (layers[i].fixed_bits) {
      fixed += p * layers[i].fixed_bits;
      continue;
    }
    int narrowest = zsq_mp_bits[0]; /* the smallest width offered (finite sensitivity) */
    for (int b = 0; b < ZSQ_MP_NBITS; b++)
      if (isfinite(layers[i].sens[b])) narrowest = zsq_mp_bits[b];
    smallest += p * narrowest;
    largest += p * zsq_mp_bits[0];
  }
  if (fixed + smallest > budget_bits * (1.0 + 1e-12))
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                    "budget of %.0f bytes is below the smallest model (%.0f bytes: every free "
                    "layer at the fewest bits it may take)",
                    budget_bits / 8, (fixed + smallest) / 8);
  /* Costs in units of the free layers' full 8-bit size / STEPS, rounded up: a chosen set always
   * fits the budget. */
  const double unit = largest > 0 ? largest / STEPS : 1.0;
  const long cap = (long)floor((budget_bits - fixed) / unit);
  const long width = cap < STEPS ? cap + 1 : STEPS + 1;
  double *dp = malloc((size_t)(n + 1) * (size_t)width * sizeof(double));
  signed char *pick = malloc((size_t)(n + 1) * (size_t)width);
  if (dp == NULL || pick == NULL) {
    free(dp);
    free(pick);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  /* dp[i][c]: least Σ sens of layers < i with cost at most c. */
  for (long c = 0; c < width; c++) dp[c] = 0.0;
  for (int i = 0; i < n; i++) {
    const double *prev = dp + (size_t)i * width;
    double *cur = dp + (size_t)(i + 1) * width;
    signed char *pk = pick + (size_t)(i + 1) * width;
    for (long c = 0; c < width; c++) {
      cur[c] = INFINITY;
      pk[c] = -1;
      for (int b = 0; b < ZSQ_MP_NBITS; b++) {
        if (layers[i].fixed_bits && b > 0) break;
        const long cost = layers[i].fixed_bits
                              ? 0
                              : (long)ceil((double)layers[i].params * zsq_mp_bits[b] / unit - 1e-9);
        if (cost > c || prev[c - cost] == INFINITY) continue;
        const double v = prev[c - cost] + (layers[i].fixed_bits ? 0.0 : layers[i].sens[b]);
        if (v < cur[c]) {
          cur[c] = v;
          pk[c] = (signed char)b;
        }
      }
    }
  }
  long c = width - 1;
  zsq_status st = ZSQ_OK;
  if (dp[(size_t)n * width + c] == INFINITY)
    st = zsq_fail(err, ZSQ_ERR_INVALID_ARG, "budget too small for the bit widths available");
  for (int i = n - 1; st == ZSQ_OK && i >= 0; i--) {
    const int b = pick[(size_t)(i + 1) * width + c];
    bits[i] = layers[i].fixed_bits ? layers[i].fixed_bits : zsq_mp_bits[b];
    if (!layers[i].fixed_bits)
      c -= (long)ceil((double)layers[i].params * zsq_mp_bits[b] / unit - 1e-9);
  }
  free(dp);
  free(pick);
  return st;
}
