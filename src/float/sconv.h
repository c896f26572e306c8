/* sconv.h — dense f32 convolution (groups 1, NHWC) as an indirect GEMM: weights packed once into
 * column blocks, one offset table per geometry, a microkernel per ISA chosen once from cpuinfo. */
#ifndef ZSQ_FLOAT_SCONV_H
#define ZSQ_FLOAT_SCONV_H

#include <pthreadpool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "float/layout.h"

/* Where a tile's A rows come from. Output row m (batch included) is pixel p = m % pixels of image
 * b = m / pixels; its tap t < ks reads cin floats at x + b·image_stride + ind[p·ks + t], or the
 * zero row (cin zeros) where that offset is negative (the tap lies in the padding). */
typedef struct zsq_sconv_src {
  const float *x;
  const int32_t *ind;
  const float *zero;
  size_t cin, ks, pixels, image_stride;
} zsq_sconv_src;

/* Output rows [m, m + mr) (1 <= mr <= the kernel's MR) and columns [0, nc) from the packed blocks
 * at w (zsq_sconv_pack with the kernel's NR). Every output is
 *   v = bias;  for t < ks, c < cin:  v = fma(a[t][c], w[t][c], v);  y = min(max(v, lo), hi)
 * in exactly that order (so every build gives the same bits; max/min as the x86 instructions: a
 * NaN v becomes lo). y points at row m, column 0; y_stride is in floats. */
typedef void (*zsq_sconv_ukernel_fn)(size_t mr, size_t nc, size_t m, const zsq_sconv_src *src,
                                     const float *w, float *y, size_t y_stride, float lo, float hi);

typedef struct zsq_sconv_config {
  const char *name;
  size_t mr, nr;
  zsq_sconv_ukernel_fn ukernel;
} zsq_sconv_config;

void zsq_f32_igemm_minmax_ukernel_1x16__scalar(size_t mr, size_t nc, size_t m,
                                               const zsq_sconv_src *src, const float *w, float *y,
                                               size_t y_stride, float lo, float hi);
#if defined(__x86_64__)
void zsq_f32_igemm_minmax_ukernel_14x32__avx512f(size_t mr, size_t nc, size_t m,
                                                 const zsq_sconv_src *src, const float *w, float *y,
                                                 size_t y_stride, float lo, float hi);
#endif

/* The scalar reference (runs anywhere; the oracle). */
const zsq_sconv_config *zsq_sconv_config_scalar(void);
/* The fast build for this host (AVX-512F), or NULL where there is none: callers keep XNNPACK. */
const zsq_sconv_config *zsq_sconv_config_best(void);

/* Packing (sconv_pack.c). Block j holds columns [j·nr, j·nr + nr): nr biases, then for each tap
 * t and channel c the nr weights w[n][t][c]; columns >= cout are zero. */
size_t zsq_sconv_packed_floats(size_t cout, size_t ks, size_t cin, size_t nr);
/* w: [cout][ks][cin] (OHWI with ks = kh·kw); bias: [cout] or NULL (zeros). */
void zsq_sconv_pack(size_t cout, size_t ks, size_t cin, size_t nr, const float *w,
                    const float *bias, float *packed);
/* One image's offset table: ind[p·ks + t] for output pixel p = oy·out_w + ox and tap
 * t = ky·kw + kx is (iy·in_w + ix)·cin, or -1 in the padding. */
void zsq_sconv_offsets(const zsq_geom *g, size_t cin, int32_t *ind);

/* The operator (sconv.c). */
typedef struct zsq_sconv zsq_sconv;

/* w: OHWI [cout][kh][kw][cin]; bias [cout] or NULL; outputs clamped to [lo, hi]. cfg NULL: the
 * best for this host (ZSQ_ERR_UNSUPPORTED where there is none). Negative pads crop the input. */
zsq_status zsq_sconv_create(const zsq_geom *g, size_t cin, size_t cout, const float *w,
                            const float *bias, float lo, float hi, const zsq_sconv_config *cfg,
                            zsq_sconv **out, zsq_err *err);
void zsq_sconv_destroy(zsq_sconv *op);
/* y [batch][out_h][out_w][cout] from x [batch][in_h][in_w][cin]; the bits do not depend on tp's
 * thread count (each output is one kernel's fixed-order sum). */
void zsq_sconv_run(const zsq_sconv *op, size_t batch, const float *x, float *y, pthreadpool_t tp);
const char *zsq_sconv_name(const zsq_sconv *op);

#endif
