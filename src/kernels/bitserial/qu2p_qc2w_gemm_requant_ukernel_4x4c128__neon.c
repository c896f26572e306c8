/* qu2p_qc2w_gemm_requant_ukernel_4x4c128__neon.c — W2A2 bit-serial GEMM, 4x4 tile, CNT. */
/* K runs along the q register (128 codes of one plane of one row or column). Per byte lane
 * the four plane pairs combine into one int8 before widening, so a step costs 4 AND + 4 CNT +
 * 4 combining ops + 2 pairwise widening adds per row and column; 4 rows x 4 columns keep 16
 * int32x4 accumulators, 8 activation and 2 weight registers within the 32 q registers. */
#include "kernels/bitserial.h"
#include "kernels/gemm/requant-neon.h"
#include "kernels/unroll.h"

#define MR 4
#define NR 4

/* Per byte (8 codes): c00 + 2·(c10 - c01) - 4·c11 in [-48, 24] (bitserial.h), computed with
 * uint8 wrap-around, so reading it back as int8 is exact. */
static inline int8x16_t plane_sum(uint8x16_t a0, uint8x16_t a1, uint8x16_t w0, uint8x16_t w1) {
  const uint8x16_t c00 = vcntq_u8(vandq_u8(a0, w0)), c10 = vcntq_u8(vandq_u8(a1, w0));
  const uint8x16_t c01 = vcntq_u8(vandq_u8(a0, w1)), c11 = vcntq_u8(vandq_u8(a1, w1));
  const uint8x16_t s = vaddq_u8(c00, vshlq_n_u8(vsubq_u8(c10, c01), 1));
  return vreinterpretq_s8_u8(vsubq_u8(s, vshlq_n_u8(c11, 2)));
}

void zsq_qu2p_qc2w_gemm_requant_ukernel_4x4c128__neon(size_t mr, size_t nc, size_t kc,
                                                      const void *a, size_t a_stride, const void *w,
                                                      uint8_t *c, size_t c_stride,
                                                      const zsq_gemm_requant_params *p) {
  const zsq_bitplanes_2b_block *ar[MR]; /* rows >= mr alias row mr - 1 and are not stored */
  for (size_t i = 0; i < MR; i++) {
    ar[i] = (const zsq_bitplanes_2b_block *)((const uint8_t *)a + (i < mr ? i : mr - 1) * a_stride);
  }
  const size_t steps = (kc + 127) / 128;
  const float32x4_t qmin = vdupq_n_f32((float)p->qmin), qmax = vdupq_n_f32((float)p->qmax);
  const zsq_qc2w_block_4x128 *wb = w;
  for (size_t n0 = 0; n0 < nc; n0 += NR, wb += steps) {
    int32x4_t acc[MR][NR];
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = vdupq_n_s32(0);
    }
    for (size_t s = 0; s < steps; s++) {
      uint8x16_t a0[MR], a1[MR];
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
        a0[i] = vreinterpretq_u8_u64(vld1q_u64(ar[i][s].plane[0]));
        a1[i] = vreinterpretq_u8_u64(vld1q_u64(ar[i][s].plane[1]));
      }
      ZSQ_UNROLL for (size_t j = 0; j < NR; j++) {
        const uint8x16_t w0 = vreinterpretq_u8_u64(vld1q_u64(wb[s].plane[0][j]));
        const uint8x16_t w1 = vreinterpretq_u8_u64(vld1q_u64(wb[s].plane[1][j]));
        ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
          acc[i][j] = vpadalq_s16(acc[i][j], vpaddlq_s8(plane_sum(a0[i], a1[i], w0, w1)));
        }
      }
    }
    const zsq_requant_cols_neon cols = zsq_requant_cols_neon_load(p, n0, nc);
    const size_t n = nc - n0 < NR ? nc - n0 : NR;
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      if (i < mr) {
        const int32x4_t sum =
            vpaddq_s32(vpaddq_s32(acc[i][0], acc[i][1]), vpaddq_s32(acc[i][2], acc[i][3]));
        const int32x4_t q = zsq_requant_neon(sum, &cols, p, i, qmin, qmax);
        zsq_store8_neon(q, vdupq_n_s32(0), n, c + i * c_stride + n0);
      }
    }
  }
}
