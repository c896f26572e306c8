/* gemm-neon.h — the aarch64 GEMM ukernels (contract and packed layout: gemm.h). */
#ifndef ZSQ_KERNELS_GEMM_NEON_H
#define ZSQ_KERNELS_GEMM_NEON_H

#include "kernels/gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__aarch64__)
/* Advanced SIMD (every AArch64 core): SMLAL by lane on int16-widened codes. Weights packed
 * with zsq_gemm_pack_qc{8,4}w(n, k, 16, 1, ...). */
void zsq_qu8_qc8w_gemm_requant_ukernel_4x16c1__neon(size_t mr, size_t nc, size_t kc,
                                                    const uint8_t *a, size_t a_stride,
                                                    const void *w, uint8_t *c, size_t c_stride,
                                                    const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_gemm_requant_ukernel_4x16c1__neon(size_t mr, size_t nc, size_t kc,
                                                    const uint8_t *a, size_t a_stride,
                                                    const void *w, uint8_t *c, size_t c_stride,
                                                    const zsq_gemm_requant_params *p);
/* FEAT_DotProd (HWCAP_ASIMDDP) only: UDOT by lane on offset-binary weights. Weights packed with
 * zsq_gemm_pack_qc{8,4}w(n, k, 8, 4, ...). */
void zsq_qu8_qc8w_gemm_requant_ukernel_8x8c4__neondot(size_t mr, size_t nc, size_t kc,
                                                      const uint8_t *a, size_t a_stride,
                                                      const void *w, uint8_t *c, size_t c_stride,
                                                      const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_gemm_requant_ukernel_8x8c4__neondot(size_t mr, size_t nc, size_t kc,
                                                      const uint8_t *a, size_t a_stride,
                                                      const void *w, uint8_t *c, size_t c_stride,
                                                      const zsq_gemm_requant_params *p);
#endif

#ifdef __cplusplus
}
#endif

#endif
