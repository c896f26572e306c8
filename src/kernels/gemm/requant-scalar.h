/* requant-scalar.h — the scalar epilogue of docs/kernels.md, shared by the scalar references. */
#ifndef ZSQ_KERNELS_GEMM_REQUANT_SCALAR_H
#define ZSQ_KERNELS_GEMM_REQUANT_SCALAR_H

#include <math.h>

#include "kernels/gemm.h"

/* acc is the exact Σ a·w of row m (of this call) and column n. */
static inline uint8_t zsq_requant_scalar(int32_t acc, size_t m, size_t n,
                                         const zsq_gemm_requant_params *p) {
  /* int32 arithmetic wraps like the SIMD kernels' (unsigned here to stay defined in C). */
  uint32_t t = (uint32_t)acc + (uint32_t)p->bias[n];
  if (p->zw != NULL) t -= (uint32_t)p->zw[n] * (uint32_t)p->rowsum[m];
  float v = fmaf((float)(int32_t)t, p->mult[n], p->offset[n]);
  v = v < (float)p->qmin ? (float)p->qmin : v;
  v = v > (float)p->qmax ? (float)p->qmax : v;
  return (uint8_t)(int32_t)floorf(v);
}

#endif
