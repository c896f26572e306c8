/* qs32_requant2_ukernel_x1__scalar.c — the two-stage conv epilogue oracle, one element a step. */
#include "kernels/requant2.h"

void zsq_qs32_requant2_ukernel_x1__scalar(size_t mr, size_t nc, const int32_t *acc,
                                          size_t acc_stride, const void *res, size_t res_stride,
                                          void *out, size_t out_stride,
                                          const zsq_requant2_params *p) {
  for (size_t m = 0; m < mr; m++) {
    const int32_t *am = (const int32_t *)((const uint8_t *)acc + m * acc_stride);
    const void *rm = res != NULL ? (const uint8_t *)res + m * res_stride : NULL;
    uint8_t *om = (uint8_t *)out + m * out_stride;
    for (size_t n = 0; n < nc; n++) {
      /* int32 wrap-around like the SIMD add (unsigned to stay defined in C). */
      const int32_t t = (int32_t)((uint32_t)am[n] + (uint32_t)p->bias[n]);
      const float y = zsq_requant2_y(t, n, rm, p);
      if (p->out_kind == ZSQ_REQUANT2_OUT_F32) {
        ((float *)om)[n] = y;
      } else {
        om[n] = zsq_requant2_code(y, n, p);
      }
    }
  }
}
