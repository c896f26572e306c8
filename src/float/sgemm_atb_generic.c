/* sgemm_atb_generic.c — C += AᵀB for any ISA: k-outer rank-1 updates, contiguous in j. */
#include <stdint.h>

void zsq_sgemm_atb_generic(int64_t M, int64_t N, int64_t K, const float *a, int64_t lda,
                           const float *b, int64_t ldb, float *c, int64_t ldc) {
  for (int64_t k = 0; k < K; k++) {
    const float *ak = a + k * lda, *bk = b + k * ldb;
    for (int64_t i = 0; i < M; i++) {
      const float av = ak[i];
      float *ci = c + i * ldc;
      for (int64_t j = 0; j < N; j++) ci[j] += av * bk[j];
    }
  }
}
