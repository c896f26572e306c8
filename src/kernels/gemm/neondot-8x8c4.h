/* neondot-8x8c4.h — the 8x8c4 UDOT-by-lane tile of the dot-product NEON kernels (W8 and W4, gemm
 * and igemm, requant and acc). */
/* UDOT needs operands of one signedness, so the weights are flipped in the register to offset
 * binary: w + 2^(b-1) >= 0, and each UDOT adds Σ a·(w + 2^(b-1)) = Σ a·w + 2^(b-1)·Σ a exactly
 * (mod 2^32; the true value is below 255·255·65536 < 2^32). The excess 2^(b-1)·Σ_k a[m][k] is
 * subtracted after the k loop from one row sum per row, computed once per call (not per NR
 * block), so the inner loop holds no correction. Padded K codes meet zeroed activations. */
#ifndef ZSQ_KERNELS_GEMM_NEONDOT_8X8C4_H
#define ZSQ_KERNELS_GEMM_NEONDOT_8X8C4_H

#include "kernels/gemm/a-rows.h"
#include "kernels/gemm/requant-neon.h"
#include "kernels/unroll.h"

#define ZSQ_NEONDOT_MR 8

/* The offset-binary weights of one k-step, columns 0..3 in *w0 and 4..7 in *w1 (4 codes each);
 * returns the next k-step. 8-bit: two 16-byte blocks, ^ 0x80 gives w + 128 in [0, 255]. 4-bit:
 * one 16-byte block with columns 0..3 in its low nibbles and 4..7 in its high ones (two's
 * complement, gemm.h); ^ 0x88 gives w + 8 in [0, 15] in both nibbles, then AND 0x0F and USHR 4
 * split them. 3-bit codes run unchanged. */
static inline __attribute__((always_inline)) const uint8_t *zsq_neondot_load_w(int wbits,
                                                                               const uint8_t *wp,
                                                                               uint8x16_t *w0,
                                                                               uint8x16_t *w1) {
  if (wbits == 8) {
    const uint8x16_t flip = vdupq_n_u8(0x80);
    *w0 = veorq_u8(vld1q_u8(wp), flip);
    *w1 = veorq_u8(vld1q_u8(wp + 16), flip);
    return wp + sizeof(int8_t[8][4]);
  }
  const uint8x16_t v = veorq_u8(vld1q_u8(wp), vdupq_n_u8(0x88));
  *w0 = vandq_u8(v, vdupq_n_u8(0x0F));
  *w1 = vshrq_n_u8(v, 4);
  return wp + sizeof(uint8_t[4][4]);
}

/* One k-step of 4 codes, lane L of each row's 16 activation bytes va[]. A macro because the lane
 * of UDOT must be a literal. */
#define ZSQ_NEONDOT_STEP(L)                                  \
  do {                                                       \
    uint8x16_t w0, w1;                                       \
    wp = zsq_neondot_load_w(wbits, wp, &w0, &w1);            \
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEONDOT_MR; i++) { \
      acc[i][0] = vdotq_laneq_u32(acc[i][0], w0, va[i], L);  \
      acc[i][1] = vdotq_laneq_u32(acc[i][1], w1, va[i], L);  \
    }                                                        \
  } while (0)

/* acc[i][j] += Σ_{k<kc} ar[i][k] · (w[4j + lane][k] + 2^(b-1)) over the round_up(kc, 4) packed
 * codes at *wpp (which advances past them). Reads only [0, kc) of each row: the last 1..15 codes
 * go through a zero-filled copy. */
static inline __attribute__((always_inline)) void zsq_neondot_krun(int wbits,
                                                                   const uint8_t *const *ar,
                                                                   size_t kc, const uint8_t **wpp,
                                                                   uint32x4_t acc[][2]) {
  const uint8_t *wp = *wpp;
  size_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    uint8x16_t va[ZSQ_NEONDOT_MR];
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEONDOT_MR; i++) va[i] = vld1q_u8(ar[i] + k);
    ZSQ_NEONDOT_STEP(0);
    ZSQ_NEONDOT_STEP(1);
    ZSQ_NEONDOT_STEP(2);
    ZSQ_NEONDOT_STEP(3);
  }
  if (k < kc) { /* 1..15 codes left: zero-filled copies, then 1..4 k-steps */
    const size_t r = kc - k;
    uint8x16_t va[ZSQ_NEONDOT_MR];
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEONDOT_MR; i++) {
      uint8_t tmp[16] = {0};
      memcpy(tmp, ar[i] + k, r);
      va[i] = vld1q_u8(tmp);
    }
    ZSQ_NEONDOT_STEP(0);
    if (r > 4) ZSQ_NEONDOT_STEP(1);
    if (r > 8) ZSQ_NEONDOT_STEP(2);
    if (r > 12) ZSQ_NEONDOT_STEP(3);
  }
  *wpp = wp;
}

#undef ZSQ_NEONDOT_STEP

/* C[mr][nc] over the rows and taps of src (gemm or igemm; rows >= mr alias row mr-1 and are not
 * stored), 8 columns per block of the packed weights w: requantized codes (p != NULL) or, with p
 * == NULL (a literal: the acc families), int32 rows of the raw Σ a·w. c_stride is in bytes either
 * way. */
static inline __attribute__((always_inline)) void zsq_neondot_8x8c4_tile(
    int wbits, size_t mr, size_t nc, size_t kc, const zsq_a_rows *src, const void *w, void *cv,
    size_t c_stride, const zsq_gemm_requant_params *p) {
  uint8_t *c = cv;
  uint32_t excess[ZSQ_NEONDOT_MR] = {0}; /* 2^(b-1) · Σ_t Σ_k a, mod 2^32 */
  for (size_t i = 0; i < mr; i++) {
    for (size_t t = 0; t < src->ks; t++) excess[i] += zsq_rowsum_neondot(zsq_a_row(src, i, t), kc);
    excess[i] <<= wbits == 8 ? 7 : 3;
  }
  const uint8_t *wp = w;
  for (size_t n0 = 0; n0 < nc; n0 += 8) {
    uint32x4_t acc[ZSQ_NEONDOT_MR][2];
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEONDOT_MR; i++) acc[i][0] = acc[i][1] = vdupq_n_u32(0);
    for (size_t t = 0; t < src->ks; t++) {
      const uint8_t *ar[ZSQ_NEONDOT_MR];
      ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEONDOT_MR; i++) {
        ar[i] = zsq_a_row(src, i < mr ? i : mr - 1, t);
      }
      zsq_neondot_krun(wbits, ar, kc, &wp, acc);
    }
    int32x4_t s[ZSQ_NEONDOT_MR][2]; /* Σ a·w */
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEONDOT_MR; i++) {
      const uint32x4_t x = vdupq_n_u32(excess[i]);
      s[i][0] = vreinterpretq_s32_u32(vsubq_u32(acc[i][0], x));
      s[i][1] = vreinterpretq_s32_u32(vsubq_u32(acc[i][1], x));
    }
    if (p == NULL) {
      ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEONDOT_MR; i++) {
        if (i < mr) {
          int32_t *ci = (int32_t *)(c + i * c_stride) + n0;
          zsq_store_s32x4_neon(s[i][0], nc - n0, ci);
          if (nc - n0 > 4) zsq_store_s32x4_neon(s[i][1], nc - n0 - 4, ci + 4);
        }
      }
      continue;
    }
    const float32x4_t qmin = vdupq_n_f32((float)p->qmin), qmax = vdupq_n_f32((float)p->qmax);
    const zsq_requant_cols_neon c0 = zsq_requant_cols_neon_load(p, n0, nc);
    const zsq_requant_cols_neon c1 = zsq_requant_cols_neon_load(p, n0 + 4, nc);
    ZSQ_UNROLL for (size_t i = 0; i < ZSQ_NEONDOT_MR; i++) {
      if (i < mr) {
        zsq_store8_neon(zsq_requant_neon(s[i][0], &c0, p, i, qmin, qmax),
                        zsq_requant_neon(s[i][1], &c1, p, i, qmin, qmax), nc - n0,
                        c + i * c_stride + n0);
      }
    }
  }
}

#endif
