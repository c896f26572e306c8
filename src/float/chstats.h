/* chstats.h — per-channel mean and std of a rows × c tensor from fixed blocks of rows, so that a
 * pass that already reads the tensor (BatchNorm forward) can record them on the way. */
#ifndef ZSQ_FLOAT_CHSTATS_H
#define ZSQ_FLOAT_CHSTATS_H

#include <pthreadpool.h>
#include <stdint.h>

/* Rows per block: a block of rows stays in L1 between its two passes. */
#define ZSQ_CHSTATS_BLOCK 64

/* Per block of rows: the float sum and the sum of squares about the block's own mean; blocks
 * combine in double, in block order (Chan et al.): accurate, and the same bytes for any split of
 * the blocks across threads. */
typedef struct zsq_chstats {
  int64_t rows, c, blocks;
  float *sum, *m2; /* [blocks][c] */
} zsq_chstats;

/* Returns 0 on allocation failure (zsq_chstats_free is safe either way). */
int zsq_chstats_init(zsq_chstats *s, int64_t rows, int64_t c);
void zsq_chstats_free(zsq_chstats *s);
/* Records blocks [b0, b1) of x (the whole rows × c tensor). */
void zsq_chstats_blocks(zsq_chstats *s, const float *x, int64_t b0, int64_t b1);
/* Records every block, split across tp (may be NULL). */
void zsq_chstats_compute(zsq_chstats *s, const float *x, pthreadpool_t tp);
/* Mean and biased std per channel from the recorded blocks. */
void zsq_chstats_result(const zsq_chstats *s, double *mean, double *std);

#endif
