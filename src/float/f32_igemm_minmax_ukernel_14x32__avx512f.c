/* f32_igemm_minmax_ukernel_14x32__avx512f.c — the f32 igemm kernel on a 14x32 AVX-512 tile (28
 * accumulators). */
#include "float/sconv_avx512_tile.h"

void zsq_f32_igemm_minmax_ukernel_14x32__avx512f(size_t mr, size_t nc, size_t m,
                                                 const zsq_sconv_src *src, const float *w, float *y,
                                                 size_t y_stride, float lo, float hi) {
  zsq_sconv_avx512_tile(14, 2, mr, nc, m, src, w, y, y_stride, lo, hi);
}
