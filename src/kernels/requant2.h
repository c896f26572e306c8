/* requant2.h — the two-stage convolution epilogue (src/ops/qconv.h) on int32 accumulator tiles. */
#ifndef ZSQ_KERNELS_REQUANT2_H
#define ZSQ_KERNELS_REQUANT2_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Residual and output kinds; the values equal zsq_qres_kind and zsq_qout_kind of src/ops/qconv.h.
 */
enum { ZSQ_REQUANT2_RES_NONE = 0, ZSQ_REQUANT2_RES_U8 = 1, ZSQ_REQUANT2_RES_F32 = 2 };
enum { ZSQ_REQUANT2_OUT_U8 = 0, ZSQ_REQUANT2_OUT_F32 = 1 };

/* Per element (m, n) of one call, with acc the raw int32 Σ a·w of the gemm_acc family:
 *   t = acc + bias[n]                                         (int32, wraps like SIMD)
 *   y = fmaf((float) t, mult[n], offset[n])
 *   y = y + res_f32[m][n]   or   y = fmaf(res_scale, (float)(res_u8[m][n] − res_zero_point), y)
 *   y = min(max(y, act_min), act_max)          (max(y, lo) = y > lo ? y : lo, as vmaxps)
 *   out_f32 = y,   or   v = fmaf(y, qmult[n], qoffset[n]); v = min(max(v, qmin), qmax);
 *                       out_u8 = (int32) floorf(v)
 * Per-column arrays are indexed from the call's first column; strides are in bytes. */
typedef struct zsq_requant2_params {
  const int32_t *bias;
  const float *mult, *offset;
  float act_min, act_max;
  int res_kind;
  float res_scale;
  int32_t res_zero_point;
  int out_kind;
  const float *qmult, *qoffset; /* ZSQ_REQUANT2_OUT_U8 */
  int32_t qmin, qmax;           /* ZSQ_REQUANT2_OUT_U8: 0 <= qmin <= qmax <= 255 */
} zsq_requant2_params;

typedef void (*zsq_requant2_ukernel_fn)(size_t mr, size_t nc, const int32_t *acc, size_t acc_stride,
                                        const void *res, size_t res_stride, void *out,
                                        size_t out_stride, const zsq_requant2_params *p);

static inline float zsq_requant2_clamp(float v, float lo, float hi) {
  v = v > lo ? v : lo;
  return v < hi ? v : hi;
}

/* Stage 1 of t = acc + bias[n], the residual and the act clamp of element n; res_row is the
 * residual row (or NULL). bias is not read: the reference convolution passes its exact t. */
static inline float zsq_requant2_y(int32_t t, size_t n, const void *res_row,
                                   const zsq_requant2_params *p) {
  float y = fmaf((float)t, p->mult[n], p->offset[n]);
  if (p->res_kind == ZSQ_REQUANT2_RES_F32) {
    y += ((const float *)res_row)[n];
  } else if (p->res_kind == ZSQ_REQUANT2_RES_U8) {
    const int32_t r = ((const uint8_t *)res_row)[n];
    y = fmaf(p->res_scale, (float)(r - p->res_zero_point), y);
  }
  return zsq_requant2_clamp(y, p->act_min, p->act_max);
}

/* Stage 2 of element n: the output code of y. */
static inline uint8_t zsq_requant2_code(float y, size_t n, const zsq_requant2_params *p) {
  const float v = fmaf(y, p->qmult[n], p->qoffset[n]);
  return (uint8_t)(int32_t)floorf(zsq_requant2_clamp(v, (float)p->qmin, (float)p->qmax));
}

void zsq_qs32_requant2_ukernel_x1__scalar(size_t mr, size_t nc, const int32_t *acc,
                                          size_t acc_stride, const void *res, size_t res_stride,
                                          void *out, size_t out_stride,
                                          const zsq_requant2_params *p);
#if defined(__x86_64__) || defined(__i386__)
void zsq_qs32_requant2_ukernel_x8__avx2(size_t mr, size_t nc, const int32_t *acc, size_t acc_stride,
                                        const void *res, size_t res_stride, void *out,
                                        size_t out_stride, const zsq_requant2_params *p);
void zsq_qs32_requant2_ukernel_x16__avx512vnni(size_t mr, size_t nc, const int32_t *acc,
                                               size_t acc_stride, const void *res,
                                               size_t res_stride, void *out, size_t out_stride,
                                               const zsq_requant2_params *p);
#endif
#if defined(__aarch64__)
void zsq_qs32_requant2_ukernel_x8__neon(size_t mr, size_t nc, const int32_t *acc, size_t acc_stride,
                                        const void *res, size_t res_stride, void *out,
                                        size_t out_stride, const zsq_requant2_params *p);
#endif

#ifdef __cplusplus
}
#endif

#endif
