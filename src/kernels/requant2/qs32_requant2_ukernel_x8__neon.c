/* qs32_requant2_ukernel_x8__neon.c — the two-stage conv epilogue on 8 columns a step (NEON). */
/* Bit-exact with _x1__scalar: SCVTF rounds to nearest even like (float), FMLA is fmaf, the clamps
 * are compare + select (FMAX/FMIN would differ on NaN and on -0 against +0), FCVTMS is floorf and
 * the conversion. A column tail runs the same code on zero-filled copies. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/requant2.h"

/* Per-column operands of 8 columns, two vectors each. */
typedef struct cols8 {
  int32x4_t bias[2];
  float32x4_t mult[2], offset[2], qmult[2], qoffset[2];
} cols8;

/* zsq_requant2_clamp on 4 lanes: v > lo ? v : lo, then v < hi ? v : hi. */
static inline float32x4_t clamp4(float32x4_t v, float32x4_t lo, float32x4_t hi) {
  v = vbslq_f32(vcgtq_f32(v, lo), v, lo);
  return vbslq_f32(vcltq_f32(v, hi), v, hi);
}

/* The first left (<= 8) columns from n0 of the per-column arrays, the rest zero. */
static cols8 load_cols(const zsq_requant2_params *p, size_t n0, size_t left) {
  int32_t bias[8] = {0};
  float mult[8] = {0}, offset[8] = {0}, qmult[8] = {0}, qoffset[8] = {0};
  memcpy(bias, p->bias + n0, left * sizeof(int32_t));
  memcpy(mult, p->mult + n0, left * sizeof(float));
  memcpy(offset, p->offset + n0, left * sizeof(float));
  if (p->out_kind == ZSQ_REQUANT2_OUT_U8) {
    memcpy(qmult, p->qmult + n0, left * sizeof(float));
    memcpy(qoffset, p->qoffset + n0, left * sizeof(float));
  }
  cols8 c;
  for (size_t h = 0; h < 2; h++) {
    c.bias[h] = vld1q_s32(bias + 4 * h);
    c.mult[h] = vld1q_f32(mult + 4 * h);
    c.offset[h] = vld1q_f32(offset + 4 * h);
    c.qmult[h] = vld1q_f32(qmult + 4 * h);
    c.qoffset[h] = vld1q_f32(qoffset + 4 * h);
  }
  return c;
}

/* 8 columns of one row: acc, res (NULL without a residual) and out point at its first column. */
static inline void row8(const int32_t *acc, const void *res, void *out, const cols8 *c,
                        const zsq_requant2_params *p) {
  float32x4_t y[2];
  for (size_t h = 0; h < 2; h++) {
    const int32x4_t t = vaddq_s32(vld1q_s32(acc + 4 * h), c->bias[h]);
    y[h] = vfmaq_f32(c->offset[h], vcvtq_f32_s32(t), c->mult[h]);
  }
  if (p->res_kind == ZSQ_REQUANT2_RES_F32) {
    for (size_t h = 0; h < 2; h++) y[h] = vaddq_f32(y[h], vld1q_f32((const float *)res + 4 * h));
  } else if (p->res_kind == ZSQ_REQUANT2_RES_U8) {
    const uint16x8_t r = vmovl_u8(vld1_u8(res));
    const int32x4_t zr = vdupq_n_s32(p->res_zero_point);
    const float32x4_t scale = vdupq_n_f32(p->res_scale);
    const int32x4_t r0 = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(r)));
    const int32x4_t r1 = vreinterpretq_s32_u32(vmovl_high_u16(r));
    y[0] = vfmaq_f32(y[0], scale, vcvtq_f32_s32(vsubq_s32(r0, zr)));
    y[1] = vfmaq_f32(y[1], scale, vcvtq_f32_s32(vsubq_s32(r1, zr)));
  }
  const float32x4_t act_min = vdupq_n_f32(p->act_min), act_max = vdupq_n_f32(p->act_max);
  for (size_t h = 0; h < 2; h++) y[h] = clamp4(y[h], act_min, act_max);
  if (p->out_kind == ZSQ_REQUANT2_OUT_F32) {
    vst1q_f32(out, y[0]);
    vst1q_f32((float *)out + 4, y[1]);
    return;
  }
  const float32x4_t qmin = vdupq_n_f32((float)p->qmin), qmax = vdupq_n_f32((float)p->qmax);
  int32x4_t q[2];
  for (size_t h = 0; h < 2; h++) {
    q[h] = vcvtmq_s32_f32(clamp4(vfmaq_f32(c->qoffset[h], y[h], c->qmult[h]), qmin, qmax));
  }
  vst1_u8(out, vqmovn_u16(vcombine_u16(vqmovun_s32(q[0]), vqmovun_s32(q[1]))));
}

void zsq_qs32_requant2_ukernel_x8__neon(size_t mr, size_t nc, const int32_t *acc, size_t acc_stride,
                                        const void *res, size_t res_stride, void *out,
                                        size_t out_stride, const zsq_requant2_params *p) {
  const size_t rb = p->res_kind == ZSQ_REQUANT2_RES_F32 ? sizeof(float) : 1;
  const size_t ob = p->out_kind == ZSQ_REQUANT2_OUT_F32 ? sizeof(float) : 1;
  const int has_res = p->res_kind != ZSQ_REQUANT2_RES_NONE;
  for (size_t n0 = 0; n0 < nc; n0 += 8) {
    const size_t left = nc - n0 < 8 ? nc - n0 : 8;
    const cols8 c = load_cols(p, n0, left);
    for (size_t m = 0; m < mr; m++) {
      const int32_t *am = (const int32_t *)((const uint8_t *)acc + m * acc_stride) + n0;
      const uint8_t *rm = has_res ? (const uint8_t *)res + m * res_stride + n0 * rb : NULL;
      uint8_t *om = (uint8_t *)out + m * out_stride + n0 * ob;
      if (left == 8) {
        row8(am, rm, om, &c, p);
        continue;
      }
      int32_t at[8] = {0};
      float rt[8] = {0}, ot[8]; /* float-sized scratch, u8 residuals and codes too */
      memcpy(at, am, left * sizeof(int32_t));
      if (has_res) memcpy(rt, rm, left * rb);
      row8(at, has_res ? rt : NULL, ot, &c, p);
      memcpy(om, ot, left * ob);
    }
  }
}
