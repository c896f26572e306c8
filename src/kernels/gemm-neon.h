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
/* The gemm_acc and igemm twins of the 4x16c1 tile (neon-4x16c1.h), on the same packing. */
void zsq_qu8_qc8w_gemm_acc_ukernel_4x16c1__neon(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                                size_t a_stride, const void *w, int32_t *c,
                                                size_t c_stride);
void zsq_qu8_qc8w_igemm_requant_ukernel_4x16c1__neon(size_t mr, size_t nc, size_t kc, size_t ks,
                                                     const uint8_t *const *a, size_t a_offset,
                                                     const uint8_t *zero, const void *w, uint8_t *c,
                                                     size_t c_stride,
                                                     const zsq_gemm_requant_params *p);
void zsq_qu8_qc8w_igemm_acc_ukernel_4x16c1__neon(size_t mr, size_t nc, size_t kc, size_t ks,
                                                 const uint8_t *const *a, size_t a_offset,
                                                 const uint8_t *zero, const void *w, int32_t *c,
                                                 size_t c_stride);
void zsq_qu8_qc4w_gemm_acc_ukernel_4x16c1__neon(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                                size_t a_stride, const void *w, int32_t *c,
                                                size_t c_stride);
void zsq_qu8_qc4w_igemm_requant_ukernel_4x16c1__neon(size_t mr, size_t nc, size_t kc, size_t ks,
                                                     const uint8_t *const *a, size_t a_offset,
                                                     const uint8_t *zero, const void *w, uint8_t *c,
                                                     size_t c_stride,
                                                     const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_igemm_acc_ukernel_4x16c1__neon(size_t mr, size_t nc, size_t kc, size_t ks,
                                                 const uint8_t *const *a, size_t a_offset,
                                                 const uint8_t *zero, const void *w, int32_t *c,
                                                 size_t c_stride);
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
/* The gemm_acc and igemm twins of the 8x8c4 tile (neondot-8x8c4.h), on the same packing. */
void zsq_qu8_qc8w_gemm_acc_ukernel_8x8c4__neondot(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                                  size_t a_stride, const void *w, int32_t *c,
                                                  size_t c_stride);
void zsq_qu8_qc8w_igemm_requant_ukernel_8x8c4__neondot(size_t mr, size_t nc, size_t kc, size_t ks,
                                                       const uint8_t *const *a, size_t a_offset,
                                                       const uint8_t *zero, const void *w,
                                                       uint8_t *c, size_t c_stride,
                                                       const zsq_gemm_requant_params *p);
void zsq_qu8_qc8w_igemm_acc_ukernel_8x8c4__neondot(size_t mr, size_t nc, size_t kc, size_t ks,
                                                   const uint8_t *const *a, size_t a_offset,
                                                   const uint8_t *zero, const void *w, int32_t *c,
                                                   size_t c_stride);
void zsq_qu8_qc4w_gemm_acc_ukernel_8x8c4__neondot(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                                  size_t a_stride, const void *w, int32_t *c,
                                                  size_t c_stride);
void zsq_qu8_qc4w_igemm_requant_ukernel_8x8c4__neondot(size_t mr, size_t nc, size_t kc, size_t ks,
                                                       const uint8_t *const *a, size_t a_offset,
                                                       const uint8_t *zero, const void *w,
                                                       uint8_t *c, size_t c_stride,
                                                       const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_igemm_acc_ukernel_8x8c4__neondot(size_t mr, size_t nc, size_t kc, size_t ks,
                                                   const uint8_t *const *a, size_t a_offset,
                                                   const uint8_t *zero, const void *w, int32_t *c,
                                                   size_t c_stride);
#endif

#ifdef __cplusplus
}
#endif

#endif
