/* adaround.c — AdaRound's rounding variables (ptq.md §3.1: rectified sigmoid h(V), ζ = 1.1,
 * γ = −0.1, regulariser Σ 1 − |2h − 1|^β with β annealed 20 → 2 after 20 %) on GENIE-M's
 * integer base floor(W/s0) (ptq.md §5), shifted by the row's zero point when asymmetric. */
#include "quant/adaround.h"

#include <math.h>

#define ZETA 1.1f
#define GAMMA (-0.1f)
#define REG_WEIGHT 0.01f
#define WARMUP 0.2f

static float rect_sigmoid(float v) {
  const float h = (1.0f / (1.0f + expf(-v))) * (ZETA - GAMMA) + GAMMA;
  return h < 0 ? 0 : (h > 1 ? 1 : h);
}

static float row_zero(const zsq_qlayer *l, int64_t o) {
  return l->wzero ? l->wzero[o] : 0.0f;
}

void zsq_round_init(zsq_round_vars *j) {
  const zsq_qlayer *l = j->l;
  const int64_t len = j->numel / l->wrows;
  for (int64_t o = 0; o < l->wrows; o++) {
    j->s[o] = l->wscale[o];
    for (int64_t k = 0; k < len; k++) {
      const int64_t i = o * l->row_stride + k * l->elem_stride;
      const float r = j->w[i] / l->wscale[o], frac = r - floorf(r);
      j->v[i] = -logf((ZETA - GAMMA) / (frac - GAMMA) - 1.0f);
    }
  }
}

void zsq_round_weights(const zsq_round_vars *j, int hard, float *wq) {
  const zsq_qlayer *l = j->l;
  const int64_t len = j->numel / l->wrows;
  for (int64_t o = 0; o < l->wrows; o++) {
    const float z = row_zero(l, o);
    for (int64_t k = 0; k < len; k++) {
      const int64_t i = o * l->row_stride + k * l->elem_stride;
      const float h = hard ? (j->v[i] >= 0 ? 1.0f : 0.0f) : rect_sigmoid(j->v[i]);
      float q = floorf(j->w[i] / l->wscale[o]) + h + z;
      q = q < j->qmin ? j->qmin : (q > j->qmax ? j->qmax : q);
      wq[i] = (q - z) * j->s[o];
    }
  }
}

void zsq_round_grad(const zsq_round_vars *j, const float *gw, float beta, float reg, float *gv,
                    float *gs) {
  const zsq_qlayer *l = j->l;
  const int64_t len = j->numel / l->wrows;
  for (int64_t o = 0; o < l->wrows; o++) {
    const float s = j->s[o], z = row_zero(l, o);
    double row = 0.0;
    for (int64_t k = 0; k < len; k++) {
      const int64_t i = o * l->row_stride + k * l->elem_stride;
      const float sg = 1.0f / (1.0f + expf(-j->v[i])), raw = sg * (ZETA - GAMMA) + GAMMA;
      const float base = floorf(j->w[i] / l->wscale[o]);
      float dh = (raw > 0 && raw < 1) ? sg * (1 - sg) * (ZETA - GAMMA) : 0.0f;
      const float h = raw < 0 ? 0 : (raw > 1 ? 1 : raw), q = base + h + z;
      const float qc = q < j->qmin ? j->qmin : (q > j->qmax ? j->qmax : q);
      float g = qc == q ? gw[i] * s : 0.0f;
      row += (double)gw[i] * (qc - z);
      if (reg > 0) {
        const float t = 2 * h - 1, a = fabsf(t);
        g += reg * -beta * powf(a, beta - 1) * (t >= 0 ? 1.0f : -1.0f) * 2.0f;
      }
      gv[i] = g * dh;
    }
    if (gs) gs[o] = (float)row;
  }
}

void zsq_round_schedule(int it, int iters, float *beta, float *reg) {
  const float warm = WARMUP * (float)iters;
  *beta = it < warm ? 20.0f : 20.0f - 18.0f * (it - warm) / (iters - warm);
  *reg = it < warm ? 0.0f : REG_WEIGHT;
}
