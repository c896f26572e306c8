/* qu8_qc4w_gemm_requant_ukernel_8x8c4__neondot.c — W4 x u8 GEMM, 8x8 tile, UDOT by lane. */
/* One 16-byte k-step block holds columns 0..3 in its low nibbles and 4..7 in its high ones
 * (two's complement, gemm.h). Flipping both nibbles (^ 0x88) turns each code into offset
 * binary w + 8 in [0, 15]; AND 0x0F and USHR 4 then give the two column groups as u8, and each
 * UDOT adds Σ a·(w + 8) = Σ a·w + 8·Σ a exactly. The excess 8·Σ_k a[m][k] is subtracted in the
 * epilogue from one row sum per row, computed once per call. 3-bit codes run unchanged. */
#include "kernels/gemm/requant-neon.h"
#include "kernels/unroll.h"

#define MR 8

/* One k-step of 4 codes, lane L of each row's 16 activation bytes. */
#define STEP(L)                                             \
  do {                                                      \
    const uint8x16_t v = veorq_u8(vld1q_u8(wp), flip);      \
    const uint8x16_t w0 = vandq_u8(v, low4);                \
    const uint8x16_t w1 = vshrq_n_u8(v, 4);                 \
    wp += sizeof(uint8_t[4][4]);                            \
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {            \
      acc[i][0] = vdotq_laneq_u32(acc[i][0], w0, va[i], L); \
      acc[i][1] = vdotq_laneq_u32(acc[i][1], w1, va[i], L); \
    }                                                       \
  } while (0)

void zsq_qu8_qc4w_gemm_requant_ukernel_8x8c4__neondot(size_t mr, size_t nc, size_t kc,
                                                      const uint8_t *a, size_t a_stride,
                                                      const void *w, uint8_t *c, size_t c_stride,
                                                      const zsq_gemm_requant_params *p) {
  const uint8_t *ar[MR];
  uint32_t excess[MR]; /* 8 * rowsum */
  for (size_t i = 0; i < MR; i++) {
    ar[i] = a + (i < mr ? i : mr - 1) * a_stride;
    excess[i] = i < mr ? zsq_rowsum_neondot(ar[i], kc) << 3 : 0;
  }
  const uint8x16_t flip = vdupq_n_u8(0x88), low4 = vdupq_n_u8(0x0F);
  const float32x4_t qmin = vdupq_n_f32((float)p->qmin), qmax = vdupq_n_f32((float)p->qmax);
  const uint8_t *wp = w;
  for (size_t n0 = 0; n0 < nc; n0 += 8) {
    uint32x4_t acc[MR][2];
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) acc[i][0] = acc[i][1] = vdupq_n_u32(0);
    size_t k = 0;
    for (; k + 16 <= kc; k += 16) {
      uint8x16_t va[MR];
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) va[i] = vld1q_u8(ar[i] + k);
      STEP(0);
      STEP(1);
      STEP(2);
      STEP(3);
    }
    if (k < kc) { /* 1..15 codes left: zero-filled copies, then 1..4 k-steps */
      const size_t r = kc - k;
      uint8x16_t va[MR];
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
        uint8_t tmp[16] = {0};
        memcpy(tmp, ar[i] + k, r);
        va[i] = vld1q_u8(tmp);
      }
      STEP(0);
      if (r > 4) STEP(1);
      if (r > 8) STEP(2);
      if (r > 12) STEP(3);
    }
    const zsq_requant_cols_neon c0 = zsq_requant_cols_neon_load(p, n0, nc);
    const zsq_requant_cols_neon c1 = zsq_requant_cols_neon_load(p, n0 + 4, nc);
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      if (i < mr) {
        const uint32x4_t x = vdupq_n_u32(excess[i]);
        const int32x4_t t0 = vreinterpretq_s32_u32(vsubq_u32(acc[i][0], x));
        const int32x4_t t1 = vreinterpretq_s32_u32(vsubq_u32(acc[i][1], x));
        zsq_store8_neon(zsq_requant_neon(t0, &c0, p, i, qmin, qmax),
                        zsq_requant_neon(t1, &c1, p, i, qmin, qmax), nc - n0,
                        c + i * c_stride + n0);
      }
    }
  }
}
