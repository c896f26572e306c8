/* f32_igemm_minmax_ukernel_8x16__avx512f.c — the f32 igemm kernel on an 8x16 AVX-512 tile (8
 * accumulators, the FMA latency times the two FMA pipes) for cout <= 16. */
#include "float/sconv_avx512_tile.h"

void zsq_f32_igemm_minmax_ukernel_8x16__avx512f(size_t mr, size_t nc, size_t m,
                                                const zsq_sconv_src *src, const float *w, float *y,
                                                size_t y_stride, float lo, float hi) {
  zsq_sconv_avx512_tile(8, 1, mr, nc, m, src, w, y, y_stride, lo, hi);
}
