/* sgemm_atb_avx512.c — C += AᵀB with an 8×32 AVX-512 register tile (16 zmm accumulators);
 * edges go to the generic build. Oracle: zsq_sgemm_atb_ref. */
#include <immintrin.h>
#include <stdint.h>

void zsq_sgemm_atb_generic(int64_t M, int64_t N, int64_t K, const float *a, int64_t lda,
                           const float *b, int64_t ldb, float *c, int64_t ldc);

static void tile_8x32(int64_t K, const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
                      int64_t ldc) {
  __m512 acc[8][2];
  for (int i = 0; i < 8; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k++) {
    const float *ak = a + k * lda;
    const __m512 b0 = _mm512_loadu_ps(b + k * ldb), b1 = _mm512_loadu_ps(b + k * ldb + 16);
    for (int i = 0; i < 8; i++) {
      const __m512 av = _mm512_set1_ps(ak[i]);
      acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
    }
  }
  for (int i = 0; i < 8; i++) {
    float *ci = c + i * ldc;
    _mm512_storeu_ps(ci, _mm512_add_ps(_mm512_loadu_ps(ci), acc[i][0]));
    _mm512_storeu_ps(ci + 16, _mm512_add_ps(_mm512_loadu_ps(ci + 16), acc[i][1]));
  }
}

void zsq_sgemm_atb_avx512(int64_t M, int64_t N, int64_t K, const float *a, int64_t lda,
                          const float *b, int64_t ldb, float *c, int64_t ldc) {
  const int64_t M8 = M / 8 * 8, N32 = N / 32 * 32;
  for (int64_t i = 0; i < M8; i += 8) {
    for (int64_t j = 0; j < N32; j += 32)
      tile_8x32(K, a + i, lda, b + j, ldb, c + i * ldc + j, ldc);
  }
  if (N32 < N) zsq_sgemm_atb_generic(M8, N - N32, K, a, lda, b + N32, ldb, c + N32, ldc);
  if (M8 < M) zsq_sgemm_atb_generic(M - M8, N, K, a + M8, lda, b, ldb, c + M8 * ldc, ldc);
}
