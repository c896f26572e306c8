/* sgemm.c — reference AᵀB and the run-time choice between its builds (cpuinfo, once). */
#include "float/sgemm.h"

#include <cpuinfo.h>
#include <pthread.h>

typedef void (*atb_fn)(int64_t, int64_t, int64_t, const float *, int64_t, const float *, int64_t,
                       float *, int64_t);

void zsq_sgemm_atb_generic(int64_t M, int64_t N, int64_t K, const float *a, int64_t lda,
                           const float *b, int64_t ldb, float *c, int64_t ldc);
#if defined(__x86_64__)
void zsq_sgemm_atb_avx512(int64_t M, int64_t N, int64_t K, const float *a, int64_t lda,
                          const float *b, int64_t ldb, float *c, int64_t ldc);
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atb_fn best = zsq_sgemm_atb_generic;

static void choose(void) {
#if defined(__x86_64__)
  if (cpuinfo_initialize() && cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_fma3())
    best = zsq_sgemm_atb_avx512;
#endif
}

void zsq_sgemm_atb(int64_t M, int64_t N, int64_t K, const float *a, int64_t lda, const float *b,
                   int64_t ldb, float *c, int64_t ldc) {
  pthread_once(&once, choose);
  best(M, N, K, a, lda, b, ldb, c, ldc);
}

void zsq_sgemm_atb_ref(int64_t M, int64_t N, int64_t K, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float *c, int64_t ldc) {
  for (int64_t i = 0; i < M; i++) {
    for (int64_t j = 0; j < N; j++) {
      double s = 0.0;
      for (int64_t k = 0; k < K; k++) s += (double)a[k * lda + i] * b[k * ldb + j];
      c[i * ldc + j] += (float)s;
    }
  }
}
