/* chstats.c — blocked per-channel statistics (see chstats.h). */
#include "float/chstats.h"

#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "float/parallel.h"

int zsq_chstats_init(zsq_chstats *s, int64_t rows, int64_t c) {
  s->rows = rows;
  s->c = c;
  s->blocks = (rows + ZSQ_CHSTATS_BLOCK - 1) / ZSQ_CHSTATS_BLOCK;
  const size_t n = (size_t)((s->blocks > 0 ? s->blocks : 1) * c);
  s->sum = zsq_aligned_alloc(n * sizeof(float));
  s->m2 = zsq_aligned_alloc(n * sizeof(float));
  return s->sum != NULL && s->m2 != NULL;
}

void zsq_chstats_free(zsq_chstats *s) {
  zsq_aligned_free(s->sum);
  zsq_aligned_free(s->m2);
  s->sum = s->m2 = NULL;
}

void zsq_chstats_blocks(zsq_chstats *s, const float *x, int64_t b0, int64_t b1) {
  const int64_t c = s->c;
  for (int64_t blk = b0; blk < b1; blk++) {
    const int64_t r0 = blk * ZSQ_CHSTATS_BLOCK;
    const int64_t r1 = r0 + ZSQ_CHSTATS_BLOCK < s->rows ? r0 + ZSQ_CHSTATS_BLOCK : s->rows;
    const float inv = 1.0f / (float)(r1 - r0);
    float *restrict sum = s->sum + blk * c, *restrict m2 = s->m2 + blk * c;
    for (int64_t i = 0; i < c; i++) sum[i] = m2[i] = 0.0f;
    for (int64_t r = r0; r < r1; r++) {
      const float *restrict xr = x + r * c;
      for (int64_t i = 0; i < c; i++) sum[i] += xr[i];
    }
    for (int64_t r = r0; r < r1; r++) {
      const float *restrict xr = x + r * c;
      for (int64_t i = 0; i < c; i++) {
        const float d = xr[i] - sum[i] * inv;
        m2[i] += d * d;
      }
    }
  }
}

typedef struct blocks_ctx {
  zsq_chstats *s;
  const float *x;
} blocks_ctx;

static void blocks_range(void *ctx, size_t begin, size_t end) {
  const blocks_ctx *t = ctx;
  zsq_chstats_blocks(t->s, t->x, (int64_t)begin, (int64_t)end);
}

void zsq_chstats_compute(zsq_chstats *s, const float *x, pthreadpool_t tp) {
  blocks_ctx t = {s, x};
  zsq_parallel_for(tp, (size_t)s->blocks, 8, blocks_range, &t);
}

void zsq_chstats_result(const zsq_chstats *s, double *mean, double *std) {
  const int64_t c = s->c, rows = s->rows;
  for (int64_t i = 0; i < c; i++) mean[i] = std[i] = 0.0;
  for (int64_t blk = 0; blk < s->blocks; blk++) {
    for (int64_t i = 0; i < c; i++) mean[i] += s->sum[blk * c + i];
  }
  for (int64_t i = 0; i < c; i++) mean[i] /= (double)rows;
  for (int64_t blk = 0; blk < s->blocks; blk++) {
    const int64_t n = blk + 1 < s->blocks ? ZSQ_CHSTATS_BLOCK : rows - blk * ZSQ_CHSTATS_BLOCK;
    for (int64_t i = 0; i < c; i++) {
      const double d = (double)s->sum[blk * c + i] / (double)n - mean[i];
      std[i] += (double)s->m2[blk * c + i] + (double)n * d * d;
    }
  }
  for (int64_t i = 0; i < c; i++) std[i] = sqrt(std[i] / (double)rows);
}
