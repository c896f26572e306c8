/* wquant.h — per-output-channel quantization (symmetric, or asymmetric with zero points) of one
 * Conv/Gemm weight tensor. */
#ifndef ZSQ_QUANT_WQUANT_H
#define ZSQ_QUANT_WQUANT_H

#include <stdint.h>

#include "graph/graph.h"
#include "quant/quant.h"

/* Element (row r, k) of the logical weights is r·rstride + k·estride; rows = output channels. */
typedef struct zsq_wlayout {
  int64_t rows, len, rstride, estride;
} zsq_wlayout;

/* The layout of the weights w of layer node n (Conv: [cout][cin/g·kh·kw]; Gemm per trans_b). */
zsq_wlayout zsq_weight_layout(const zsq_node *n, const zsq_tensor *w);

/* dst = Ŵ = scale[row]·(clamp(round(W/scale) + zero[row], qmin, qmax) − zero[row]) at `bits` (dst
 * may be w), asymmetric when zsq_weight_asym(asym, bits), else zero = 0; scales and zeros (rows
 * each, or NULL) get the grids. Returns the weight SQNR in dB (INFINITY when exact), or NAN when
 * out of memory. */
double zsq_quantize_weight_rows(const float *w, const zsq_wlayout *l, int bits, int asym,
                                zsq_range_method m, float *dst, float *scales, float *zeros);

#endif
