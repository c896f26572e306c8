/* bitserial.h — W2A2 bit-serial GEMM (qu2p x qc2w): contract, bit-plane layouts, ukernels. */
#ifndef ZSQ_KERNELS_BITSERIAL_H
#define ZSQ_KERNELS_BITSERIAL_H

#include "kernels/gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Arithmetic. Activation codes a in [0, 3] and weight codes w in [-2, 1] (symmetric, per output
 * channel) are split into bit planes: a = a0 + 2·a1 (plain binary) and w = w0 - 2·w1 (two's
 * complement: w1 is the sign bit, so -2 = 10b, -1 = 11b, 0 = 00b, 1 = 01b). With
 * P_ij = Σ_k popcount(a_i[k] & w_j[k]):
 *   acc = Σ_k a[k]·w[k] = P_00 + 2·P_10 - 2·P_01 - 4·P_11
 * exactly, with no row-sum correction (an offset-binary w + 2 would need -2·Σ_k a[k]).
 * |acc| <= 6·kc, exact in int32 for any kc <= 65536. The epilogue is gemm.h's
 * zsq_gemm_requant_params, as for the qu8 kernels (docs/kernels.md).
 *
 * Bit strings. A plane of K codes is a little-endian bit string: bit i of byte j holds code
 * k = 8·j + i, so a uint64 word (or a uint32 lane) read from it holds consecutive k, lowest k in
 * bit 0. Every padding bit (k >= kc) of A and of W is zero, so any product over it is zero. */

/* Packed activations: a row is ceil(kc / 128) blocks of 128 codes, both planes of one block
 * adjacent so a NEON q register (128 codes) or an AVX-512 dword (32 codes) loads one plane. */
typedef struct zsq_bitplanes_2b_block {
  uint64_t plane[2][2]; /* plane[p][w]: bit p of codes 64·w .. 64·w + 63 of this block */
} zsq_bitplanes_2b_block;
ZSQ_STATIC_ASSERT(sizeof(zsq_bitplanes_2b_block) == 32, "128 codes of 2 bits");

/* Packed weights, parametrised by the tile (nr columns, kw codes per column and step):
 * N is padded to a multiple of nr, K to a multiple of kw, and blocks follow
 *   for nb in N/nr:  for kb in K/kw:  plane[2][nr][kw/8 bytes]
 * (plane p of column j of the block: the bit string of codes kb·kw .. kb·kw + kw - 1).
 * The tiles in use, as fixed-layout blocks: */
typedef struct zsq_qc2w_block_1x64 {
  uint64_t plane[2][1]; /* scalar oracle: one column, one 64-code word per plane */
} zsq_qc2w_block_1x64;
typedef struct zsq_qc2w_block_32x32 {
  uint32_t plane[2][32]; /* AVX-512: 32 columns x 32 codes per plane, two zmm per plane */
} zsq_qc2w_block_32x32;
typedef struct zsq_qc2w_block_4x128 {
  uint64_t plane[2][4][2]; /* NEON: 4 columns x 128 codes per plane, one q register each */
} zsq_qc2w_block_4x128;
ZSQ_STATIC_ASSERT(sizeof(zsq_qc2w_block_1x64) == 16, "one scalar k-step: two words");
ZSQ_STATIC_ASSERT(sizeof(zsq_qc2w_block_32x32) == 256, "one AVX-512 k-step: four zmm");
ZSQ_STATIC_ASSERT(sizeof(zsq_qc2w_block_4x128) == 128, "one NEON k-step: eight q registers");

/* Bytes of one packed activation row of kc codes (the minimum a_stride of the ukernels). */
static inline size_t zsq_bitplanes_2b_row_bytes(size_t kc) {
  return (kc + 127) / 128 * sizeof(zsq_bitplanes_2b_block);
}

/* Packs m rows of kc u8 codes in [0, 3] (a_stride bytes apart; only bits 0 and 1 are read) into
 * bit-plane rows out_stride bytes apart (out_stride >= zsq_bitplanes_2b_row_bytes(kc), a
 * multiple of 32), zero padding included. Reads only a[i·a_stride + k] for i < m, k < kc. */
typedef void (*zsq_pack_a_bitplanes_2b_fn)(size_t m, size_t kc, const uint8_t *a, size_t a_stride,
                                           void *out, size_t out_stride);
void zsq_pack_a_bitplanes_2b(size_t m, size_t kc, const uint8_t *a, size_t a_stride, void *out,
                             size_t out_stride);

/* Bytes of packed weights for n x k codes in (nr, kw) tiles (kw a multiple of 8 dividing 128). */
size_t zsq_bitserial_packed_size(size_t n, size_t k, size_t nr, size_t kw);

/* Packs w[n][k] (codes in [-2, 1], row stride w_stride) into out (zsq_bitserial_packed_size()
 * bytes); padding is written as zero codes. */
void zsq_bitserial_pack_qc2w(size_t n, size_t k, size_t nr, size_t kw, const int8_t *w,
                             size_t w_stride, void *out);

/* C[mr][nc] = requant(A[mr][kc] · W[nc][kc]ᵀ). mr <= MR; nc is any count (the ukernel walks
 * NR-column blocks); 1 <= kc <= 65536. a: mr packed rows a_stride bytes apart (a multiple of 32
 * and >= zsq_bitplanes_2b_row_bytes(kc)); w: packed for the ukernel's (nr, kw); c_stride in
 * bytes. Pure: no allocation. */
typedef void (*zsq_bitserial_requant_ukernel_fn)(size_t mr, size_t nc, size_t kc, const void *a,
                                                 size_t a_stride, const void *w, uint8_t *c,
                                                 size_t c_stride, const zsq_gemm_requant_params *p);

/* Scalar reference (the oracle; any host): (nr, kw) = (1, 64). */
void zsq_qu2p_qc2w_gemm_requant_ukernel_1x1c64__scalar(size_t mr, size_t nc, size_t kc,
                                                       const void *a, size_t a_stride,
                                                       const void *w, uint8_t *c, size_t c_stride,
                                                       const zsq_gemm_requant_params *p);

#if defined(__x86_64__) || defined(__i386__)
/* Valid only where cpuinfo reports AVX-512 F/BW/VL, VNNI and VPOPCNTDQ (bitserial-config.h). */
void zsq_qu2p_qc2w_gemm_requant_ukernel_7x32c32__avx512vpopcnt(size_t mr, size_t nc, size_t kc,
                                                               const void *a, size_t a_stride,
                                                               const void *w, uint8_t *c,
                                                               size_t c_stride,
                                                               const zsq_gemm_requant_params *p);
void zsq_pack_a_bitplanes_2b__avx512vpopcnt(size_t m, size_t kc, const uint8_t *a, size_t a_stride,
                                            void *out, size_t out_stride);
#endif

#if defined(__aarch64__)
void zsq_qu2p_qc2w_gemm_requant_ukernel_4x4c128__neon(size_t mr, size_t nc, size_t kc,
                                                      const void *a, size_t a_stride, const void *w,
                                                      uint8_t *c, size_t c_stride,
                                                      const zsq_gemm_requant_params *p);
#endif

#ifdef __cplusplus
}
#endif

#endif
