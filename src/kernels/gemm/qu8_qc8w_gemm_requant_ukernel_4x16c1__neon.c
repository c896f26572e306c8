/* qu8_qc8w_gemm_requant_ukernel_4x16c1__neon.c — W8 x u8 GEMM, 4x16 tile, no dot product. */
/* Codes widen to int16 (u8 activations zero-extended, s8 weights sign-extended) and SMLAL by
 * lane multiplies them into int32 accumulators: |a·w| <= 255·128 fits int16 x int16 -> int32,
 * so the products are exact and no signedness correction is needed. */
#include "kernels/gemm/requant-neon.h"
#include "kernels/unroll.h"

#define MR 4

/* One k (16 weight codes), lane L of each row's 8 widened activations. */
#define STEP(L)                                                             \
  do {                                                                      \
    const int8x16_t wb = vld1q_s8(wp);                                      \
    const int16x8_t wl = vmovl_s8(vget_low_s8(wb)), wh = vmovl_high_s8(wb); \
    wp += 16;                                                               \
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {                            \
      acc[i][0] = vmlal_laneq_s16(acc[i][0], vget_low_s16(wl), va[i], L);   \
      acc[i][1] = vmlal_high_laneq_s16(acc[i][1], wl, va[i], L);            \
      acc[i][2] = vmlal_laneq_s16(acc[i][2], vget_low_s16(wh), va[i], L);   \
      acc[i][3] = vmlal_high_laneq_s16(acc[i][3], wh, va[i], L);            \
    }                                                                       \
  } while (0)

void zsq_qu8_qc8w_gemm_requant_ukernel_4x16c1__neon(size_t mr, size_t nc, size_t kc,
                                                    const uint8_t *a, size_t a_stride,
                                                    const void *w, uint8_t *c, size_t c_stride,
                                                    const zsq_gemm_requant_params *p) {
  const uint8_t *ar[MR];
  for (size_t i = 0; i < MR; i++) ar[i] = a + (i < mr ? i : mr - 1) * a_stride;
  const float32x4_t qmin = vdupq_n_f32((float)p->qmin), qmax = vdupq_n_f32((float)p->qmax);
  const int8_t *wp = w;
  for (size_t n0 = 0; n0 < nc; n0 += 16) {
    int32x4_t acc[MR][4];
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = vdupq_n_s32(0);
    }
    size_t k = 0;
    for (; k + 8 <= kc; k += 8) {
      int16x8_t va[MR];
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
        va[i] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(ar[i] + k)));
      }
      STEP(0);
      STEP(1);
      STEP(2);
      STEP(3);
      STEP(4);
      STEP(5);
      STEP(6);
      STEP(7);
    }
    if (k < kc) { /* 1..7 codes left: zero-filled copies, one step per code */
      const size_t r = kc - k;
      int16x8_t va[MR];
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
        uint8_t tmp[8] = {0};
        memcpy(tmp, ar[i] + k, r);
        va[i] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(tmp)));
      }
      STEP(0);
      if (r > 1) STEP(1);
      if (r > 2) STEP(2);
      if (r > 3) STEP(3);
      if (r > 4) STEP(4);
      if (r > 5) STEP(5);
      if (r > 6) STEP(6);
    }
    zsq_requant_cols_neon cols[4];
    for (size_t j = 0; j < 4; j++) cols[j] = zsq_requant_cols_neon_load(p, n0 + 4 * j, nc);
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      if (i < mr) {
        int32x4_t q[4];
        for (size_t j = 0; j < 4; j++)
          q[j] = zsq_requant_neon(acc[i][j], &cols[j], p, i, qmin, qmax);
        zsq_store16_neon(q, nc - n0, c + i * c_stride + n0);
      }
    }
  }
}
