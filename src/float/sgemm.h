/* sgemm.h — float GEMM kernels the float engine needs beyond XNNPACK (weight gradients). */
#ifndef ZSQ_FLOAT_SGEMM_H
#define ZSQ_FLOAT_SGEMM_H

#include <stdint.h>

/* C[M×N] (row stride ldc) += Aᵀ·B, where A is K×M (row stride lda) and B is K×N (row stride ldb):
 * C[i][j] += Σ_k A[k][i]·B[k][j]. Picks the best build for this CPU once. */
void zsq_sgemm_atb(int64_t M, int64_t N, int64_t K, const float *a, int64_t lda, const float *b,
                   int64_t ldb, float *c, int64_t ldc);

/* The portable reference (the oracle of the fast builds). */
void zsq_sgemm_atb_ref(int64_t M, int64_t N, int64_t K, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float *c, int64_t ldc);

#endif
