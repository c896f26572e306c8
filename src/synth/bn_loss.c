/* bn_loss.c — statistics, losses and affine-per-channel gradients of the BN-matching losses. */
#include "synth/bn_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* One pass over memory: per block of rows (in cache) the float sum and the sum of squares about
 * the block's own mean; blocks combine in double, in block order (Chan et al.): accurate, and the
 * same bytes for any split of the blocks across threads. */
#define STAT_BLOCK 64

typedef struct stats_ctx {
  const float *x;
  int64_t rows, c;
  float *sum, *m2; /* [block][c] */
} stats_ctx;

static void stats_range(void *ctx, size_t begin, size_t end) {
  const stats_ctx *t = ctx;
  const int64_t c = t->c;
  for (size_t blk = begin; blk < end; blk++) {
    const int64_t r0 = (int64_t)blk * STAT_BLOCK;
    const int64_t r1 = r0 + STAT_BLOCK < t->rows ? r0 + STAT_BLOCK : t->rows;
    const float inv = 1.0f / (float)(r1 - r0);
    float *restrict sum = t->sum + (int64_t)blk * c, *restrict m2 = t->m2 + (int64_t)blk * c;
    for (int64_t i = 0; i < c; i++) sum[i] = m2[i] = 0.0f;
    for (int64_t r = r0; r < r1; r++) {
      const float *restrict xr = t->x + r * c;
      for (int64_t i = 0; i < c; i++) sum[i] += xr[i];
    }
    for (int64_t r = r0; r < r1; r++) {
      const float *restrict xr = t->x + r * c;
      for (int64_t i = 0; i < c; i++) {
        const float d = xr[i] - sum[i] * inv;
        m2[i] += d * d;
      }
    }
  }
}

void zsq_channel_stats(const float *x, int64_t rows, int64_t c, pthreadpool_t tp, double *mean,
                       double *std) {
  const int64_t blocks = (rows + STAT_BLOCK - 1) / STAT_BLOCK;
  float *part = malloc((size_t)(2 * (blocks > 0 ? blocks : 1) * c) * sizeof(float));
  if (part == NULL) {
    for (int64_t i = 0; i < c; i++) mean[i] = std[i] = NAN;
    return;
  }
  stats_ctx t = {x, rows, c, part, part + blocks * c};
  zsq_parallel_for(tp, (size_t)blocks, 8, stats_range, &t);
  for (int64_t i = 0; i < c; i++) mean[i] = std[i] = 0.0;
  for (int64_t blk = 0; blk < blocks; blk++) {
    for (int64_t i = 0; i < c; i++) mean[i] += t.sum[blk * c + i];
  }
  for (int64_t i = 0; i < c; i++) mean[i] /= (double)rows;
  for (int64_t blk = 0; blk < blocks; blk++) {
    const int64_t n = blk + 1 < blocks ? STAT_BLOCK : rows - blk * STAT_BLOCK;
    for (int64_t i = 0; i < c; i++) {
      const double d = (double)t.sum[blk * c + i] / (double)n - mean[i];
      std[i] += (double)t.m2[blk * c + i] + (double)n * d * d;
    }
  }
  for (int64_t i = 0; i < c; i++) std[i] = sqrt(std[i] / (double)rows);
  free(part);
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

/* Batch losses on (mean, variance) — L-MSE — or (mean, unbiased std) — L-GEN; the gradient is
 * a + b (x − μ) per channel either way. */
static double batch_loss(const zsq_bn_hook *h, const float *x, int64_t n, int64_t pixels,
                         int on_std, float scale, pthreadpool_t tp, float *gx) {
  const int64_t C = h->channels, rows = n * pixels;
  double *mu = malloc((size_t)C * sizeof(double)), *sd = malloc((size_t)C * sizeof(double));
  float *a = malloc((size_t)C * sizeof(float)), *b = malloc((size_t)C * sizeof(float));
  double loss = 0.0;
  if (!mu || !sd || !a || !b) goto done;
  zsq_channel_stats(x, rows, C, tp, mu, sd);
  const double m1 = rows > 1 ? (double)(rows - 1) : 1.0;
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
  if (gx != NULL) {
    /* a + b (x − μ) = (a − b μ) + b x */
    for (int64_t c = 0; c < C; c++) a[c] -= b[c] * (float)mu[c];
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
