/* mixed.c — per-layer weight-bit sensitivity and the bit allocation under a budget of any cost. */
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

/* Whether width b is a choice of layer l: a fixed layer's own width, or a free layer's width of
 * finite sensitivity and cost. */
static int is_choice(const zsq_mp_layer *l, int b) {
  if (l->fixed_bits) return zsq_mp_bits[b] == l->fixed_bits;
  return isfinite(l->sens[b]) && isfinite(l->cost[b]);
}

static double cheapest(const zsq_mp_layer *l) {
  double c = INFINITY;
  for (int b = 0; b < ZSQ_MP_NBITS; b++)
    if (is_choice(l, b) && l->cost[b] < c) c = l->cost[b];
  return c;
}

double zsq_mixed_least_cost(const zsq_mp_layer *layers, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += cheapest(&layers[i]);
  return s;
}

/* The most a choice can cost above the cheapest one: Σ over layers of the largest excess. */
static double most_excess(const zsq_mp_layer *layers, int n) {
  double most = 0.0;
  for (int i = 0; i < n; i++) {
    double m = 0.0;
    for (int b = 0; b < ZSQ_MP_NBITS; b++)
      if (is_choice(&layers[i], b)) m = fmax(m, layers[i].cost[b] - cheapest(&layers[i]));
    most += m;
  }
  return most;
}

/* Each width's cost above its layer's cheapest in units of `unit`, rounded up, into
 * units[layer·ZSQ_MP_NBITS + b] (INFINITY: not a choice, or a unit of 0 and a cost above the
 * cheapest); returns Σ over layers of their largest finite units. */
static double excess_units(const zsq_mp_layer *layers, int n, double unit, double *units) {
  double all = 0.0;
  for (int i = 0; i < n; i++) {
    const double low = cheapest(&layers[i]);
    double m = 0.0;
    for (int b = 0; b < ZSQ_MP_NBITS; b++) {
      const double e = layers[i].cost[b] - low;
      double *u = &units[(size_t)i * ZSQ_MP_NBITS + b];
      *u = !is_choice(&layers[i], b) ? INFINITY
           : e == 0.0                ? 0.0
           : unit > 0                ? ceil(e / unit)
                                     : INFINITY;
      if (isfinite(*u)) m = fmax(m, *u);
    }
    all += m;
  }
  return all;
}

zsq_status zsq_mixed_choose(const zsq_mp_layer *layers, int n, double budget, int *bits,
                            zsq_err *err) {
  for (int i = 0; i < n; i++)
    for (int b = 0; b < ZSQ_MP_NBITS; b++)
      if (!(layers[i].cost[b] >= 0.0))
        return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "layer %d: the cost of %d bits is %g, not >= 0",
                        i, zsq_mp_bits[b], layers[i].cost[b]);
  const double least = zsq_mixed_least_cost(layers, n);
  if (!isfinite(least))
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "a layer has no bit width it may take");
  if (!(budget >= least * (1.0 - 1e-12)))
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "the budget %g is below the least cost %g", budget,
                    least);
  /* The DP spends the budget left above the cheapest choice, in units of that budget (or of the
   * most any choice can spend above the cheapest, if less) / STEPS. */
  double *units = malloc((size_t)n * ZSQ_MP_NBITS * sizeof(double));
  if (units == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  const double left = budget > least ? budget - least : 0.0;
  const double most = most_excess(layers, n), unit = fmin(left, most) / STEPS;
  const double all = excess_units(layers, n, unit, units);
  /* Below the most, the budget left is STEPS units; else every choice fits (all <= STEPS + n). */
  const long width = (left < most ? (unit > 0 ? STEPS : 0) : (long)all) + 1;
  double *dp = malloc((size_t)(n + 1) * (size_t)width * sizeof(double));
  signed char *pick = malloc((size_t)(n + 1) * (size_t)width);
  if (dp == NULL || pick == NULL) {
    free(units);
    free(dp);
    free(pick);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  /* dp[i][c]: least Σ sens of layers < i spending at most c units. */
  for (long c = 0; c < width; c++) dp[c] = 0.0;
  for (int i = 0; i < n; i++) {
    const double *prev = dp + (size_t)i * width;
    double *cur = dp + (size_t)(i + 1) * width;
    signed char *pk = pick + (size_t)(i + 1) * width;
    for (long c = 0; c < width; c++) {
      cur[c] = INFINITY;
      pk[c] = -1;
      for (int b = 0; b < ZSQ_MP_NBITS; b++) {
        const double u = units[(size_t)i * ZSQ_MP_NBITS + b];
        if (!(u <= (double)c) || prev[c - (long)u] == INFINITY) continue;
        const double v = prev[c - (long)u] + (layers[i].fixed_bits ? 0.0 : layers[i].sens[b]);
        if (v < cur[c]) {
          cur[c] = v;
          pk[c] = (signed char)b;
        }
      }
    }
  }
  long c = width - 1;
  for (int i = n - 1; i >= 0; i--) { /* the cheapest choice always fits: no dead end */
    const int b = pick[(size_t)(i + 1) * width + c];
    bits[i] = zsq_mp_bits[b];
    c -= (long)units[(size_t)i * ZSQ_MP_NBITS + b];
  }
  free(units);
  free(dp);
  free(pick);
  return ZSQ_OK;
}
