/* weight_stats.c — moment propagation through Conv, BatchNormalization, Relu/Clip, Add, pools and
 * Identity: rectified-Gaussian moments for a ReLU, sums for Add. Other operators end the
 * propagation (convs after them get no hook). */
#include "synth/weight_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct moments {
  int64_t c;
  float *m, *v; /* NULL: unknown */
} moments;

static int moments_alloc(moments *t, int64_t c) {
  t->c = c;
  t->m = malloc((size_t)c * sizeof(float));
  t->v = malloc((size_t)c * sizeof(float));
  return t->m != NULL && t->v != NULL;
}

/* Mean and variance of max(x, 0) for x ~ N(m, v). */
static void rectify(float *m, float *v) {
  const double mu = *m, sd = sqrt(*v > 0 ? *v : 0);
  if (sd < 1e-12) {
    *m = (float)(mu > 0 ? mu : 0);
    *v = 0.0f;
    return;
  }
  const double a = mu / sd, cdf = 0.5 * erfc(-a / sqrt(2.0)),
               pdf = exp(-0.5 * a * a) / sqrt(2 * M_PI);
  const double e1 = mu * cdf + sd * pdf, e2 = (mu * mu + sd * sd) * cdf + mu * sd * pdf;
  *m = (float)e1;
  *v = (float)fmax(e2 - e1 * e1, 0.0);
}

/* Conv: m' = b + Σ W·m (exact by linearity); v' ∝ Σ W²·v (the per-channel shape under
 * independence), rescaled so the channels' mean variance equals *v0, the first conv's (set
 * here when 0): a variance-preserving prior, since correlated activations make the
 * independence estimate shrink layer after layer. */
static int conv_moments(const zsq_graph *g, const zsq_node *n, const moments *in, double *v0,
                        moments *out) {
  const zsq_tensor *w = &g->tensors[n->inputs[1]];
  if (!w->is_const || w->rank != 4) return 1;
  const int64_t O = w->dims[0], I = w->dims[1], K = w->dims[2] * w->dims[3];
  const int64_t per_group = O / (n->a.conv.group > 0 ? n->a.conv.group : 1);
  const float *W = w->data;
  const float *bias =
      n->n_inputs > 2 && n->inputs[2] >= 0 ? (const float *)g->tensors[n->inputs[2]].data : NULL;
  if (!moments_alloc(out, O)) return 0;
  double mean_v = 0.0;
  for (int64_t o = 0; o < O; o++) {
    double m = bias ? bias[o] : 0.0, v = 0.0;
    for (int64_t i = 0; i < I; i++) {
      const int64_t ch = (o / per_group) * I + i;
      for (int64_t k = 0; k < K; k++) {
        const double wk = W[(o * I + i) * K + k];
        m += wk * in->m[ch];
        v += wk * wk * in->v[ch];
      }
    }
    out->m[o] = (float)m;
    out->v[o] = (float)v;
    mean_v += v / (double)O;
  }
  if (*v0 == 0.0) *v0 = mean_v;
  for (int64_t o = 0; o < O && mean_v > 0; o++) out->v[o] = (float)(out->v[o] * *v0 / mean_v);
  return 1;
}

static int bn_moments(const zsq_graph *g, const zsq_node *n, const moments *in, moments *out) {
  for (int k = 1; k < 5; k++) {
    if (!g->tensors[n->inputs[k]].is_const) return 1;
  }
  const float *gamma = g->tensors[n->inputs[1]].data, *beta = g->tensors[n->inputs[2]].data,
              *mu = g->tensors[n->inputs[3]].data, *var = g->tensors[n->inputs[4]].data;
  if (!moments_alloc(out, in->c)) return 0;
  for (int64_t c = 0; c < in->c; c++) {
    const double s = gamma[c] / sqrt((double)var[c] + n->a.bn.epsilon);
    out->m[c] = (float)(s * (in->m[c] - mu[c]) + beta[c]);
    out->v[c] = (float)(s * s * in->v[c]);
  }
  return 1;
}

/* Moments of node n's output from those of its inputs (left unknown when unsupported). */
static int node_moments(const zsq_graph *g, const zsq_node *n, const moments *t, double *v0,
                        moments *out) {
  const moments *a = &t[n->inputs[0]];
  if (a->m == NULL) return 1;
  if (n->op == ZSQ_OP_CONV) return conv_moments(g, n, a, v0, out);
  if (n->op == ZSQ_OP_BATCHNORM) return bn_moments(g, n, a, out);
  if (n->op == ZSQ_OP_ADD) {
    const moments *b = &t[n->inputs[1]];
    if (b->m == NULL || b->c != a->c) return 1;
  }
  const int relu = n->op == ZSQ_OP_RELU || (n->op == ZSQ_OP_CLIP && n->a.clip.min == 0.0f);
  const int keep = n->op == ZSQ_OP_ADD || n->op == ZSQ_OP_MAXPOOL || n->op == ZSQ_OP_AVGPOOL ||
                   n->op == ZSQ_OP_IDENTITY;
  if (!relu && !keep) return 1;
  if (!moments_alloc(out, a->c)) return 0;
  const double area =
      n->op == ZSQ_OP_AVGPOOL ? (double)(n->a.pool.win.kernel[0] * n->a.pool.win.kernel[1]) : 1.0;
  for (int64_t c = 0; c < a->c; c++) {
    out->m[c] = a->m[c];
    out->v[c] = (float)(a->v[c] / area);
    if (n->op == ZSQ_OP_ADD) {
      out->m[c] += t[n->inputs[1]].m[c];
      out->v[c] += t[n->inputs[1]].v[c];
    }
    if (relu) rectify(&out->m[c], &out->v[c]);
  }
  return 1;
}

int zsq_weight_hooks_find(const zsq_graph *g, zsq_bn_hook **out) {
  moments *t = calloc(g->n_tensors, sizeof(moments));
  *out = calloc(g->n_nodes + 1, sizeof(zsq_bn_hook));
  int n = 0, ok = t != NULL && *out != NULL;
  double v0 = 0.0;
  if (ok && g->n_inputs > 0) {
    const zsq_tensor *in = &g->tensors[g->inputs[0]];
    moments *x = &t[g->inputs[0]];
    ok = in->rank == 4 && moments_alloc(x, in->dims[1]);
    for (int64_t c = 0; ok && c < x->c; c++) x->m[c] = 0.0f, x->v[c] = 1.0f;
  }
  for (size_t i = 0; ok && i < g->n_nodes; i++) {
    const zsq_node *nd = &g->nodes[i];
    moments *o = &t[nd->outputs[0]];
    ok = node_moments(g, nd, t, &v0, o);
    for (int64_t c = 0; ok && o->m != NULL && nd->act_min == 0.0f && c < o->c; c++) {
      rectify(&o->m[c], &o->v[c]); /* a fused ReLU */
    }
    if (ok && nd->op == ZSQ_OP_CONV && o->m != NULL && isinf(nd->act_min) && isinf(nd->act_max)) {
      ok = zsq_bn_hook_set(&(*out)[n++], nd->outputs[0], o->c, o->m, o->v, nd->name);
    }
  }
  for (size_t i = 0; t && i < g->n_tensors; i++) {
    free(t[i].m);
    free(t[i].v);
  }
  free(t);
  if (!ok) {
    zsq_bn_hooks_free(*out, n);
    *out = NULL;
    return -1;
  }
  return n;
}
