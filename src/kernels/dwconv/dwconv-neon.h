/* dwconv-neon.h — the depthwise row skeleton and epilogue of kernels/dwconv.h, 8 channels per
 * step (AArch64 Advanced SIMD). */
#ifndef ZSQ_KERNELS_DWCONV_DWCONV_NEON_H
#define ZSQ_KERNELS_DWCONV_DWCONV_NEON_H

#include <arm_neon.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/dwconv.h"

/* Codes widen to int16 (uxtl) and weights too (sxtl); SMLAL / SMLAL2 accumulate code · weight into
 * two int32x4 (exact). A 9-tap window's weights are widened once per 8-channel tile and stay in
 * registers for the row. Remainder tiles read and write through small buffers. The clamp uses
 * compare + select so that NaN and signed zeros behave as the x86 maxps / minps of the oracle. */

typedef struct zsq_dwconv_cols_neon {
  int32x4_t bias[2];
  float32x4_t mult[2], offset[2], lo, hi;
} zsq_dwconv_cols_neon;

static inline uint8x8_t zsq_dwconv_load8_neon(const void *ptr, size_t n, bool full) {
  if (full) return vld1_u8((const uint8_t *)ptr);
  uint8_t tmp[8] = {0};
  memcpy(tmp, ptr, n);
  return vld1_u8(tmp);
}

static inline float32x4_t zsq_dwconv_requant_neon(int32x4_t acc, const zsq_dwconv_cols_neon *cols,
                                                  int half) {
  const float32x4_t t = vcvtq_f32_s32(vaddq_s32(acc, cols->bias[half]));
  float32x4_t v = vfmaq_f32(cols->offset[half], t, cols->mult[half]);
  v = vbslq_f32(vcgtq_f32(v, cols->lo), v, cols->lo);
  return vbslq_f32(vcltq_f32(v, cols->hi), v, cols->hi);
}

/* Stores the n channels from c0 of pixel x: codes or floats. */
static inline void zsq_dwconv_epilogue_neon(const int32x4_t acc[2],
                                            const zsq_dwconv_cols_neon *cols, void *out, size_t at,
                                            size_t n, bool full, bool f32) {
  const float32x4_t v0 = zsq_dwconv_requant_neon(acc[0], cols, 0);
  const float32x4_t v1 = zsq_dwconv_requant_neon(acc[1], cols, 1);
  if (f32) {
    float tmp[8];
    float *dst = full ? (float *)out + at : tmp;
    vst1q_f32(dst, v0);
    vst1q_f32(dst + 4, v1);
    if (!full) memcpy((float *)out + at, tmp, n * sizeof(float));
  } else {
    const uint8x8_t q =
        vqmovn_u16(vcombine_u16(vqmovun_s32(vcvtmq_s32_f32(v0)), vqmovun_s32(vcvtmq_s32_f32(v1))));
    uint8_t tmp[8];
    vst1_u8(full ? (uint8_t *)out + at : tmp, q);
    if (!full) memcpy((uint8_t *)out + at, tmp, n);
  }
}

/* acc + code(tap k) · weight, the code's 8 channels from c0. */
static inline void zsq_dwconv_mac_neon(int32x4_t acc[2], const uint8_t *in, int16x8_t w, size_t n,
                                       bool full) {
  const int16x8_t a = vreinterpretq_s16_u16(vmovl_u8(zsq_dwconv_load8_neon(in, n, full)));
  acc[0] = vmlal_s16(acc[0], vget_low_s16(a), vget_low_s16(w));
  acc[1] = vmlal_high_s16(acc[1], a, w);
}

static inline __attribute__((always_inline)) void zsq_dwconv_tile_neon(
    size_t channels, size_t c0, size_t n, bool full, size_t width, size_t ks,
    const uint8_t *const *input, const int8_t *weights, void *output, const zsq_dwconv_params *p,
    bool f32) {
  int32_t bias[8] = {0};
  float mult[8] = {0}, offset[8] = {0};
  memcpy(bias, p->bias + c0, n * sizeof(int32_t));
  memcpy(mult, p->mult + c0, n * sizeof(float));
  memcpy(offset, p->offset + c0, n * sizeof(float));
  zsq_dwconv_cols_neon cols;
  for (int h = 0; h < 2; h++) {
    cols.bias[h] = vld1q_s32(bias + 4 * h);
    cols.mult[h] = vld1q_f32(mult + 4 * h);
    cols.offset[h] = vld1q_f32(offset + 4 * h);
  }
  cols.lo = vdupq_n_f32(p->min);
  cols.hi = vdupq_n_f32(p->max);
#define ZSQ_DWCONV_WEIGHT(k) \
  vmovl_s8(vreinterpret_s8_u8(zsq_dwconv_load8_neon(weights + (k)*channels + c0, n, full)))
  const bool hoist = ks <= 9; /* always in the 3x3 kernels */
  int16x8_t wreg[9];
  if (hoist) {
    for (size_t k = 0; k < ks; k++) wreg[k] = ZSQ_DWCONV_WEIGHT(k);
  }
  for (size_t x = 0; x < width; x++) {
    const uint8_t *const *in = input + x * ks;
    int32x4_t acc[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
    for (size_t k = 0; k < ks; k++) {
      zsq_dwconv_mac_neon(acc, in[k] + c0, hoist ? wreg[k] : ZSQ_DWCONV_WEIGHT(k), n, full);
    }
    zsq_dwconv_epilogue_neon(acc, &cols, output, x * channels + c0, n, full, f32);
  }
#undef ZSQ_DWCONV_WEIGHT
}

/* The whole row: full 8-channel tiles, then the remainder. */
static inline __attribute__((always_inline)) void zsq_dwconv_neon(
    size_t channels, size_t width, size_t ks, const uint8_t *const *input, const int8_t *weights,
    void *output, const zsq_dwconv_params *p, bool f32) {
  size_t c0 = 0;
  for (; c0 + 8 <= channels; c0 += 8) {
    zsq_dwconv_tile_neon(channels, c0, 8, true, width, ks, input, weights, output, p, f32);
  }
  if (c0 < channels) {
    zsq_dwconv_tile_neon(channels, c0, channels - c0, false, width, ks, input, weights, output, p,
                         f32);
  }
}

#endif
