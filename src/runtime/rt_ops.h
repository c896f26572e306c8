/* rt_ops.h — the runtime's steps besides convolution, on NHWC values held as codes or floats. */
#ifndef ZSQ_RUNTIME_RT_OPS_H
#define ZSQ_RUNTIME_RT_OPS_H

#include <stddef.h>
#include <stdint.h>

typedef enum rt_kind { RT_UNSET = 0, RT_F32 = 1, RT_CODES = 2 } rt_kind;

/* One runtime value: logical NCHW (rank 4) or [N, C] (rank 2, h = w = 1), stored NHWC. */
typedef struct rt_val {
  rt_kind kind;
  int rank;
  int64_t n, h, w, c;
  float scale; /* codes: x̂ = scale · (q − zp) */
  int32_t zp;
  int bits;
  void *data;
} rt_val;

static inline int64_t rt_numel(const rt_val *v) {
  return v->n * v->h * v->w * v->c;
}

/* Element i of v as a float (codes dequantized exactly as the simulation's FakeQuant does). */
static inline float rt_get(const rt_val *v, int64_t i) {
  if (v->kind == RT_CODES) return ((float)((const uint8_t *)v->data)[i] - (float)v->zp) * v->scale;
  return ((const float *)v->data)[i];
}

/* The activation grid of a FakeQuant node; qmult/qoffset (per channel) only with borders. */
typedef struct rt_grid {
  float inv_scale, zero_point, qmin, qmax;
  const float *qmult, *qoffset; /* NULL: nearest rounding */
} rt_grid;

/* The steps below that take [begin, end) compute that range of their work items (named in each
 * comment), so that the runtime can split them across threads; every item is independent. */

/* y (codes) = the codes of x on grid q, computed as the simulation computes them. Items:
 * elements. */
void rt_quantize(const rt_val *x, rt_val *y, const rt_grid *q, int64_t begin, int64_t end);
/* y (float) = clamp(a + b, lo, hi); a and b of the same shape. Items: elements. */
void rt_add(const rt_val *a, const rt_val *b, rt_val *y, float lo, float hi, int64_t begin,
            int64_t end);
/* y (float) = clamp(x, lo, hi). Items: elements. */
void rt_clamp(const rt_val *x, rt_val *y, float lo, float hi, int64_t begin, int64_t end);
/* y (float, h = w = 1) = the mean of x over its pixels. Items: (image, channel) pairs. */
void rt_global_avgpool(const rt_val *x, rt_val *y, int64_t begin, int64_t end);
/* y = the maximum of x over each window (g resolved by zsq_window_resolve), same kind and grid:
 * the dequantized maximum is the maximum's code (scale > 0). Padding never wins; an all-padding
 * window gives −inf (floats) or code 0. Items: output rows (image · out_h + y). */
struct zsq_geom;
void rt_maxpool(const rt_val *x, rt_val *y, const struct zsq_geom *g, int64_t begin, int64_t end);
/* y = x in NCHW element order (Flatten of a rank-4 tensor), same kind and grid. */
void rt_to_nchw(const rt_val *x, rt_val *y);
/* y (float) = softmax of x over its channels. */
void rt_softmax(const rt_val *x, rt_val *y);
/* out (float, NCHW order) = x; the graph output. */
void rt_write_output(const rt_val *x, float *out);

#endif
