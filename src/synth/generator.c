/* generator.c — the GENIE generator's layers, forward and backward, written out per layer (NHWC,
 * 3×3 convolutions with padding 1, nearest ×2 upsampling, train-mode BN with eps 1e-5). */
#include "synth/generator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "float/parallel.h"

#define BN_EPS 1e-5f
#define LEAK 0.2f
/* Images per partial weight gradient: fixed, so that the sums are the same for any thread count. */
#define CHUNK 4
#define GRAIN 4096 /* elements per task of the elementwise loops */

static float *carve(float **at, size_t n) {
  float *p = *at;
  *at += n;
  return p;
}

static void uniform_fill(float *p, size_t n, double bound, zsq_rng *rng) {
  for (size_t i = 0; i < n; i++) p[i] = (float)((2.0 * zsq_rng_uniform(rng) - 1.0) * bound);
}

int zsq_gen_init(zsq_gen *g, int64_t n, int64_t z, int64_t c0, int64_t c1, int64_t c, int64_t h0,
                 int64_t w0, zsq_rng *rng, pthreadpool_t tp) {
  memset(g, 0, sizeof *g);
  g->tp = tp;
  g->n = n, g->z = z, g->c0 = c0, g->c1 = c1, g->c = c, g->h0 = h0, g->w0 = w0;
  const size_t f = (size_t)(h0 * w0 * c0), k1 = (size_t)(9 * c0 * c1), k2 = (size_t)(9 * c1 * c);
  g->n_params = (size_t)z * f + f + 2 * (size_t)c0 + k1 + 3 * (size_t)c1 + k2 + (size_t)c;
  const size_t p0 = (size_t)n * f, p1 = 4 * p0 / (size_t)c0 * (size_t)c1,
               p2 = 4 * p1 / (size_t)c1 * (size_t)c, up1 = 4 * p1;
  size_t big = 4 * p0 > up1 ? 4 * p0 : up1;
  big = big > p2 ? big : p2;
  g->params = zsq_aligned_calloc(g->n_params * sizeof(float));
  g->grads = zsq_aligned_calloc(g->n_params * sizeof(float));
  float *const buf[] = {
      g->a0 = malloc(p0 * sizeof(float)),
      g->x0 = malloc(p0 * sizeof(float)),
      g->u0 = malloc(4 * p0 * sizeof(float)),
      g->a1 = malloc(p1 * sizeof(float)),
      g->x1 = malloc(p1 * sizeof(float)),
      g->r1 = malloc(p1 * sizeof(float)),
      g->u1 = malloc(up1 * sizeof(float)),
      g->a2 = malloc(p2 * sizeof(float)),
      g->t2 = malloc(p2 * sizeof(float)),
      g->out = malloc(p2 * sizeof(float)),
      g->scratch_a = malloc(big * sizeof(float)),
      g->scratch_b = malloc(big * sizeof(float)),
      g->wt_t = malloc((k1 > k2 ? k1 : k2) * sizeof(float)),
      g->partial = malloc((size_t)((n + CHUNK - 1) / CHUNK) *
                          (k1 + (size_t)c1 > k2 + (size_t)c ? k1 + (size_t)c1 : k2 + (size_t)c) *
                          sizeof(float)),
      g->bn0.mean = malloc(2 * (size_t)c0 * sizeof(float)),
      g->bn1.mean = malloc(2 * (size_t)c1 * sizeof(float)),
      g->bn2.mean = malloc(2 * (size_t)c * sizeof(float))};
  for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++) {
    if (buf[i] == NULL) return 0;
  }
  if (!g->params || !g->grads) return 0;
  g->bn0.c = c0, g->bn0.invstd = g->bn0.mean + c0;
  g->bn1.c = c1, g->bn1.invstd = g->bn1.mean + c1;
  g->bn2.c = c, g->bn2.invstd = g->bn2.mean + c;
  float *at = g->params;
  g->w_lin = carve(&at, (size_t)z * f), g->b_lin = carve(&at, f);
  g->g0 = carve(&at, (size_t)c0), g->be0 = carve(&at, (size_t)c0);
  g->w1 = carve(&at, k1), g->b1 = carve(&at, (size_t)c1);
  g->g1 = carve(&at, (size_t)c1), g->be1 = carve(&at, (size_t)c1);
  g->w2 = carve(&at, k2), g->b2 = carve(&at, (size_t)c);
  uniform_fill(g->w_lin, (size_t)z * f, 1.0 / sqrt((double)z), rng);
  uniform_fill(g->b_lin, f, 1.0 / sqrt((double)z), rng);
  uniform_fill(g->w1, k1, 1.0 / sqrt(9.0 * (double)c0), rng);
  uniform_fill(g->b1, (size_t)c1, 1.0 / sqrt(9.0 * (double)c0), rng);
  uniform_fill(g->w2, k2, 1.0 / sqrt(9.0 * (double)c1), rng);
  uniform_fill(g->b2, (size_t)c, 1.0 / sqrt(9.0 * (double)c1), rng);
  for (int64_t i = 0; i < c0; i++) g->g0[i] = 1.0f;
  for (int64_t i = 0; i < c1; i++) g->g1[i] = 1.0f;
  return 1;
}

void zsq_gen_free(zsq_gen *g) {
  zsq_aligned_free(g->params);
  zsq_aligned_free(g->grads);
  float *const buf[] = {g->a0,   g->x0,      g->u0,       g->a1,       g->x1,        g->r1,
                        g->u1,   g->a2,      g->t2,       g->out,      g->scratch_a, g->scratch_b,
                        g->wt_t, g->partial, g->bn0.mean, g->bn1.mean, g->bn2.mean};
  for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++) free(buf[i]);
  memset(g, 0, sizeof *g);
}

static void par(const zsq_gen *g, size_t n, size_t grain, zsq_range_fn fn, void *ctx) {
  zsq_parallel_for(g->tp, n, grain, fn, ctx);
}

/* ---- train-mode BN ------------------------------------------------------------------------ */

typedef struct bn_task {
  zsq_gen_bn *bn;
  const float *x, *gy, *gamma, *beta, *xh; /* xh: the forward's x̂, read by backward */
  float *xhat, *y, *ggamma, *gbeta, *gx;
  int64_t rows;
} bn_task;

static void bn_stats_range(void *ctx, size_t begin, size_t end) {
  const bn_task *t = ctx;
  const int64_t c = t->bn->c, rows = t->rows;
  for (size_t j = begin; j < end; j++) {
    double s = 0.0, q = 0.0;
    for (int64_t r = 0; r < rows; r++) s += t->x[r * c + (int64_t)j];
    const double mu = s / (double)rows;
    for (int64_t r = 0; r < rows; r++) {
      const double d = t->x[r * c + (int64_t)j] - mu;
      q += d * d;
    }
    t->bn->mean[j] = (float)mu;
    t->bn->invstd[j] = (float)(1.0 / sqrt(q / (double)rows + BN_EPS));
  }
}

static void bn_apply_range(void *ctx, size_t begin, size_t end) {
  const bn_task *t = ctx;
  const int64_t c = t->bn->c;
  for (size_t r = begin; r < end; r++) {
    for (int64_t j = 0; j < c; j++) {
      const size_t i = r * (size_t)c + (size_t)j;
      const float h = (t->x[i] - t->bn->mean[j]) * t->bn->invstd[j];
      t->xhat[i] = h;
      t->y[i] = t->gamma ? t->gamma[j] * h + t->beta[j] : h;
    }
  }
}

/* x̂ = (x − μ)/√(σ² + eps) (biased σ²), y = γ x̂ + β (γ NULL: y = x̂), over rows × c. */
static void bn_forward(const zsq_gen *g, zsq_gen_bn *bn, const float *x, int64_t rows,
                       const float *gamma, const float *beta, float *xhat, float *y) {
  bn_task t = {.bn = bn, .x = x, .gamma = gamma, .beta = beta, .xhat = xhat, .y = y, .rows = rows};
  par(g, (size_t)bn->c, 1, bn_stats_range, &t);
  par(g, (size_t)rows, GRAIN / (size_t)bn->c + 1, bn_apply_range, &t);
}

static void bn_backward_range(void *ctx, size_t begin, size_t end) {
  const bn_task *t = ctx;
  const int64_t c = t->bn->c, rows = t->rows;
  for (size_t jj = begin; jj < end; jj++) {
    const int64_t j = (int64_t)jj;
    double sg = 0.0, sgx = 0.0;
    for (int64_t r = 0; r < rows; r++) {
      sg += t->gy[r * c + j];
      sgx += (double)t->gy[r * c + j] * t->xh[r * c + j];
    }
    if (t->gamma) t->ggamma[j] += (float)sgx, t->gbeta[j] += (float)sg;
    const double gm = t->gamma ? t->gamma[j] : 1.0, k = gm * t->bn->invstd[j] / (double)rows;
    for (int64_t r = 0; r < rows; r++)
      t->gx[r * c + j] =
          (float)(k * ((double)rows * t->gy[r * c + j] - sg - t->xh[r * c + j] * sgx));
  }
}

/* gx = invstd/M (M ĝ − Σĝ − x̂ Σ ĝ x̂), ĝ = γ gy; accumulates dγ, dβ (when gamma). */
static void bn_backward(const zsq_gen *g, zsq_gen_bn *bn, const float *xhat, const float *gy,
                        int64_t rows, const float *gamma, float *ggamma, float *gbeta, float *gx) {
  bn_task t = {.bn = bn,
               .xh = xhat,
               .gy = gy,
               .rows = rows,
               .gamma = gamma,
               .ggamma = ggamma,
               .gbeta = gbeta,
               .gx = gx};
  par(g, (size_t)bn->c, 1, bn_backward_range, &t);
}

/* ---- nearest ×2 upsampling ------------------------------------------------------------------ */

typedef struct up_task {
  const float *src;
  float *dst;
  int64_t w, c;
} up_task;

/* Rows (image · h + y) of the input grid. */
static void upsample_range(void *ctx, size_t begin, size_t end) {
  const up_task *t = ctx;
  const int64_t w = t->w, c = t->c;
  for (size_t b = begin; b < end; b++) {
    for (int64_t x = 0; x < w; x++) {
      const float *src = t->src + ((int64_t)b * w + x) * c;
      for (int64_t d = 0; d < 4; d++)
        memcpy(t->dst + (((2 * (int64_t)b + d / 2) * 2 * w) + 2 * x + d % 2) * c, src,
               (size_t)c * sizeof(float));
    }
  }
}

static void upsample_adjoint_range(void *ctx, size_t begin, size_t end) {
  const up_task *t = ctx;
  const int64_t w = t->w, c = t->c;
  for (size_t b = begin; b < end; b++) {
    for (int64_t x = 0; x < w; x++) {
      float *dst = t->dst + ((int64_t)b * w + x) * c;
      for (int64_t j = 0; j < c; j++) dst[j] = 0.0f;
      for (int64_t d = 0; d < 4; d++) {
        const float *src = t->src + (((2 * (int64_t)b + d / 2) * 2 * w) + 2 * x + d % 2) * c;
        for (int64_t j = 0; j < c; j++) dst[j] += src[j];
      }
    }
  }
}

/* out (n × 2h × 2w × c) from in (n × h × w × c); the adjoint sums the four copies. */
static void upsample(const zsq_gen *g, const float *in, float *out, int64_t n, int64_t h, int64_t w,
                     int64_t c) {
  up_task t = {in, out, w, c};
  par(g, (size_t)(n * h), 1, upsample_range, &t);
}

static void upsample_adjoint(const zsq_gen *g, const float *gout, float *gin, int64_t n, int64_t h,
                             int64_t w, int64_t c) {
  up_task t = {gout, gin, w, c};
  par(g, (size_t)(n * h), 1, upsample_adjoint_range, &t);
}

/* ---- 3×3 convolution, stride 1, zero padding 1, weights [ky][kx][ci][co] ----------------- */

typedef struct conv_task {
  const float *in, *wt, *bias, *gout;
  float *out, *gin, *partial;
  int64_t n, h, w, ci, co;
} conv_task;

/* Output rows (image · h + y). */
static void conv_forward_range(void *ctx, size_t begin, size_t end) {
  const conv_task *t = ctx;
  const int64_t h = t->h, w = t->w, ci = t->ci, co = t->co;
  for (size_t row = begin; row < end; row++) {
    const int64_t b = (int64_t)row / h, y = (int64_t)row % h;
    for (int64_t x = 0; x < w; x++) {
      float *o = t->out + ((b * h + y) * w + x) * co;
      for (int64_t j = 0; j < co; j++) o[j] = t->bias[j];
      for (int64_t k = 0; k < 9; k++) {
        const int64_t yy = y + k / 3 - 1, xx = x + k % 3 - 1;
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        const float *ip = t->in + ((b * h + yy) * w + xx) * ci;
        for (int64_t i = 0; i < ci; i++) {
          const float v = ip[i], *wr = t->wt + (k * ci + i) * co;
          for (int64_t j = 0; j < co; j++) o[j] += v * wr[j];
        }
      }
    }
  }
}

static void conv_forward(const zsq_gen *g, const float *in, int64_t n, int64_t h, int64_t w,
                         int64_t ci, const float *wt, const float *bias, int64_t co, float *out) {
  conv_task t = {
      .in = in, .wt = wt, .bias = bias, .out = out, .n = n, .h = h, .w = w, .ci = ci, .co = co};
  par(g, (size_t)(n * h), 1, conv_forward_range, &t);
}

/* The input gradient, gathered per input row (image · h + y) from the output pixels that read
 * it: wt is the weights transposed to [ky][kx][co][ci]. */
static void conv_gin_range(void *ctx, size_t begin, size_t end) {
  const conv_task *t = ctx;
  const int64_t h = t->h, w = t->w, ci = t->ci, co = t->co;
  for (size_t row = begin; row < end; row++) {
    const int64_t b = (int64_t)row / h, yy = (int64_t)row % h;
    for (int64_t xx = 0; xx < w; xx++) {
      float *gi = t->gin + ((b * h + yy) * w + xx) * ci;
      for (int64_t i = 0; i < ci; i++) gi[i] = 0.0f;
      for (int64_t k = 0; k < 9; k++) {
        const int64_t y = yy - k / 3 + 1, x = xx - k % 3 + 1;
        if (y < 0 || y >= h || x < 0 || x >= w) continue;
        const float *go = t->gout + ((b * h + y) * w + x) * co;
        for (int64_t j = 0; j < co; j++) {
          const float gj = go[j], *wr = t->wt + (k * co + j) * ci;
          for (int64_t i = 0; i < ci; i++) gi[i] += gj * wr[i];
        }
      }
    }
  }
}

/* dW and db of CHUNK images each into its own slice of t->partial. */
static void conv_gw_range(void *ctx, size_t begin, size_t end) {
  const conv_task *t = ctx;
  const int64_t h = t->h, w = t->w, ci = t->ci, co = t->co, nw = 9 * ci * co + co;
  for (size_t ch = begin; ch < end; ch++) {
    float *gw = t->partial + (int64_t)ch * nw, *gb = gw + 9 * ci * co;
    memset(gw, 0, (size_t)nw * sizeof(float));
    const int64_t b1 = ((int64_t)ch + 1) * CHUNK < t->n ? ((int64_t)ch + 1) * CHUNK : t->n;
    for (int64_t b = (int64_t)ch * CHUNK; b < b1; b++) {
      for (int64_t y = 0; y < h; y++) {
        for (int64_t x = 0; x < w; x++) {
          const float *go = t->gout + ((b * h + y) * w + x) * co;
          for (int64_t j = 0; j < co; j++) gb[j] += go[j];
          for (int64_t k = 0; k < 9; k++) {
            const int64_t yy = y + k / 3 - 1, xx = x + k % 3 - 1;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            const float *ip = t->in + ((b * h + yy) * w + xx) * ci;
            for (int64_t i = 0; i < ci; i++) {
              const float v = ip[i];
              float *gwr = gw + (k * ci + i) * co;
              for (int64_t j = 0; j < co; j++) gwr[j] += v * go[j];
            }
          }
        }
      }
    }
  }
}

typedef struct sum_task {
  const float *partial;
  float *dst;
  int64_t parts, stride;
} sum_task;

/* dst[e] += Σ_parts partial[p][e], parts in order. */
static void sum_parts_range(void *ctx, size_t begin, size_t end) {
  const sum_task *t = ctx;
  for (size_t e = begin; e < end; e++) {
    float s = t->dst[e];
    for (int64_t q = 0; q < t->parts; q++) s += t->partial[q * t->stride + (int64_t)e];
    t->dst[e] = s;
  }
}

/* Accumulates dW into gw and db into gb (contiguous after gw), sets gin; wt_t is scratch for the
 * weights as [ky][kx][co][ci]. */
static void conv_backward(const zsq_gen *g, const float *in, const float *gout, int64_t n,
                          int64_t h, int64_t w, int64_t ci, const float *wt, int64_t co, float *gw,
                          float *gin) {
  for (int64_t k = 0; k < 9; k++) {
    for (int64_t i = 0; i < ci; i++) {
      for (int64_t j = 0; j < co; j++) g->wt_t[(k * co + j) * ci + i] = wt[(k * ci + i) * co + j];
    }
  }
  conv_task t = {.in = in,
                 .wt = g->wt_t,
                 .gout = gout,
                 .gin = gin,
                 .partial = g->partial,
                 .n = n,
                 .h = h,
                 .w = w,
                 .ci = ci,
                 .co = co};
  par(g, (size_t)(n * h), 1, conv_gin_range, &t);
  const int64_t chunks = (n + CHUNK - 1) / CHUNK, nw = 9 * ci * co + co;
  par(g, (size_t)chunks, 1, conv_gw_range, &t);
  sum_task s = {g->partial, gw, chunks, nw};
  par(g, (size_t)nw, GRAIN / (size_t)chunks + 1, sum_parts_range, &s);
}

/* ---- Linear, activations ---------------------------------------------------------------- */

typedef struct lin_task {
  const zsq_gen *g;
  const float *zs, *ga;
  float *gz;
} lin_task;

/* Images: a0[b] = b_lin + zs[b]·W. */
static void linear_forward_range(void *ctx, size_t begin, size_t end) {
  const lin_task *t = ctx;
  const zsq_gen *g = t->g;
  const int64_t f = g->h0 * g->w0 * g->c0;
  for (size_t b = begin; b < end; b++) {
    float *a = g->a0 + (int64_t)b * f;
    memcpy(a, g->b_lin, (size_t)f * sizeof(float));
    for (int64_t k = 0; k < g->z; k++) {
      const float v = t->zs[(int64_t)b * g->z + k], *wr = g->w_lin + k * f;
      for (int64_t j = 0; j < f; j++) a[j] += v * wr[j];
    }
  }
}

/* Latent rows k of dW (Σ_b z[b][k]·ga[b], images in order); row z is db = Σ_b ga[b]. */
static void linear_gw_range(void *ctx, size_t begin, size_t end) {
  const lin_task *t = ctx;
  const zsq_gen *g = t->g;
  const int64_t f = g->h0 * g->w0 * g->c0;
  for (size_t k = begin; k < end; k++) {
    float *gwr = g->grads + (int64_t)k * f;
    for (int64_t b = 0; b < g->n; b++) {
      const float *ga = t->ga + b * f;
      const float v = (int64_t)k < g->z ? t->zs[b * g->z + (int64_t)k] : 1.0f;
      for (int64_t j = 0; j < f; j++) gwr[j] += v * ga[j];
    }
  }
}

/* Images: gz[b] = ga[b]·Wᵀ. */
static void linear_gz_range(void *ctx, size_t begin, size_t end) {
  const lin_task *t = ctx;
  const zsq_gen *g = t->g;
  const int64_t f = g->h0 * g->w0 * g->c0;
  for (size_t b = begin; b < end; b++) {
    const float *ga = t->ga + (int64_t)b * f;
    for (int64_t k = 0; k < g->z; k++) {
      const float *wr = g->w_lin + k * f;
      float acc = 0.0f;
      for (int64_t j = 0; j < f; j++) acc += ga[j] * wr[j];
      t->gz[(int64_t)b * g->z + k] = acc;
    }
  }
}

typedef struct act_task {
  const zsq_gen *g;
  float *x;
} act_task;

static void leaky_range(void *ctx, size_t begin, size_t end) {
  float *r = ((const act_task *)ctx)->x;
  for (size_t i = begin; i < end; i++) r[i] = r[i] > 0 ? r[i] : LEAK * r[i];
}

static void tanh_range(void *ctx, size_t begin, size_t end) {
  const act_task *t = ctx;
  for (size_t i = begin; i < end; i++) t->g->t2[i] = tanhf(t->g->a2[i]);
}

/* x *= tanh'(a2) = 1 − t2². */
static void tanh_grad_range(void *ctx, size_t begin, size_t end) {
  const act_task *t = ctx;
  for (size_t i = begin; i < end; i++) t->x[i] *= 1.0f - t->g->t2[i] * t->g->t2[i];
}

/* x *= LeakyReLU'(its input), read from the sign of the output r1. */
static void leaky_grad_range(void *ctx, size_t begin, size_t end) {
  const act_task *t = ctx;
  for (size_t i = begin; i < end; i++) t->x[i] *= t->g->r1[i] > 0 ? 1.0f : LEAK;
}

void zsq_gen_forward(zsq_gen *g, const float *zs) {
  const int64_t n = g->n, h1 = 2 * g->h0, w1 = 2 * g->w0;
  lin_task lt = {g, zs, NULL, NULL};
  par(g, (size_t)n, 1, linear_forward_range, &lt);
  bn_forward(g, &g->bn0, g->a0, n * g->h0 * g->w0, g->g0, g->be0, g->x0, g->scratch_a);
  upsample(g, g->scratch_a, g->u0, n, g->h0, g->w0, g->c0);
  conv_forward(g, g->u0, n, h1, w1, g->c0, g->w1, g->b1, g->c1, g->a1);
  const int64_t p1 = n * h1 * w1 * g->c1, p2 = 4 * n * h1 * w1 * g->c;
  bn_forward(g, &g->bn1, g->a1, n * h1 * w1, g->g1, g->be1, g->x1, g->r1);
  act_task at = {g, g->r1};
  par(g, (size_t)p1, GRAIN, leaky_range, &at);
  upsample(g, g->r1, g->u1, n, h1, w1, g->c1);
  conv_forward(g, g->u1, n, 2 * h1, 2 * w1, g->c1, g->w2, g->b2, g->c, g->a2);
  par(g, (size_t)p2, GRAIN, tanh_range, &at);
  bn_forward(g, &g->bn2, g->t2, p2 / g->c, NULL, NULL, g->out, g->out);
}

void zsq_gen_backward(zsq_gen *g, const float *zs, const float *gout, float *gz) {
  const int64_t n = g->n, f = g->h0 * g->w0 * g->c0, h1 = 2 * g->h0, w1 = 2 * g->w0;
  const int64_t p1 = n * h1 * w1 * g->c1, p2 = 4 * n * h1 * w1 * g->c;
  const size_t off1 = (size_t)(g->w1 - g->params), off2 = (size_t)(g->w2 - g->params);
  float *G = g->grads, *sa = g->scratch_a, *sb = g->scratch_b;
  memset(G, 0, g->n_params * sizeof(float));
  bn_backward(g, &g->bn2, g->out, gout, p2 / g->c, NULL, NULL, NULL, sa);
  act_task at = {g, sa};
  par(g, (size_t)p2, GRAIN, tanh_grad_range, &at);
  conv_backward(g, g->u1, sa, n, 2 * h1, 2 * w1, g->c1, g->w2, g->c, G + off2, sb);
  upsample_adjoint(g, sb, sa, n, h1, w1, g->c1);
  par(g, (size_t)p1, GRAIN, leaky_grad_range, &at);
  float *gg1 = G + off1 + 9 * g->c0 * g->c1 + g->c1;
  bn_backward(g, &g->bn1, g->x1, sa, n * h1 * w1, g->g1, gg1, gg1 + g->c1, sb);
  conv_backward(g, g->u0, sb, n, h1, w1, g->c0, g->w1, g->c1, G + off1, sa);
  upsample_adjoint(g, sa, sb, n, g->h0, g->w0, g->c0);
  float *gg0 = G + g->z * f + f;
  bn_backward(g, &g->bn0, g->x0, sb, n * g->h0 * g->w0, g->g0, gg0, gg0 + g->c0, sa);
  lin_task lt = {g, zs, sa, gz}; /* Linear: dW = zᵀ ga and db = Σ ga (row z), gz = ga Wᵀ */
  par(g, (size_t)(g->z + 1), 1, linear_gw_range, &lt);
  par(g, (size_t)n, 1, linear_gz_range, &lt);
}
