/* neon-4x16c1.h — the 4x16c1 SMLAL-by-lane tile of the NEON kernels (W8 and W4, gemm and igemm,
 * requant and acc). */
/* Codes widen to int16 (u8 activations zero-extended, weights sign-extended) and SMLAL by lane
 * multiplies them into int32 accumulators: |a·w| <= 255·128 fits int16 x int16 -> int32, so the
 * products are exact and no signedness correction is needed. */
#ifndef ZSQ_KERNELS_GEMM_NEON_4X16C1_H
#define ZSQ_KERNELS_GEMM_NEON_4X16C1_H

#include "kernels/gemm/a-rows.h"
#include "kernels/gemm/requant-neon.h"
#include "kernels/unroll.h"

#define ZSQ_NEON_C1_MR 4

/* The 16 weight codes of one k widened to int16: columns 0..7 in *lo, 8..15 in *hi; returns the
 * next k. 8-bit: 16 bytes, SXTL. 4-bit: 8 bytes, columns 0..7 in the low nibbles and 8..15 in the
 * high ones (gemm.h); SXTL gives x = 16·w_hi + (low nibble, 0..15), so SSHR #4 is w_hi and SHL
 * #12 then SSHR #12 sign-extends w_lo. */
static inline __attribute__((always_inline)) const int8_t *zsq_neon_c1_load_w(int wbits,
                                                                              const int8_t *wp,
                                                                              int16x8_t *lo,
                                                                              int16x8_t *hi) {
  if (wbits == 8) {
    const int8x16_t wb = vld1q_s8(wp);
    *lo = vmovl_s8(vget_low_s8(wb));
    *hi = vmovl_high_s8(wb);
    return wp + 16;
  }
  const int16x8_t x = vmovl_s8(vld1_s8(wp));
  *lo = vshrq_n_s16(vshlq_n_s16(x, 12), 12);
  *hi = vshrq_n_s16(x, 4);
  return wp + 8;
}

/* One k: the 16 weight codes at wp against lane L of each row's 8 widened activations va[]. A
 * macro because the lane of SMLAL must be a literal. */
#define ZSQ_NEON_C1_STEP(L)                                               \
  do {                                                                    \
    int16x8_t wl, wh;                                                     \
    wp = zsq_neon_c1_load_w(wbits, wp, &wl, &wh);                         \
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEON_C1_MR; i++) {              \
      acc[i][0] = vmlal_laneq_s16(acc[i][0], vget_low_s16(wl), va[i], L); \
      acc[i][1] = vmlal_high_laneq_s16(acc[i][1], wl, va[i], L);          \
      acc[i][2] = vmlal_laneq_s16(acc[i][2], vget_low_s16(wh), va[i], L); \
      acc[i][3] = vmlal_high_laneq_s16(acc[i][3], wh, va[i], L);          \
    }                                                                     \
  } while (0)

/* acc[i][j] += Σ_{k<kc} ar[i][k] · w[4j + lane][k] over the kc packed weight codes at *wpp (which
 * advances past them). Reads only [0, kc) of each row: the last 1..7 codes go through a
 * zero-filled copy. */
static inline __attribute__((always_inline)) void zsq_neon_c1_krun(int wbits,
                                                                   const uint8_t *const *ar,
                                                                   size_t kc, const int8_t **wpp,
                                                                   int32x4_t acc[][4]) {
  const int8_t *wp = *wpp;
  size_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    int16x8_t va[ZSQ_NEON_C1_MR];
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEON_C1_MR; i++) {
      va[i] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(ar[i] + k)));
    }
    ZSQ_NEON_C1_STEP(0);
    ZSQ_NEON_C1_STEP(1);
    ZSQ_NEON_C1_STEP(2);
    ZSQ_NEON_C1_STEP(3);
    ZSQ_NEON_C1_STEP(4);
    ZSQ_NEON_C1_STEP(5);
    ZSQ_NEON_C1_STEP(6);
    ZSQ_NEON_C1_STEP(7);
  }
  if (k < kc) { /* 1..7 codes left: zero-filled copies, one step per code */
    const size_t r = kc - k;
    int16x8_t va[ZSQ_NEON_C1_MR];
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEON_C1_MR; i++) {
      uint8_t tmp[8] = {0};
      memcpy(tmp, ar[i] + k, r);
      va[i] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(tmp)));
    }
    ZSQ_NEON_C1_STEP(0);
    if (r > 1) ZSQ_NEON_C1_STEP(1);
    if (r > 2) ZSQ_NEON_C1_STEP(2);
    if (r > 3) ZSQ_NEON_C1_STEP(3);
    if (r > 4) ZSQ_NEON_C1_STEP(4);
    if (r > 5) ZSQ_NEON_C1_STEP(5);
    if (r > 6) ZSQ_NEON_C1_STEP(6);
  }
  *wpp = wp;
}

#undef ZSQ_NEON_C1_STEP

/* C[mr][nc] over the rows and taps of src (gemm or igemm; rows >= mr alias row mr-1 and are not
 * stored), 16 columns per block of the packed weights w: requantized codes (p != NULL) or, with p
 * == NULL (a literal: the acc families), int32 rows of the raw Σ a·w. c_stride is in bytes either
 * way. */
static inline __attribute__((always_inline)) void zsq_neon_4x16c1_tile(
    int wbits, size_t mr, size_t nc, size_t kc, const zsq_a_rows *src, const void *w, void *cv,
    size_t c_stride, const zsq_gemm_requant_params *p) {
  uint8_t *c = cv;
  const int8_t *wp = w;
  for (size_t n0 = 0; n0 < nc; n0 += 16) {
    int32x4_t acc[ZSQ_NEON_C1_MR][4];
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEON_C1_MR; i++) {
      acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = vdupq_n_s32(0);
    }
    for (size_t t = 0; t < src->ks; t++) {
      const uint8_t *ar[ZSQ_NEON_C1_MR];
      ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEON_C1_MR; i++) {
        ar[i] = zsq_a_row(src, i < mr ? i : mr - 1, t);
      }
      zsq_neon_c1_krun(wbits, ar, kc, &wp, acc);
    }
    if (p == NULL) {
      ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEON_C1_MR; i++) {
        if (i < mr) {
          int32_t *ci = (int32_t *)(c + i * c_stride) + n0;
          for (size_t j = 0; j < 4 && n0 + 4 * j < nc; j++) {
            zsq_store_s32x4_neon(acc[i][j], nc - n0 - 4 * j, ci + 4 * j);
          }
        }
      }
      continue;
    }
    const float32x4_t qmin = vdupq_n_f32((float)p->qmin), qmax = vdupq_n_f32((float)p->qmax);
    zsq_requant_cols_neon cols[4];
    for (size_t j = 0; j < 4; j++) cols[j] = zsq_requant_cols_neon_load(p, n0 + 4 * j, nc);
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEON_C1_MR; i++) {
      if (i < mr) {
        int32x4_t q[4];
        for (size_t j = 0; j < 4; j++) {
          q[j] = zsq_requant_neon(acc[i][j], &cols[j], p, i, qmin, qmax);
        }
        zsq_store16_neon(q, nc - n0, c + i * c_stride + n0);
      }
    }
  }
}

#endif
