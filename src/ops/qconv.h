/* qconv.h — integer 2-D convolution operator on NHWC u8 activation codes (dense and depthwise):
 * weight packing at create time, im2col/indirection, pthreadpool tiling, the two-stage epilogue. */
#ifndef ZSQ_OPS_QCONV_H
#define ZSQ_OPS_QCONV_H

#include <pthreadpool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The arithmetic every path must reproduce (the reference semantics, qconv_ref below), per
 * output pixel m and channel n:
 *
 *   acc  = Σ_k (a[m][k] − za) · w[n][k]              exact int32; padding reads za
 *   y    = fmaf((float) acc, mult[n], offset[n])      stage 1: the float conv output
 *   y    = y + res_f32[m][n]                          (ZSQ_QRES_F32)
 *   y    = fmaf(res_scale, (float)(res_u8[m][n] − res_zero_point), y)      (ZSQ_QRES_CODES)
 *   y    = min(max(y, act_min), act_max)              fused ReLU / ReLU6 (±inf: none)
 *   out  = y                                          (ZSQ_QOUT_F32)
 *   v    = fmaf(y, qmult[n], qoffset[n]);  v = min(max(v, qmin), qmax);
 *   code = (int32) floorf(v)                          (ZSQ_QOUT_CODES)
 *
 * max(y, lo) is y > lo ? y : lo (vmaxps order), min(y, hi) is y < hi ? y : hi.
 *
 * With x̂ = sa·(a − za) and Ŵ = sw[n]·w the float simulation computes y = Σ x̂·Ŵ + b, so the
 * caller passes mult[n] = sa·sw[n] and offset[n] = b[n]. For the next layer's grid (s', z') with
 * nearest rounding qmult = 1/s' and qoffset = z' + 0.5; an adaptive border B(t) = a + b·t
 * (docs/kernels.md) gives qmult = (1 − b[n])/s', qoffset = (1 − b[n])·z' + 1 − a[n].
 *
 * A fast path may fold stage 2 into the GEMM ukernel's epilogue (one fmaf with mult·qmult); its
 * codes may then differ from the reference by at most 1 (double rounding), never more, and the
 * operator must fall back to the two-stage form where the act clamp is not implied by the code
 * clamp. Everything else is exact. */

typedef enum zsq_qout_kind { ZSQ_QOUT_CODES = 0, ZSQ_QOUT_F32 = 1 } zsq_qout_kind;
typedef enum zsq_qres_kind {
  ZSQ_QRES_NONE = 0,
  ZSQ_QRES_CODES = 1,
  ZSQ_QRES_F32 = 2
} zsq_qres_kind;

typedef struct zsq_qconv_desc {
  int64_t cin, cout, groups; /* groups == 1 (dense) or groups == cin == cout (depthwise) */
  int64_t kernel[2], stride[2], dilation[2];
  int64_t pads[4];       /* top, left, bottom, right */
  int wbits;             /* 8, 4, 3 or 2: codes in [−2^(wbits−1), 2^(wbits−1) − 1] */
  const int8_t *weights; /* [cout][cin/groups][kh][kw] (ONNX order), one code per int8; packed
                            (copied) at create, not referenced afterwards */
  int abits;             /* input codes are < 2^abits (2..8) */
  int32_t in_zero_point; /* za, in [0, 2^abits) */
  const float *mult;     /* [cout] */
  const float *offset;   /* [cout] */
  float act_min, act_max;
  zsq_qres_kind residual;
  float res_scale; /* ZSQ_QRES_CODES */
  int32_t res_zero_point;
  zsq_qout_kind out;
  const float *qmult, *qoffset; /* [cout], ZSQ_QOUT_CODES */
  int32_t qmin, qmax;           /* ZSQ_QOUT_CODES: 0 <= qmin <= qmax <= 255 */
  const char *isa; /* NULL: the best tier of this host; else "scalar", "avx2", "avx512vnni", ... */
} zsq_qconv_desc;

typedef struct zsq_qconv zsq_qconv;

/* Validates d (shapes, bit widths, zero points, code ranges) and packs the weights: the desc's
 * arrays are copied. ZSQ_ERR_UNSUPPORTED for grouped non-depthwise convolution, a missing ISA. */
zsq_status zsq_qconv_create(const zsq_qconv_desc *d, zsq_qconv **out, zsq_err *err);
void zsq_qconv_destroy(zsq_qconv *op);

/* Output spatial size for an input of h × w (0 when the window does not fit). */
void zsq_qconv_output_size(const zsq_qconv *op, int64_t h, int64_t w, int64_t *oh, int64_t *ow);

/* Scratch bytes run() needs for n images of h × w with up to `threads` threads in the pool
 * (dense: one image's igemm row pointers and a zero row, or at most 32 panels of im2col rows
 * whatever the thread count, 0 for a 1×1 stride-1 unpadded conv; its int32 tiles live on each
 * task's stack). The caller owns the scratch; run() does not allocate. */
size_t zsq_qconv_scratch_size(const zsq_qconv *op, int64_t n, int64_t h, int64_t w, size_t threads);

/* in: n × h × w × cin codes (NHWC, channel contiguous); out: n × oh × ow × cout codes (u8) or
 * floats; residual (when the desc asks for one): n × oh × ow × cout codes or floats. Threads over
 * output tiles with tp (NULL: the calling thread). */
zsq_status zsq_qconv_run(const zsq_qconv *op, int64_t n, int64_t h, int64_t w, const uint8_t *in,
                         const void *residual, void *out, void *scratch, pthreadpool_t tp,
                         zsq_err *err);

/* Name of the ukernel(s) the operator runs, e.g.
 * "zsq_qu8_qc8w_gemm_requant_ukernel_14x32c4__avx512vnni". */
const char *zsq_qconv_kernel_name(const zsq_qconv *op);

/* The reference: direct loops over the semantics above, no packing, no threads (the oracle of
 * the operator tests). Same arguments as create + run. */
zsq_status zsq_qconv_ref(const zsq_qconv_desc *d, int64_t n, int64_t h, int64_t w,
                         const uint8_t *in, const void *residual, void *out, zsq_err *err);

#ifdef __cplusplus
}
#endif
#endif
