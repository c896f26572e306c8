/* qs32_requant2_ukernel_x16__avx512vnni.c — the two-stage conv epilogue on 16 columns a step. */
/* AVX-512F only; it lives in the avx512vnni tier beside the GEMM kernels whose tiles it reads. */
#include <immintrin.h>

#include "kernels/requant2.h"

void zsq_qs32_requant2_ukernel_x16__avx512vnni(size_t mr, size_t nc, const int32_t *acc,
                                               size_t acc_stride, const void *res,
                                               size_t res_stride, void *out, size_t out_stride,
                                               const zsq_requant2_params *p) {
  const __m512 act_min = _mm512_set1_ps(p->act_min), act_max = _mm512_set1_ps(p->act_max);
  const __m512 qmin = _mm512_set1_ps((float)p->qmin), qmax = _mm512_set1_ps((float)p->qmax);
  const __m512 res_scale = _mm512_set1_ps(p->res_scale);
  const __m512i res_zp = _mm512_set1_epi32(p->res_zero_point);
  for (size_t n0 = 0; n0 < nc; n0 += 16) {
    const __mmask16 mask = nc - n0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nc - n0)) - 1);
    const __m512i bias = _mm512_maskz_loadu_epi32(mask, p->bias + n0);
    const __m512 mult = _mm512_maskz_loadu_ps(mask, p->mult + n0);
    const __m512 offset = _mm512_maskz_loadu_ps(mask, p->offset + n0);
    const int codes = p->out_kind == ZSQ_REQUANT2_OUT_U8;
    const __m512 qmult = codes ? _mm512_maskz_loadu_ps(mask, p->qmult + n0) : _mm512_setzero_ps();
    const __m512 qoffset =
        codes ? _mm512_maskz_loadu_ps(mask, p->qoffset + n0) : _mm512_setzero_ps();
    for (size_t m = 0; m < mr; m++) {
      const uint8_t *am = (const uint8_t *)acc + m * acc_stride;
      const __m512i t =
          _mm512_add_epi32(_mm512_maskz_loadu_epi32(mask, (const int32_t *)am + n0), bias);
      __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), mult, offset);
      if (p->res_kind == ZSQ_REQUANT2_RES_F32) {
        const float *rm = (const float *)((const uint8_t *)res + m * res_stride);
        y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, rm + n0));
      } else if (p->res_kind == ZSQ_REQUANT2_RES_U8) {
        const uint8_t *rm = (const uint8_t *)res + m * res_stride;
        const __m512i r = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, rm + n0));
        y = _mm512_fmadd_ps(res_scale, _mm512_cvtepi32_ps(_mm512_sub_epi32(r, res_zp)), y);
      }
      y = _mm512_min_ps(_mm512_max_ps(y, act_min), act_max);
      uint8_t *om = (uint8_t *)out + m * out_stride;
      if (!codes) {
        _mm512_mask_storeu_ps((float *)om + n0, mask, y);
        continue;
      }
      __m512 v = _mm512_fmadd_ps(y, qmult, qoffset);
      v = _mm512_min_ps(_mm512_max_ps(v, qmin), qmax);
      const __m512i q = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
      _mm512_mask_cvtepi32_storeu_epi8(om + n0, mask, q);
    }
  }
}
