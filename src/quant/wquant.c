/* wquant.c — per-output-channel symmetric weight quantization (the scheme of docs/quantization.md).
 */
#include "quant/wquant.h"

#include <math.h>
#include <stdlib.h>

zsq_wlayout zsq_weight_layout(const zsq_node *n, const zsq_tensor *w) {
  const int64_t total = zsq_tensor_numel(w);
  if (n->op == ZSQ_OP_CONV || n->a.gemm.trans_b)
    return (zsq_wlayout){w->dims[0], total / w->dims[0], total / w->dims[0], 1};
  return (zsq_wlayout){w->dims[1], w->dims[0], 1, w->dims[1]};
}

double zsq_quantize_weight_rows(const float *w, const zsq_wlayout *l, int bits, zsq_range_method m,
                                float *dst, float *scales) {
  float *row = malloc((size_t)l->len * sizeof(float) + 1);
  if (row == NULL) return NAN;
  double sig = 0.0, noise = 0.0;
  const float qmax = (float)((1 << (bits - 1)) - 1), qmin = -(float)(1 << (bits - 1));
  for (int64_t o = 0; o < l->rows; o++) {
    for (int64_t k = 0; k < l->len; k++) row[k] = w[o * l->rstride + k * l->estride];
    const float s = zsq_weight_scale(row, l->len, bits, m), inv = 1.0f / s;
    if (scales) scales[o] = s;
    for (int64_t k = 0; k < l->len; k++) {
      float q = roundf(row[k] * inv);
      q = q < qmin ? qmin : (q > qmax ? qmax : q);
      const float wq = q * s;
      sig += (double)row[k] * row[k];
      noise += ((double)row[k] - wq) * ((double)row[k] - wq);
      dst[o * l->rstride + k * l->estride] = wq;
    }
  }
  free(row);
  return noise > 0 ? 10.0 * log10(sig / noise) : INFINITY;
}
