/* bn_loss.c — statistics, losses and affine-per-channel gradients of the BN-matching losses. */
#include "synth/bn_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "float/chstats.h"
#include "float/parallel.h"

#define STD_EPS 1e-6f

int zsq_bn_hook_set(zsq_bn_hook *h, int tensor, int64_t c, const float *mean, const float *var,
                    const char *name) {
  h->tensor = tensor;
  h->channels = c;
  h->name = name;
  h->mean = malloc((size_t)c * sizeof(float));
  h->std = malloc((size_t)c * sizeof(float));
  h->var = malloc((size_t)c * sizeof(float));
  if (!h->mean || !h->std || !h->var) return 0;
  for (int64_t i = 0; i < c; i++) {
    h->mean[i] = mean ? mean[i] : 0.0f;
    h->var[i] = var ? var[i] : 1.0f;
    h->std[i] = sqrtf(h->var[i] + STD_EPS);
  }
  return 1;
}

int zsq_bn_hooks_find(const zsq_graph *g, int with_input, zsq_bn_hook **out) {
  *out = calloc(g->n_nodes + 2, sizeof(zsq_bn_hook));
  if (*out == NULL) return -1;
  int n = 0;
  if (with_input && g->n_inputs > 0) {
    const zsq_tensor *t = &g->tensors[g->inputs[0]];
    if (t->rank == 4 &&
        !zsq_bn_hook_set(&(*out)[n++], g->inputs[0], t->dims[1], NULL, NULL, "input"))
      goto fail;
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    const zsq_node *nd = &g->nodes[i];
    if (nd->op != ZSQ_OP_BATCHNORM) continue;
    const zsq_tensor *mean = &g->tensors[nd->inputs[3]], *var = &g->tensors[nd->inputs[4]];
    if (!mean->is_const || !var->is_const) continue;
    if (!zsq_bn_hook_set(&(*out)[n++], nd->inputs[0], zsq_tensor_numel(mean), mean->data, var->data,
                         nd->name))
      goto fail;
  }
  return n;
fail:
  zsq_bn_hooks_free(*out, n);
  *out = NULL;
  return -1;
}

void zsq_bn_hooks_free(zsq_bn_hook *h, int n) {
  if (h == NULL) return;
  for (int i = 0; i < n; i++) {
    free(h[i].mean);
    free(h[i].std);
    free(h[i].var);
  }
  free(h);
}

static double slack(double d, double m, double *sign) {
  *sign = d > 0 ? 1.0 : -1.0;
  double a = fabs(d) - m;
  return a > 0 ? a : 0.0;
}

/* gx[r][c] += a[c] + b[c]·x[r][c] over `rows` rows of c channels. */
static void affine_add(const float *restrict x, int64_t rows, int64_t c, const float *restrict a,
                       const float *restrict b, float *restrict gx) {
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t i = 0; i < c; i++) gx[r * c + i] += a[i] + b[i] * x[r * c + i];
  }
}

double zsq_bn_loss_per_sample(const zsq_bn_hook *h, const float *x, int64_t n, int64_t pixels,
                              float slack_mean, float slack_std, const float *w, float scale,
                              float *gx) {
  return zsq_bn_loss_per_sample_range(h, x, n, 0, n, pixels, slack_mean, slack_std, w, scale, gx);
}

double zsq_bn_loss_per_sample_range(const zsq_bn_hook *h, const float *x, int64_t n, int64_t first,
                                    int64_t count, int64_t pixels, float slack_mean,
                                    float slack_std, const float *w, float scale, float *gx) {
  const int64_t C = h->channels;
  double *mu = malloc((size_t)C * sizeof(double)), *sd = malloc((size_t)C * sizeof(double));
  float *a = malloc((size_t)C * sizeof(float)), *b = malloc((size_t)C * sizeof(float));
  double loss = 0.0;
  if (!mu || !sd || !a || !b) goto done;
  for (int64_t s = first; s < first + count; s++) {
    const float *xs = x + s * pixels * C;
    zsq_channel_stats(xs, pixels, C, NULL, mu, sd);
    const double ws = (w ? w[s] : 1.0) / (double)n, denom = pixels > 1 ? (double)(pixels - 1) : 1.0;
    for (int64_t c = 0; c < C; c++) {
      const double sdu = sqrt(sd[c] * sd[c] * (double)pixels / denom + STD_EPS);
      double sgn_m, sgn_s;
      const double dm = slack(mu[c] - h->mean[c], slack_mean, &sgn_m);
      const double ds = slack(sdu - h->std[c], slack_std, &sgn_s);
      loss += ws * (dm * dm + ds * ds);
      /* dL/dx = 2 ws [dm sgn_m / P + ds sgn_s (x - μ) / ((P-1) sd)] = a + b (x − μ) */
      a[c] = (float)(scale * 2.0 * ws * dm * sgn_m / (double)pixels);
      b[c] = (float)(scale * 2.0 * ws * ds * sgn_s / (denom * sdu));
      a[c] -= b[c] * (float)mu[c];
    }
    if (gx != NULL) affine_add(xs, pixels, C, a, b, gx + s * pixels * C);
  }
done:
  free(mu);
  free(sd);
  free(a);
  free(b);
  return loss;
}

void zsq_channel_stats(const float *x, int64_t rows, int64_t c, pthreadpool_t tp, double *mean,
                       double *std) {
  zsq_chstats st;
  if (!zsq_chstats_init(&st, rows, c)) {
    for (int64_t i = 0; i < c; i++) mean[i] = std[i] = NAN;
  } else {
    zsq_chstats_compute(&st, x, tp);
    zsq_chstats_result(&st, mean, std);
  }
  zsq_chstats_free(&st);
}

typedef struct affine_ctx {
  const float *x, *a, *b;
  int64_t c;
  float *gx;
} affine_ctx;

static void affine_range(void *ctx, size_t begin, size_t end) {
  const affine_ctx *t = ctx;
  const size_t off = begin * (size_t)t->c;
  affine_add(t->x + off, (int64_t)(end - begin), t->c, t->a, t->b, t->gx + off);
}

double zsq_bn_loss_batch_coef(const zsq_bn_hook *h, const double *mu, const double *sd,
                              int64_t rows, int on_std, float scale, float *a, float *b) {
  const int64_t C = h->channels;
  const double m1 = rows > 1 ? (double)(rows - 1) : 1.0;
  double loss = 0.0;
  for (int64_t c = 0; c < C; c++) {
    const double dm = mu[c] - h->mean[c];
    a[c] = (float)(scale * 2.0 * dm / ((double)C * (double)rows));
    if (on_std) { /* dL/dx = 2/C [ (μ − μ̂)/M + (s − σ̂)(x − μ)/((M − 1) s) ] */
      const double s = sd[c] * sqrt((double)rows / m1), ds = s - h->std[c];
      loss += (dm * dm + ds * ds) / (double)C;
      b[c] = s > 0 ? (float)(scale * 2.0 * ds / ((double)C * m1 * s)) : 0.0f;
    } else { /* dL/dx = 2/(C M) [ (μ − μ̂) + 2 (v − v̂)(x − μ) ] */
      const double dv = sd[c] * sd[c] - h->var[c];
      loss += (dm * dm + dv * dv) / (double)C;
      b[c] = (float)(scale * 4.0 * dv / ((double)C * (double)rows));
    }
  }
  /* a + b (x − μ) = (a − b μ) + b x */
  for (int64_t c = 0; c < C; c++) a[c] -= b[c] * (float)mu[c];
  return loss;
}

/* The batch losses as statistics, coefficients and the affine gradient pass. */
static double batch_loss(const zsq_bn_hook *h, const float *x, int64_t n, int64_t pixels,
                         int on_std, float scale, pthreadpool_t tp, float *gx) {
  const int64_t C = h->channels, rows = n * pixels;
  double *mu = malloc((size_t)C * sizeof(double)), *sd = malloc((size_t)C * sizeof(double));
  float *a = malloc((size_t)C * sizeof(float)), *b = malloc((size_t)C * sizeof(float));
  double loss = 0.0;
  if (!mu || !sd || !a || !b) goto done;
  zsq_channel_stats(x, rows, C, tp, mu, sd);
  loss = zsq_bn_loss_batch_coef(h, mu, sd, rows, on_std, scale, a, b);
  if (gx != NULL) {
    affine_ctx t = {x, a, b, C, gx};
    zsq_parallel_for(tp, (size_t)rows, 1024, affine_range, &t);
  }
done:
  free(mu);
  free(sd);
  free(a);
  free(b);
  return loss;
}

double zsq_bn_loss_batch(const zsq_bn_hook *h, const float *x, int64_t n, int64_t pixels,
                         float scale, pthreadpool_t tp, float *gx) {
  return batch_loss(h, x, n, pixels, 0, scale, tp, gx);
}

double zsq_bn_loss_batch_std(const zsq_bn_hook *h, const float *x, int64_t n, int64_t pixels,
                             float scale, pthreadpool_t tp, float *gx) {
  return batch_loss(h, x, n, pixels, 1, scale, tp, gx);
}
