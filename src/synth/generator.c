/* generator.c — the GENIE generator's layers, forward and backward, written out per layer (NHWC,
 * 3×3 convolutions with padding 1, nearest ×2 upsampling, train-mode BN with eps 1e-5). */
#include "synth/generator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define BN_EPS 1e-5f
#define LEAK 0.2f

static float *carve(float **at, size_t n) {
  float *p = *at;
  *at += n;
  return p;
}

static void uniform_fill(float *p, size_t n, double bound, zsq_rng *rng) {
  for (size_t i = 0; i < n; i++) p[i] = (float)((2.0 * zsq_rng_uniform(rng) - 1.0) * bound);
}

int zsq_gen_init(zsq_gen *g, int64_t n, int64_t z, int64_t c0, int64_t c1, int64_t c, int64_t h0,
                 int64_t w0, zsq_rng *rng) {
  memset(g, 0, sizeof *g);
  g->n = n, g->z = z, g->c0 = c0, g->c1 = c1, g->c = c, g->h0 = h0, g->w0 = w0;
  const size_t f = (size_t)(h0 * w0 * c0), k1 = (size_t)(9 * c0 * c1), k2 = (size_t)(9 * c1 * c);
  g->n_params = (size_t)z * f + f + 2 * (size_t)c0 + k1 + 3 * (size_t)c1 + k2 + (size_t)c;
  const size_t p0 = (size_t)n * f, p1 = 4 * p0 / (size_t)c0 * (size_t)c1,
               p2 = 4 * p1 / (size_t)c1 * (size_t)c, up1 = 4 * p1;
  size_t big = 4 * p0 > up1 ? 4 * p0 : up1;
  big = big > p2 ? big : p2;
  g->params = zsq_aligned_calloc(g->n_params * sizeof(float));
  g->grads = zsq_aligned_calloc(g->n_params * sizeof(float));
  float *const buf[] = {g->a0 = malloc(p0 * sizeof(float)),
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
  float *const buf[] = {g->a0,   g->x0,       g->u0,       g->a1,      g->x1,        g->r1,
                        g->u1,   g->a2,       g->t2,       g->out,     g->scratch_a, g->scratch_b,
                        g->wt_t, g->bn0.mean, g->bn1.mean, g->bn2.mean};
  for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++) free(buf[i]);
  memset(g, 0, sizeof *g);
}

/* Train-mode BN over rows × c: x̂ = (x − μ)/√(σ² + eps) (biased σ²), y = γ x̂ + β (γ NULL: y = x̂). */
static void bn_forward(zsq_gen_bn *bn, const float *x, int64_t rows, const float *gamma,
                       const float *beta, float *xhat, float *y) {
  const int64_t c = bn->c;
  for (int64_t j = 0; j < c; j++) {
    double s = 0.0, q = 0.0;
    for (int64_t r = 0; r < rows; r++) s += x[r * c + j];
    const double mu = s / (double)rows;
    for (int64_t r = 0; r < rows; r++) q += (x[r * c + j] - mu) * (x[r * c + j] - mu);
    bn->mean[j] = (float)mu;
    bn->invstd[j] = (float)(1.0 / sqrt(q / (double)rows + BN_EPS));
  }
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t j = 0; j < c; j++) {
      const float h = (x[r * c + j] - bn->mean[j]) * bn->invstd[j];
      xhat[r * c + j] = h;
      y[r * c + j] = gamma ? gamma[j] * h + beta[j] : h;
    }
  }
}

/* gx = invstd/M (M ĝ − Σĝ − x̂ Σ ĝ x̂), ĝ = γ gy; accumulates dγ, dβ (when gamma). */
static void bn_backward(const zsq_gen_bn *bn, const float *xhat, const float *gy, int64_t rows,
                        const float *gamma, float *ggamma, float *gbeta, float *gx) {
  const int64_t c = bn->c;
  for (int64_t j = 0; j < c; j++) {
    double sg = 0.0, sgx = 0.0;
    for (int64_t r = 0; r < rows; r++) {
      sg += gy[r * c + j];
      sgx += (double)gy[r * c + j] * xhat[r * c + j];
    }
    if (gamma) ggamma[j] += (float)sgx, gbeta[j] += (float)sg;
    const double gm = gamma ? gamma[j] : 1.0, k = gm * bn->invstd[j] / (double)rows;
    for (int64_t r = 0; r < rows; r++) {
      gx[r * c + j] = (float)(k * ((double)rows * gy[r * c + j] - sg - xhat[r * c + j] * sgx));
    }
  }
}

/* Nearest ×2: out (n × 2h × 2w × c) from in (n × h × w × c), and its adjoint (gin = sums). */
static void upsample(const float *in, float *out, int64_t n, int64_t h, int64_t w, int64_t c) {
  for (int64_t b = 0; b < n * h; b++) {
    for (int64_t x = 0; x < w; x++) {
      const float *src = in + (b * w + x) * c;
      for (int64_t d = 0; d < 4; d++) {
        float *dst = out + (((2 * b + d / 2) * 2 * w) + 2 * x + d % 2) * c;
        memcpy(dst, src, (size_t)c * sizeof(float));
      }
    }
  }
}

static void upsample_adjoint(const float *gout, float *gin, int64_t n, int64_t h, int64_t w,
                             int64_t c) {
  for (int64_t b = 0; b < n * h; b++) {
    for (int64_t x = 0; x < w; x++) {
      float *dst = gin + (b * w + x) * c;
      for (int64_t j = 0; j < c; j++) dst[j] = 0.0f;
      for (int64_t d = 0; d < 4; d++) {
        const float *src = gout + (((2 * b + d / 2) * 2 * w) + 2 * x + d % 2) * c;
        for (int64_t j = 0; j < c; j++) dst[j] += src[j];
      }
    }
  }
}

/* 3×3 convolution, stride 1, zero padding 1, weights [ky][kx][ci][co]. */
static void conv_forward(const float *in, int64_t n, int64_t h, int64_t w, int64_t ci,
                         const float *wt, const float *bias, int64_t co, float *out) {
  for (int64_t b = 0; b < n; b++) {
    for (int64_t y = 0; y < h; y++) {
      for (int64_t x = 0; x < w; x++) {
        float *o = out + ((b * h + y) * w + x) * co;
        for (int64_t j = 0; j < co; j++) o[j] = bias[j];
        for (int64_t k = 0; k < 9; k++) {
          const int64_t yy = y + k / 3 - 1, xx = x + k % 3 - 1;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          const float *ip = in + ((b * h + yy) * w + xx) * ci;
          for (int64_t i = 0; i < ci; i++) {
            const float v = ip[i], *wr = wt + (k * ci + i) * co;
            for (int64_t j = 0; j < co; j++) o[j] += v * wr[j];
          }
        }
      }
    }
  }
}

/* Accumulates dW, db and sets gin (zeroed here); wt_t is scratch for the weights as
 * [ky][kx][co][ci], so that both inner loops run over contiguous channels. */
static void conv_backward(const float *in, const float *gout, int64_t n, int64_t h, int64_t w,
                          int64_t ci, const float *wt, int64_t co, float *gw, float *gb, float *gin,
                          float *wt_t) {
  for (int64_t k = 0; k < 9; k++) {
    for (int64_t i = 0; i < ci; i++) {
      for (int64_t j = 0; j < co; j++) wt_t[(k * co + j) * ci + i] = wt[(k * ci + i) * co + j];
    }
  }
  memset(gin, 0, (size_t)(n * h * w * ci) * sizeof(float));
  for (int64_t b = 0; b < n; b++) {
    for (int64_t y = 0; y < h; y++) {
      for (int64_t x = 0; x < w; x++) {
        const float *go = gout + ((b * h + y) * w + x) * co;
        for (int64_t j = 0; j < co; j++) gb[j] += go[j];
        for (int64_t k = 0; k < 9; k++) {
          const int64_t yy = y + k / 3 - 1, xx = x + k % 3 - 1;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          const int64_t at = ((b * h + yy) * w + xx) * ci;
          for (int64_t i = 0; i < ci; i++) {
            const float v = in[at + i];
            float *gwr = gw + (k * ci + i) * co;
            for (int64_t j = 0; j < co; j++) gwr[j] += v * go[j];
          }
          float *gi = gin + at;
          for (int64_t j = 0; j < co; j++) {
            const float gj = go[j], *wr = wt_t + (k * co + j) * ci;
            for (int64_t i = 0; i < ci; i++) gi[i] += gj * wr[i];
          }
        }
      }
    }
  }
}

void zsq_gen_forward(zsq_gen *g, const float *zs) {
  const int64_t n = g->n, f = g->h0 * g->w0 * g->c0, h1 = 2 * g->h0, w1 = 2 * g->w0;
  for (int64_t b = 0; b < n; b++) {
    float *a = g->a0 + b * f;
    memcpy(a, g->b_lin, (size_t)f * sizeof(float));
    for (int64_t k = 0; k < g->z; k++) {
      const float v = zs[b * g->z + k], *wr = g->w_lin + k * f;
      for (int64_t j = 0; j < f; j++) a[j] += v * wr[j];
    }
  }
  bn_forward(&g->bn0, g->a0, n * g->h0 * g->w0, g->g0, g->be0, g->x0, g->scratch_a);
  upsample(g->scratch_a, g->u0, n, g->h0, g->w0, g->c0);
  conv_forward(g->u0, n, h1, w1, g->c0, g->w1, g->b1, g->c1, g->a1);
  const int64_t p1 = n * h1 * w1 * g->c1, p2 = 4 * n * h1 * w1 * g->c;
  bn_forward(&g->bn1, g->a1, n * h1 * w1, g->g1, g->be1, g->x1, g->r1);
  for (int64_t i = 0; i < p1; i++) g->r1[i] = g->r1[i] > 0 ? g->r1[i] : LEAK * g->r1[i];
  upsample(g->r1, g->u1, n, h1, w1, g->c1);
  conv_forward(g->u1, n, 2 * h1, 2 * w1, g->c1, g->w2, g->b2, g->c, g->a2);
  for (int64_t i = 0; i < p2; i++) g->t2[i] = tanhf(g->a2[i]);
  bn_forward(&g->bn2, g->t2, p2 / g->c, NULL, NULL, g->out, g->out);
}

void zsq_gen_backward(zsq_gen *g, const float *zs, const float *gout, float *gz) {
  const int64_t n = g->n, f = g->h0 * g->w0 * g->c0, h1 = 2 * g->h0, w1 = 2 * g->w0;
  const int64_t p1 = n * h1 * w1 * g->c1, p2 = 4 * n * h1 * w1 * g->c;
  const size_t off1 = (size_t)(g->w1 - g->params), off2 = (size_t)(g->w2 - g->params);
  float *G = g->grads, *sa = g->scratch_a, *sb = g->scratch_b;
  memset(G, 0, g->n_params * sizeof(float));
  bn_backward(&g->bn2, g->out, gout, p2 / g->c, NULL, NULL, NULL, sa);
  for (int64_t i = 0; i < p2; i++) sa[i] *= 1.0f - g->t2[i] * g->t2[i];
  conv_backward(g->u1, sa, n, 2 * h1, 2 * w1, g->c1, g->w2, g->c, G + off2,
                G + off2 + 9 * g->c1 * g->c, sb, g->wt_t);
  upsample_adjoint(sb, sa, n, h1, w1, g->c1);
  for (int64_t i = 0; i < p1; i++) sa[i] *= g->r1[i] > 0 ? 1.0f : LEAK;
  float *gg1 = G + off1 + 9 * g->c0 * g->c1 + g->c1;
  bn_backward(&g->bn1, g->x1, sa, n * h1 * w1, g->g1, gg1, gg1 + g->c1, sb);
  conv_backward(g->u0, sb, n, h1, w1, g->c0, g->w1, g->c1, G + off1, G + off1 + 9 * g->c0 * g->c1,
                sa, g->wt_t);
  upsample_adjoint(sa, sb, n, g->h0, g->w0, g->c0);
  float *gg0 = G + g->z * f + f;
  bn_backward(&g->bn0, g->x0, sb, n * g->h0 * g->w0, g->g0, gg0, gg0 + g->c0, sa);
  for (int64_t b = 0; b < n; b++) { /* Linear: dW = zᵀ ga, db = Σ ga, gz = ga Wᵀ */
    const float *ga = sa + b * f;
    for (int64_t j = 0; j < f; j++) G[g->z * f + j] += ga[j];
    for (int64_t k = 0; k < g->z; k++) {
      const float v = zs[b * g->z + k], *wr = g->w_lin + k * f;
      float *gwr = G + k * f, acc = 0.0f;
      for (int64_t j = 0; j < f; j++) {
        gwr[j] += v * ga[j];
        acc += ga[j] * wr[j];
      }
      gz[b * g->z + k] = acc;
    }
  }
}
