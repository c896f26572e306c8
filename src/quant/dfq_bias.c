/* dfq_bias.c — DFQ's analytic bias correction: the expected output shift (Ŵ − W)·E[x] of each
 * quantized layer, with E[x] from the BatchNorm statistics of the layer before it. */
#include <math.h>
#include <stdlib.h>

#include "float/plan.h"
#include "quant/dfq.h"
#include "quant/wquant.h"

#define MEAN_IMAGES 64 /* calibration images for the E[x] the statistics cannot give */

zsq_status zsq_bn_stats_collect(const zsq_graph *orig, const zsq_graph *folded, zsq_bn_stats **out,
                                zsq_err *err) {
  zsq_bn_stats *s = calloc(folded->n_tensors + 1, sizeof *s);
  if (s == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  *out = s;
  for (size_t i = 0; i < folded->n_nodes; i++) {
    const zsq_node *n = &folded->nodes[i];
    const int t = n->outputs[0];
    if (n->op != ZSQ_OP_CONV || (size_t)t >= orig->n_tensors) continue;
    /* In the original graph t is the BN's output, or that of a Relu/Clip after it. */
    int p = orig->tensors[t].producer;
    if (p >= 0 && (orig->nodes[p].op == ZSQ_OP_RELU || orig->nodes[p].op == ZSQ_OP_CLIP))
      p = orig->tensors[orig->nodes[p].inputs[0]].producer;
    if (p < 0 || orig->nodes[p].op != ZSQ_OP_BATCHNORM) continue;
    const zsq_node *bn = &orig->nodes[p];
    const float *gamma = orig->tensors[bn->inputs[1]].data,
                *beta = orig->tensors[bn->inputs[2]].data, *var = orig->tensors[bn->inputs[4]].data;
    const int64_t c = zsq_tensor_numel(&orig->tensors[bn->inputs[1]]);
    s[t].mean = malloc((size_t)c * sizeof(float));
    s[t].std = malloc((size_t)c * sizeof(float));
    s[t].scale = malloc((size_t)c * sizeof(float));
    s[t].in_std = malloc((size_t)c * sizeof(float));
    if (!s[t].mean || !s[t].std || !s[t].scale || !s[t].in_std)
      return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    s[t].channels = c;
    for (int64_t k = 0; k < c; k++) {
      s[t].mean[k] = beta[k];
      s[t].std[k] = fabsf(gamma[k]);
      /* γ = 0: the folded output carries nothing of x (a constant channel) */
      s[t].scale[k] = s[t].std[k] > 0 ? sqrtf(var[k] + bn->a.bn.epsilon) / s[t].std[k] : 0.0f;
      s[t].in_std[k] = sqrtf(var[k] + 1e-6f);
    }
  }
  return ZSQ_OK;
}

void zsq_bn_stats_free(zsq_bn_stats *s, size_t n) {
  for (size_t i = 0; s && i < n; i++) {
    free(s[i].mean), free(s[i].std);
    free(s[i].scale), free(s[i].in_std);
  }
  free(s);
}

static double normal_pdf(double x) {
  return isinf(x) ? 0.0 : exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}

static double normal_cdf(double x) {
  return 0.5 * erfc(-x / sqrt(2.0));
}

double zsq_clamped_normal_mean(double mean, double std, double lo, double hi) {
  if (!(std > 0)) return mean < lo ? lo : (mean > hi ? hi : mean);
  const double a = (lo - mean) / std, b = (hi - mean) / std;
  double e = mean * (normal_cdf(b) - normal_cdf(a)) + std * (normal_pdf(a) - normal_pdf(b));
  if (isfinite(lo)) e += lo * normal_cdf(a);
  if (isfinite(hi)) e += hi * normal_cdf(-b);
  return e;
}

/* E[x] per channel of tensor t from the statistics of the conv that produces it, through average
 * pools (and a flatten of a global pool, which keeps one value per channel). Returns 0 when t has
 * no such producer. */
static int stats_mean(const zsq_graph *g, const zsq_bn_stats *st, int t, int64_t channels,
                      double *ex) {
  for (;;) {
    const int p = g->tensors[t].producer;
    if (p < 0) return 0;
    const zsq_node *n = &g->nodes[p];
    const int in = n->inputs[0], in_p = g->tensors[in].producer;
    switch (n->op) {
      case ZSQ_OP_GLOBALAVGPOOL:
      case ZSQ_OP_AVGPOOL:
      case ZSQ_OP_IDENTITY:
        t = in;
        continue;
      case ZSQ_OP_FLATTEN:
      case ZSQ_OP_RESHAPE:
        if (in_p < 0 || g->nodes[in_p].op != ZSQ_OP_GLOBALAVGPOOL) return 0;
        t = in;
        continue;
      case ZSQ_OP_CONV:
        if (st[t].channels != channels) return 0;
        for (int64_t c = 0; c < channels; c++)
          ex[c] = zsq_clamped_normal_mean(st[t].mean[c], st[t].std[c], n->act_min, n->act_max);
        return 1;
      default:
        return 0;
    }
  }
}

/* Per-channel mean of a value whose channel axis (dim 1) is innermost in memory (NHWC, or rank
 * 2). Returns 0 for other layouts or a channel count other than `channels`. */
static int value_mean(const zsq_value *v, int64_t channels, double *ex) {
  if ((v->rank != 4 && v->rank != 2) || v->dims[1] != channels) return 0;
  const float *x = v->data;
  const int64_t rows = (int64_t)v->numel / channels;
  for (int64_t c = 0; c < channels; c++) ex[c] = 0.0;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t c = 0; c < channels; c++) ex[c] += x[r * channels + c];
  }
  for (int64_t c = 0; c < channels; c++) ex[c] /= (double)rows;
  return 1;
}

/* Input channels a layer reads (Conv: C_in; Gemm: K). */
static int64_t input_channels(const zsq_node *n, const zsq_wlayout *lay, const zsq_tensor *w) {
  return n->op == ZSQ_OP_CONV ? w->dims[1] * n->a.conv.group : lay->len;
}

/* bias[o] -= scale · Σ_k (Ŵ − W)[o, k] · E[x of the input channel element k reads]. */
static void correct_layer(const zsq_node *n, const zsq_tensor *w, const float *wq, const double *ex,
                          float *bias) {
  const zsq_wlayout lay = zsq_weight_layout(n, w);
  const float *wf = w->data;
  const int conv = n->op == ZSQ_OP_CONV;
  const int64_t cin_g = conv ? w->dims[1] : lay.len, span = lay.len / cin_g;
  const int64_t per_group = conv ? lay.rows / n->a.conv.group : lay.rows;
  /* Gemm: y = alpha·A·B' + beta·C. */
  const double scale = conv ? 1.0 : (double)n->a.gemm.alpha / n->a.gemm.beta;
  for (int64_t o = 0; o < lay.rows; o++) {
    double shift = 0.0;
    for (int64_t k = 0; k < lay.len; k++) {
      const int64_t e = o * lay.rstride + k * lay.estride;
      shift += ((double)wq[e] - wf[e]) * ex[(o / per_group) * cin_g + k / span];
    }
    bias[o] -= (float)(scale * shift);
  }
}

zsq_status zsq_bias_correct_analytic(zsq_qresult *r, const zsq_bn_stats *stats, const float *calib,
                                     int64_t count, pthreadpool_t tp, int *from_bn, zsq_err *err) {
  const zsq_graph *g = r->folded;
  const int64_t n = count < MEAN_IMAGES ? count : MEAN_IMAGES;
  zsq_fplan *pf;
  ZSQ_TRY(zsq_fplan_create(g, n, tp, &pf, err));
  zsq_value_from_logical(zsq_fplan_value(pf, g->inputs[0]), calib);
  zsq_fplan_forward(pf);
  zsq_status st = ZSQ_OK;
  for (int l = 0; st == ZSQ_OK && l < r->n_layers; l++) {
    const zsq_node *fn = &g->nodes[r->layers[l].node];
    const zsq_node *sn = &r->sim->nodes[r->sim->tensors[fn->outputs[0]].producer];
    const zsq_tensor *w = &g->tensors[fn->inputs[1]];
    const zsq_wlayout lay = zsq_weight_layout(fn, w);
    const int64_t cin = input_channels(fn, &lay, w);
    const int bt = sn->n_inputs > 2 ? sn->inputs[2] : -1;
    double *ex = malloc((size_t)cin * sizeof(double));
    if (ex == NULL) {
      st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
      break;
    }
    const int analytic = stats_mean(g, stats, fn->inputs[0], cin, ex);
    if (from_bn) from_bn[l] = analytic;
    /* A layer without a constant bias of one value per output is left as it is. */
    if (bt >= 0 && r->sim->tensors[bt].is_const &&
        (fn->op == ZSQ_OP_CONV || fn->a.gemm.beta != 0) &&
        zsq_tensor_numel(&r->sim->tensors[bt]) == lay.rows &&
        (analytic || value_mean(zsq_fplan_value(pf, fn->inputs[0]), cin, ex)))
      correct_layer(fn, w, r->sim->tensors[r->layers[l].sim_weight].data, ex,
                    r->sim->tensors[bt].data);
    free(ex);
  }
  zsq_fplan_destroy(pf);
  return st;
}
