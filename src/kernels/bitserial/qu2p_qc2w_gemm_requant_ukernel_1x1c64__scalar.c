/* qu2p_qc2w_gemm_requant_ukernel_1x1c64__scalar.c — W2A2 bit-serial oracle, 64 codes a step. */
#include "kernels/bitserial.h"
#include "kernels/gemm/requant-scalar.h"

static int32_t popcount64(uint64_t x) {
  return __builtin_popcountll(x);
}

void zsq_qu2p_qc2w_gemm_requant_ukernel_1x1c64__scalar(size_t mr, size_t nc, size_t kc,
                                                       const void *a, size_t a_stride,
                                                       const void *w, uint8_t *c, size_t c_stride,
                                                       const zsq_gemm_requant_params *p) {
  const size_t words = (kc + 63) / 64;
  const zsq_qc2w_block_1x64 *wb = w;
  for (size_t m = 0; m < mr; m++) {
    const zsq_bitplanes_2b_block *am =
        (const zsq_bitplanes_2b_block *)((const uint8_t *)a + m * a_stride);
    for (size_t n = 0; n < nc; n++) {
      int32_t acc = 0; /* P_00 + 2·P_10 - 2·P_01 - 4·P_11, see bitserial.h */
      for (size_t kw = 0; kw < words; kw++) {
        const uint64_t a0 = am[kw / 2].plane[0][kw % 2], a1 = am[kw / 2].plane[1][kw % 2];
        const uint64_t w0 = wb[n * words + kw].plane[0][0], w1 = wb[n * words + kw].plane[1][0];
        acc += popcount64(a0 & w0) + 2 * popcount64(a1 & w0) - 2 * popcount64(a0 & w1) -
               4 * popcount64(a1 & w1);
      }
      c[m * c_stride + n] = zsq_requant_scalar(acc, m, n, p);
    }
  }
}
