/* dfq_cle.c — cross-layer equalisation (DFQ): rescale the channels between two convolutions so
 * that both see the same per-channel weight range, leaving the float function unchanged. */
#include <math.h>
#include <stdlib.h>

#include "quant/dfq.h"

/* A Conv whose constant weights (rank 4) and bias (if any) belong to it alone, so that scaling
 * them changes no other node. */
static int own_conv(const zsq_graph *g, const zsq_node *n) {
  int only;
  if (n->op != ZSQ_OP_CONV || n->n_inputs < 2) return 0;
  const zsq_tensor *w = &g->tensors[n->inputs[1]];
  if (!w->is_const || w->dtype != ZSQ_F32 || w->rank != 4 ||
      zsq_graph_readers(g, n->inputs[1], &only) != 1)
    return 0;
  const int b = n->n_inputs > 2 ? n->inputs[2] : -1;
  return b < 0 ||
         (g->tensors[b].is_const && g->tensors[b].dtype == ZSQ_F32 &&
          zsq_tensor_numel(&g->tensors[b]) == w->dims[0] && zsq_graph_readers(g, b, &only) == 1);
}

/* No clamp, ReLU, or a clamp [0, hi] (ReLU6) that equalisation turns into a ReLU. */
static int scalable_clamp(const zsq_node *n) {
  return (n->act_min == -INFINITY && n->act_max == INFINITY) || n->act_min == 0.0f;
}

zsq_status zsq_cle_pairs(const zsq_graph *g, zsq_cle_pair **pairs, int *n, zsq_err *err) {
  *pairs = NULL;
  *n = 0;
  zsq_cle_pair *p = malloc((g->n_nodes + 1) * sizeof *p);
  if (p == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < g->n_nodes; i++) {
    const zsq_node *a = &g->nodes[i];
    int next = -1;
    if (!own_conv(g, a) || !scalable_clamp(a) || zsq_graph_readers(g, a->outputs[0], &next) != 1 ||
        next < 0)
      continue;
    const zsq_node *b = &g->nodes[next];
    if (!own_conv(g, b) || b->inputs[0] != a->outputs[0]) continue;
    const int64_t c = g->tensors[a->inputs[1]].dims[0];
    if (g->tensors[b->inputs[1]].dims[1] * b->a.conv.group != c) continue;
    p[*n].first = (int)i;
    p[(*n)++].second = next;
  }
  *pairs = p;
  return ZSQ_OK;
}

/* Calls fn(ctx, i, &w) for every weight w of conv2 that reads its input channel i. */
static void for_input_channels(const zsq_graph *g, const zsq_node *n,
                               void (*fn)(void *ctx, int64_t i, float *w), void *ctx) {
  const zsq_tensor *t = &g->tensors[n->inputs[1]];
  float *w = t->data;
  const int64_t cout = t->dims[0], cin_g = t->dims[1], khw = t->dims[2] * t->dims[3];
  const int64_t per_group = cout / n->a.conv.group;
  for (int64_t o = 0; o < cout; o++) {
    for (int64_t c = 0; c < cin_g; c++) {
      const int64_t i = (o / per_group) * cin_g + c;
      for (int64_t k = 0; k < khw; k++) fn(ctx, i, &w[(o * cin_g + c) * khw + k]);
    }
  }
}

static void max_abs(void *ctx, int64_t i, float *w) {
  float *r = ctx;
  r[i] = fmaxf(r[i], fabsf(*w));
}

static void times(void *ctx, int64_t i, float *w) {
  *w *= ((const float *)ctx)[i];
}

void zsq_cle_ranges(const zsq_graph *g, const zsq_cle_pair *p, float *r1, float *r2) {
  const zsq_tensor *w1 = &g->tensors[g->nodes[p->first].inputs[1]];
  const int64_t c = w1->dims[0], per = zsq_tensor_numel(w1) / c;
  const float *w = w1->data;
  for (int64_t i = 0; i < c; i++) {
    r1[i] = r2[i] = 0.0f;
    for (int64_t k = 0; k < per; k++) r1[i] = fmaxf(r1[i], fabsf(w[i * per + k]));
  }
  for_input_channels(g, &g->nodes[p->second], max_abs, r2);
}

/* Equalises one pair; returns max |s_i − 1|. s and r2 are scratch of conv1's output channels (s
 * holds r1 until it becomes the scale). */
static double equalise(zsq_graph *g, const zsq_cle_pair *p, zsq_bn_stats *stats, float *s,
                       float *r2) {
  zsq_node *a = &g->nodes[p->first];
  zsq_tensor *w1 = &g->tensors[a->inputs[1]];
  const int64_t c = w1->dims[0], per = zsq_tensor_numel(w1) / c;
  zsq_cle_ranges(g, p, s, r2);
  double change = 0.0;
  for (int64_t i = 0; i < c; i++) {
    /* s_i = sqrt(r1·r2)/r2; a channel without weights on either side keeps its scale. */
    s[i] = s[i] > 0 && r2[i] > 0 ? sqrtf(s[i] * r2[i]) / r2[i] : 1.0f;
    change = fmax(change, fabs((double)s[i] - 1.0));
  }
  float *w = w1->data,
        *b = a->n_inputs > 2 && a->inputs[2] >= 0 ? g->tensors[a->inputs[2]].data : NULL;
  zsq_bn_stats *st = stats ? &stats[a->outputs[0]] : NULL;
  for (int64_t i = 0; i < c; i++) {
    const float inv = 1.0f / s[i];
    for (int64_t k = 0; k < per; k++) w[i * per + k] *= inv;
    if (b) b[i] *= inv;
    if (st && st->channels == c) {
      st->mean[i] *= inv;
      st->std[i] *= inv;
      st->scale[i] *= s[i]; /* x − μ = (y − β)·scale keeps its value */
    }
  }
  for_input_channels(g, &g->nodes[p->second], times, s);
  return change;
}

zsq_status zsq_cle(zsq_graph *g, zsq_bn_stats *stats, int max_sweeps, int *sweeps, zsq_err *err) {
  zsq_cle_pair *pairs;
  int n, run = 0;
  ZSQ_TRY(zsq_cle_pairs(g, &pairs, &n, err));
  int64_t cmax = 1;
  for (int k = 0; k < n; k++) {
    zsq_node *a = &g->nodes[pairs[k].first];
    if (a->act_min == 0.0f) a->act_max = INFINITY; /* ReLU6 → ReLU */
    const int64_t c = g->tensors[a->inputs[1]].dims[0];
    cmax = c > cmax ? c : cmax;
  }
  float *s = malloc((size_t)cmax * sizeof(float)), *r2 = malloc((size_t)cmax * sizeof(float));
  if (s == NULL || r2 == NULL) {
    free(pairs);
    free(s);
    free(r2);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  double change = n > 0 ? INFINITY : 0.0;
  while (change > 1e-4 && run < max_sweeps) {
    change = 0.0;
    for (int k = 0; k < n; k++) change = fmax(change, equalise(g, &pairs[k], stats, s, r2));
    run++;
  }
  if (sweeps) *sweeps = run;
  free(pairs);
  free(s);
  free(r2);
  return ZSQ_OK;
}
