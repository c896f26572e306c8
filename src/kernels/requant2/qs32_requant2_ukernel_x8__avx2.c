/* qs32_requant2_ukernel_x8__avx2.c — the two-stage conv epilogue on 8 columns a step (AVX2). */
#include <immintrin.h>
#include <string.h>

#include "kernels/requant2.h"

void zsq_qs32_requant2_ukernel_x8__avx2(size_t mr, size_t nc, const int32_t *acc, size_t acc_stride,
                                        const void *res, size_t res_stride, void *out,
                                        size_t out_stride, const zsq_requant2_params *p) {
  const __m256 act_min = _mm256_set1_ps(p->act_min), act_max = _mm256_set1_ps(p->act_max);
  const __m256 qmin = _mm256_set1_ps((float)p->qmin), qmax = _mm256_set1_ps((float)p->qmax);
  const __m256 res_scale = _mm256_set1_ps(p->res_scale);
  const __m256i res_zp = _mm256_set1_epi32(p->res_zero_point);
  const int codes = p->out_kind == ZSQ_REQUANT2_OUT_U8;
  for (size_t n0 = 0; n0 < nc; n0 += 8) {
    const size_t left = nc - n0 < 8 ? nc - n0 : 8;
    const __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32((int)left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i bias = _mm256_maskload_epi32(p->bias + n0, mask);
    const __m256 mult = _mm256_maskload_ps(p->mult + n0, mask);
    const __m256 offset = _mm256_maskload_ps(p->offset + n0, mask);
    const __m256 qmult = codes ? _mm256_maskload_ps(p->qmult + n0, mask) : _mm256_setzero_ps();
    const __m256 qoffset = codes ? _mm256_maskload_ps(p->qoffset + n0, mask) : _mm256_setzero_ps();
    for (size_t m = 0; m < mr; m++) {
      const int32_t *am = (const int32_t *)((const uint8_t *)acc + m * acc_stride) + n0;
      const __m256i t = _mm256_add_epi32(_mm256_maskload_epi32(am, mask), bias);
      __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), mult, offset);
      if (p->res_kind == ZSQ_REQUANT2_RES_F32) {
        const float *rm = (const float *)((const uint8_t *)res + m * res_stride) + n0;
        y = _mm256_add_ps(y, _mm256_maskload_ps(rm, mask));
      } else if (p->res_kind == ZSQ_REQUANT2_RES_U8) {
        int64_t r8 = 0;
        memcpy(&r8, (const uint8_t *)res + m * res_stride + n0, left);
        const __m256i r = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(r8));
        y = _mm256_fmadd_ps(res_scale, _mm256_cvtepi32_ps(_mm256_sub_epi32(r, res_zp)), y);
      }
      y = _mm256_min_ps(_mm256_max_ps(y, act_min), act_max);
      uint8_t *om = (uint8_t *)out + m * out_stride;
      if (!codes) {
        _mm256_maskstore_ps((float *)om + n0, mask, y);
        continue;
      }
      __m256 v = _mm256_fmadd_ps(y, qmult, qoffset);
      v = _mm256_min_ps(_mm256_max_ps(v, qmin), qmax);
      const __m256i q =
          _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
      const __m128i q16 =
          _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
      const int64_t q8 = _mm_cvtsi128_si64(_mm_packus_epi16(q16, q16));
      memcpy(om + n0, &q8, left);
    }
  }
}
