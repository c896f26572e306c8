/* requant-neon.h — the docs/kernels.md epilogue on 4 int32 lanes and the tile stores (NEON). */
#ifndef ZSQ_KERNELS_GEMM_REQUANT_NEON_H
#define ZSQ_KERNELS_GEMM_REQUANT_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "kernels/gemm.h"

/* Per-column operands of 4 output columns, loaded once per NR block. */
typedef struct zsq_requant_cols_neon {
  int32x4_t bias, zw;
  float32x4_t mult, offset;
} zsq_requant_cols_neon;

/* Columns n0 .. n0+3 of this call; those at or past nc read as zero (never stored). */
static inline zsq_requant_cols_neon zsq_requant_cols_neon_load(const zsq_gemm_requant_params *p,
                                                               size_t n0, size_t nc) {
  zsq_requant_cols_neon c;
  if (n0 + 4 <= nc) {
    c.bias = vld1q_s32(p->bias + n0);
    c.mult = vld1q_f32(p->mult + n0);
    c.offset = vld1q_f32(p->offset + n0);
    c.zw = p->zw != NULL ? vld1q_s32(p->zw + n0) : vdupq_n_s32(0);
    return c;
  }
  int32_t bias[4] = {0}, zw[4] = {0};
  float mult[4] = {0}, offset[4] = {0};
  const size_t left = nc > n0 ? nc - n0 : 0;
  memcpy(bias, p->bias + n0, left * sizeof(int32_t));
  memcpy(mult, p->mult + n0, left * sizeof(float));
  memcpy(offset, p->offset + n0, left * sizeof(float));
  if (p->zw != NULL) memcpy(zw, p->zw + n0, left * sizeof(int32_t));
  c.bias = vld1q_s32(bias);
  c.mult = vld1q_f32(mult);
  c.offset = vld1q_f32(offset);
  c.zw = vld1q_s32(zw);
  return c;
}

/* The output codes (int32 in [qmin, qmax]) of the exact accumulator acc (mod 2^32) of row m:
 * t = acc + bias - zw * rowsum[m] wrapping like the scalar oracle's unsigned arithmetic, then
 * fmaf((float) t, mult, offset) (SCVTF rounds to nearest even, FMLA is fused), clamp in float,
 * floor (FCVTMS: convert rounding toward minus infinity). */
static inline int32x4_t zsq_requant_neon(int32x4_t acc, const zsq_requant_cols_neon *cols,
                                         const zsq_gemm_requant_params *p, size_t m,
                                         float32x4_t qmin, float32x4_t qmax) {
  int32x4_t t = vaddq_s32(acc, cols->bias);
  if (p->zw != NULL) t = vmlsq_s32(t, cols->zw, vdupq_n_s32(p->rowsum[m]));
  float32x4_t v = vfmaq_f32(cols->offset, vcvtq_f32_s32(t), cols->mult);
  v = vmaxq_f32(v, qmin);
  v = vminq_f32(v, qmax);
  return vcvtmq_s32_f32(v);
}

/* Stores the first n (<= 8) of the codes q0 (columns 0..3) and q1 (columns 4..7). */
static inline void zsq_store8_neon(int32x4_t q0, int32x4_t q1, size_t n, uint8_t *c) {
  const uint8x8_t b = vqmovn_u16(vcombine_u16(vqmovun_s32(q0), vqmovun_s32(q1)));
  if (n >= 8) {
    vst1_u8(c, b);
  } else {
    uint8_t tmp[8];
    vst1_u8(tmp, b);
    memcpy(c, tmp, n);
  }
}

/* Stores the first n (<= 16) of the codes q[0] (columns 0..3) .. q[3] (columns 12..15). */
static inline void zsq_store16_neon(const int32x4_t q[4], size_t n, uint8_t *c) {
  const uint8x16_t b = vcombine_u8(vqmovn_u16(vcombine_u16(vqmovun_s32(q[0]), vqmovun_s32(q[1]))),
                                   vqmovn_u16(vcombine_u16(vqmovun_s32(q[2]), vqmovun_s32(q[3]))));
  if (n >= 16) {
    vst1q_u8(c, b);
  } else {
    uint8_t tmp[16];
    vst1q_u8(tmp, b);
    memcpy(c, tmp, n);
  }
}

/* Stores the first n of the 4 int32 lanes of x (the acc families' raw Σ a·w). */
static inline void zsq_store_s32x4_neon(int32x4_t x, size_t n, int32_t *c) {
  if (n >= 4) {
    vst1q_s32(c, x);
  } else {
    int32_t tmp[4];
    vst1q_s32(tmp, x);
    memcpy(c, tmp, n * sizeof(int32_t));
  }
}

#if defined(__ARM_FEATURE_DOTPROD)
/* Σ_{k < kc} a[k], exact in uint32 (255 * 65536 < 2^32); reads only a[0 .. kc). */
static inline uint32_t zsq_rowsum_neondot(const uint8_t *a, size_t kc) {
  const uint8x16_t ones = vdupq_n_u8(1);
  uint32x4_t s = vdupq_n_u32(0);
  size_t k = 0;
  for (; k + 16 <= kc; k += 16) s = vdotq_u32(s, vld1q_u8(a + k), ones);
  uint32_t r = vaddvq_u32(s);
  for (; k < kc; k++) r += a[k];
  return r;
}
#endif

#endif
