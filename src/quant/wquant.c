/* wquant.c — per-output-channel weight quantization, symmetric or with zero points (the scheme of
 * docs/quantization.md). */
#include "quant/wquant.h"

#include <math.h>
#include <stdlib.h>

zsq_wlayout zsq_weight_layout(const zsq_node *n, const zsq_tensor *w) {
  const int64_t total = zsq_tensor_numel(w);
  if (n->op == ZSQ_OP_CONV || n->a.gemm.trans_b)
    return (zsq_wlayout){w->dims[0], total / w->dims[0], total / w->dims[0], 1};
  return (zsq_wlayout){w->dims[1], w->dims[0], 1, w->dims[1]};
}

double zsq_quantize_weight_rows(const float *w, const zsq_wlayout *l, int bits, int asym,
                                zsq_range_method m, float *dst, float *scales, float *zeros) {
  float *row = malloc((size_t)l->len * sizeof(float) + 1);
  if (row == NULL) return NAN;
  double sig = 0.0, noise = 0.0;
  for (int64_t o = 0; o < l->rows; o++) {
    for (int64_t k = 0; k < l->len; k++) row[k] = w[o * l->rstride + k * l->estride];
    const zsq_wgrid g = zsq_weight_grid(row, l->len, bits, zsq_weight_asym(asym, bits), m);
    const float inv = 1.0f / g.scale;
    if (scales) scales[o] = g.scale;
    if (zeros) zeros[o] = g.zero;
    for (int64_t k = 0; k < l->len; k++) {
      float q = roundf(row[k] * inv) + g.zero;
      q = q < g.qmin ? g.qmin : (q > g.qmax ? g.qmax : q);
      const float wq = (q - g.zero) * g.scale;
      sig += (double)row[k] * row[k];
      noise += ((double)row[k] - wq) * ((double)row[k] - wq);
      dst[o * l->rstride + k * l->estride] = wq;
    }
  }
  free(row);
  return noise > 0 ? 10.0 * log10(sig / noise) : INFINITY;
}
