/* gemm.h — qu8 x qc{8,4}w GEMM ukernels: function type, epilogue parameters, packed layout. */
#ifndef ZSQ_KERNELS_GEMM_H
#define ZSQ_KERNELS_GEMM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define ZSQ_STATIC_ASSERT static_assert
extern "C" {
#else
#define ZSQ_STATIC_ASSERT _Static_assert
#endif

/* Epilogue of docs/kernels.md, per output element (m, n) of one ukernel call:
 *   t = acc[m][n] + bias[n] - (zw ? zw[n] * rowsum[m] : 0)          (int32)
 *   v = fmaf((float) t, mult[n], offset[n])
 *   q = (int32) floorf(min(max(v, qmin), qmax))                      (stored as uint8)
 * Clamping before the floor equals clamping after it for integer qmin/qmax, and keeps the
 * conversion defined when |v| >= 2^31. Arrays are indexed from the call's first column / row:
 * an operator that tiles N or M offsets the pointers. 0 <= qmin <= qmax <= 255. */
typedef struct zsq_gemm_requant_params {
  const int32_t *bias;   /* [nc] zero-point corrections, see docs/kernels.md */
  const float *mult;     /* [nc] */
  const float *offset;   /* [nc] */
  const int32_t *zw;     /* [nc] weight zero points, or NULL for symmetric weights */
  const int32_t *rowsum; /* [mr] Σ_k a[m][k]; read only when zw != NULL */
  int32_t qmin;
  int32_t qmax;
} zsq_gemm_requant_params;

/* C[mr][nc] = requant(A[mr][kc] · W[nc][kc]ᵀ). mr <= MR; nc is any count (the ukernel walks
 * NR-column blocks of the packed weights); kc >= 1 is the unpadded K. a_stride and c_stride are
 * in bytes. A holds u8 codes of any width 2..8 bits (W4A4 = the qc4w kernel fed 4-bit codes);
 * it is read only within [0, kc) of each row. kc <= 65536 keeps every int32 accumulator exact
 * (255 * 128 * 65536 < 2^31; the 4-bit VNNI path's wrapping sums differ by 16·Σ a·w < 2^31). Pure:
 * no allocation. */
typedef void (*zsq_gemm_requant_ukernel_fn)(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                            size_t a_stride, const void *w, uint8_t *c,
                                            size_t c_stride, const zsq_gemm_requant_params *p);

/* The gemm_acc family: C[mr][nc] = the raw int32 Σ_k A[m][k]·W[n][k] (no bias, no epilogue), for
 * operators whose epilogue needs the exact accumulator (src/ops/qconv.c, two-stage). Same A, W
 * and packing as the requant kernel of the same tile; c_stride is in bytes. */
typedef void (*zsq_gemm_acc_ukernel_fn)(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                        size_t a_stride, const void *w, int32_t *c,
                                        size_t c_stride);

/* The igemm family: convolution without an im2col copy (XNNPACK-style). Row m of A is the
 * concatenation over taps t < ks of the kc codes at a[m·ks + t] (the call's first row's ks
 * pointers come first), each pointer moved by a_offset bytes unless it equals zero (the padding
 * row: at least kc codes of za, never moved), so K = ks·kc. Only [0, kc) of each pointer is read.
 * The weights W[n][t·kcp + c] are padded per tap to kcp = round_up(kc, kr) with zero codes and
 * packed as a gemm of K = ks·kcp (zsq_gemm_pack_qc{8,4}w): with kc % kr == 0 this is exactly the
 * im2col GEMM's packing. ks·kc <= 65536 (the padding codes add nothing to the accumulator); the
 * epilogue (rowsum[m] included) is the gemm's. */
typedef void (*zsq_igemm_requant_ukernel_fn)(size_t mr, size_t nc, size_t kc, size_t ks,
                                             const uint8_t *const *a, size_t a_offset,
                                             const uint8_t *zero, const void *w, uint8_t *c,
                                             size_t c_stride, const zsq_gemm_requant_params *p);
typedef void (*zsq_igemm_acc_ukernel_fn)(size_t mr, size_t nc, size_t kc, size_t ks,
                                         const uint8_t *const *a, size_t a_offset,
                                         const uint8_t *zero, const void *w, int32_t *c,
                                         size_t c_stride);

/* Packed weights, one layout for every ISA, parametrised by the tile (nr, kr):
 * N is padded to a multiple of nr and K to a multiple of kr with zero codes, and blocks follow
 *   for nb in N/nr:  for kb in K/kr:  block[nr][kr]            (8-bit: one int8 per code)
 * A 4-bit block (nr even) stores nr*kr/2 bytes: byte j*kr + kk (j < nr/2) holds w[j][kk] in its
 * low nibble and w[j + nr/2][kk] in its high nibble, two's complement. So one 64-byte
 * zmm load of a 32x4 block gives columns 0..15 (low nibbles) and 16..31 (high nibbles). The
 * 1x1c1 layout of the 8-bit scalar reference is plain row-major W[N][K]. The 14x16c4 VNNI tile
 * reads nr = 16 blocks: 64 bytes (8-bit) or 32 bytes whose low nibbles are columns 0..7 and high
 * nibbles 8..15 (4-bit).
 * The VNNI tiers read the "lo8" variant of the 4-bit block (zsq_gemm_pack_qc4w_lo8): the same
 * nibble positions, the high nibble two's complement but the low nibble offset binary, w + 8. So
 * the byte read as int8 is 16·w_hi + w_lo + 8, and one vpdpbusd on the raw byte plus one on the
 * masked low nibble give both column sets (vnni-tile.h). */
typedef struct zsq_qc8w_block_32x4 {
  int8_t codes[32][4];
} zsq_qc8w_block_32x4;
typedef struct zsq_qc4w_block_32x4 {
  uint8_t nibbles[16][4];
} zsq_qc4w_block_32x4;
typedef struct zsq_qc8w_block_16x2 {
  int8_t codes[16][2];
} zsq_qc8w_block_16x2;
typedef struct zsq_qc4w_block_16x4 {
  uint8_t nibbles[8][4];
} zsq_qc4w_block_16x4;
typedef struct zsq_qc8w_block_16x4 {
  int8_t codes[16][4];
} zsq_qc8w_block_16x4;
ZSQ_STATIC_ASSERT(sizeof(zsq_qc8w_block_32x4) == 128, "one VNNI W8 k-step: two zmm");
ZSQ_STATIC_ASSERT(sizeof(zsq_qc4w_block_32x4) == 64, "one VNNI W4 k-step: one zmm");
ZSQ_STATIC_ASSERT(sizeof(zsq_qc8w_block_16x2) == 32, "one AVX2 W8 k-step: two 16-byte loads");
ZSQ_STATIC_ASSERT(sizeof(zsq_qc4w_block_16x4) == 32, "one W4 k-step of 16 columns: one ymm");
ZSQ_STATIC_ASSERT(sizeof(zsq_qc8w_block_16x4) == 64, "one VNNI W8 k-step of 16 columns: one zmm");

static inline size_t zsq_round_up(size_t x, size_t q) {
  return (x + q - 1) / q * q;
}

/* A packer of the layout above: w[n][k] codes (row stride w_stride) into (nr, kr) blocks. */
typedef void (*zsq_gemm_pack_fn)(size_t n, size_t k, size_t nr, size_t kr, const int8_t *w,
                                 size_t w_stride, void *out);

/* Bytes of packed weights for n x k codes of wbits (8 or 4) bits in (nr, kr) tiles. */
size_t zsq_gemm_packed_size(size_t n, size_t k, size_t nr, size_t kr, int wbits);

/* Packs w[n][k] (row stride w_stride elements; 4-bit codes in [-8, 7] stored one per int8)
 * into out, which holds zsq_gemm_packed_size() bytes. Padding is written as zero codes. */
void zsq_gemm_pack_qc8w(size_t n, size_t k, size_t nr, size_t kr, const int8_t *w, size_t w_stride,
                        void *out);
void zsq_gemm_pack_qc4w(size_t n, size_t k, size_t nr, size_t kr, const int8_t *w, size_t w_stride,
                        void *out);
/* The 4-bit layout with the low nibble offset binary (w + 8): the VNNI tiers' packing. */
void zsq_gemm_pack_qc4w_lo8(size_t n, size_t k, size_t nr, size_t kr, const int8_t *w,
                            size_t w_stride, void *out);

/* Scalar references (the oracles; any host). */
void zsq_qu8_qc8w_gemm_requant_ukernel_1x1c1__scalar(size_t mr, size_t nc, size_t kc,
                                                     const uint8_t *a, size_t a_stride,
                                                     const void *w, uint8_t *c, size_t c_stride,
                                                     const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_gemm_requant_ukernel_1x2c1__scalar(size_t mr, size_t nc, size_t kc,
                                                     const uint8_t *a, size_t a_stride,
                                                     const void *w, uint8_t *c, size_t c_stride,
                                                     const zsq_gemm_requant_params *p);
void zsq_qu8_qc8w_gemm_acc_ukernel_1x1c1__scalar(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                                 size_t a_stride, const void *w, int32_t *c,
                                                 size_t c_stride);
void zsq_qu8_qc4w_gemm_acc_ukernel_1x2c1__scalar(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                                 size_t a_stride, const void *w, int32_t *c,
                                                 size_t c_stride);

void zsq_qu8_qc8w_igemm_requant_ukernel_1x1c1__scalar(size_t mr, size_t nc, size_t kc, size_t ks,
                                                      const uint8_t *const *a, size_t a_offset,
                                                      const uint8_t *zero, const void *w,
                                                      uint8_t *c, size_t c_stride,
                                                      const zsq_gemm_requant_params *p);
void zsq_qu8_qc8w_igemm_acc_ukernel_1x1c1__scalar(size_t mr, size_t nc, size_t kc, size_t ks,
                                                  const uint8_t *const *a, size_t a_offset,
                                                  const uint8_t *zero, const void *w, int32_t *c,
                                                  size_t c_stride);
void zsq_qu8_qc4w_igemm_requant_ukernel_1x2c1__scalar(size_t mr, size_t nc, size_t kc, size_t ks,
                                                      const uint8_t *const *a, size_t a_offset,
                                                      const uint8_t *zero, const void *w,
                                                      uint8_t *c, size_t c_stride,
                                                      const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_igemm_acc_ukernel_1x2c1__scalar(size_t mr, size_t nc, size_t kc, size_t ks,
                                                  const uint8_t *const *a, size_t a_offset,
                                                  const uint8_t *zero, const void *w, int32_t *c,
                                                  size_t c_stride);

#if defined(__x86_64__) || defined(__i386__)
/* Valid only where cpuinfo reports the ISA (see configs/gemm-config.h). */
void zsq_qu8_qc8w_gemm_acc_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                       const uint8_t *a, size_t a_stride,
                                                       const void *w, int32_t *c, size_t c_stride);
void zsq_qu8_qc4w_gemm_acc_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                       const uint8_t *a, size_t a_stride,
                                                       const void *w, int32_t *c, size_t c_stride);
void zsq_qu8_qc8w_gemm_requant_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                           const uint8_t *a, size_t a_stride,
                                                           const void *w, uint8_t *c,
                                                           size_t c_stride,
                                                           const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_gemm_requant_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                           const uint8_t *a, size_t a_stride,
                                                           const void *w, uint8_t *c,
                                                           size_t c_stride,
                                                           const zsq_gemm_requant_params *p);
void zsq_qu8_qc8w_igemm_requant_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                            size_t ks, const uint8_t *const *a,
                                                            size_t a_offset, const uint8_t *zero,
                                                            const void *w, uint8_t *c,
                                                            size_t c_stride,
                                                            const zsq_gemm_requant_params *p);
void zsq_qu8_qc8w_igemm_acc_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc, size_t ks,
                                                        const uint8_t *const *a, size_t a_offset,
                                                        const uint8_t *zero, const void *w,
                                                        int32_t *c, size_t c_stride);
void zsq_qu8_qc4w_igemm_requant_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                            size_t ks, const uint8_t *const *a,
                                                            size_t a_offset, const uint8_t *zero,
                                                            const void *w, uint8_t *c,
                                                            size_t c_stride,
                                                            const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_igemm_acc_ukernel_14x32c4__avx512vnni(size_t mr, size_t nc, size_t kc, size_t ks,
                                                        const uint8_t *const *a, size_t a_offset,
                                                        const uint8_t *zero, const void *w,
                                                        int32_t *c, size_t c_stride);
void zsq_qu8_qc8w_gemm_requant_ukernel_14x16c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                           const uint8_t *a, size_t a_stride,
                                                           const void *w, uint8_t *c,
                                                           size_t c_stride,
                                                           const zsq_gemm_requant_params *p);
void zsq_qu8_qc8w_gemm_acc_ukernel_14x16c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                       const uint8_t *a, size_t a_stride,
                                                       const void *w, int32_t *c, size_t c_stride);
void zsq_qu8_qc4w_gemm_requant_ukernel_14x16c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                           const uint8_t *a, size_t a_stride,
                                                           const void *w, uint8_t *c,
                                                           size_t c_stride,
                                                           const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_gemm_acc_ukernel_14x16c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                       const uint8_t *a, size_t a_stride,
                                                       const void *w, int32_t *c, size_t c_stride);
void zsq_qu8_qc8w_igemm_requant_ukernel_14x16c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                            size_t ks, const uint8_t *const *a,
                                                            size_t a_offset, const uint8_t *zero,
                                                            const void *w, uint8_t *c,
                                                            size_t c_stride,
                                                            const zsq_gemm_requant_params *p);
void zsq_qu8_qc8w_igemm_acc_ukernel_14x16c4__avx512vnni(size_t mr, size_t nc, size_t kc, size_t ks,
                                                        const uint8_t *const *a, size_t a_offset,
                                                        const uint8_t *zero, const void *w,
                                                        int32_t *c, size_t c_stride);
void zsq_qu8_qc4w_igemm_requant_ukernel_14x16c4__avx512vnni(size_t mr, size_t nc, size_t kc,
                                                            size_t ks, const uint8_t *const *a,
                                                            size_t a_offset, const uint8_t *zero,
                                                            const void *w, uint8_t *c,
                                                            size_t c_stride,
                                                            const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_igemm_acc_ukernel_14x16c4__avx512vnni(size_t mr, size_t nc, size_t kc, size_t ks,
                                                        const uint8_t *const *a, size_t a_offset,
                                                        const uint8_t *zero, const void *w,
                                                        int32_t *c, size_t c_stride);
void zsq_qu8_qc8w_igemm_requant_ukernel_6x16c2__avx2(size_t mr, size_t nc, size_t kc, size_t ks,
                                                     const uint8_t *const *a, size_t a_offset,
                                                     const uint8_t *zero, const void *w, uint8_t *c,
                                                     size_t c_stride,
                                                     const zsq_gemm_requant_params *p);
void zsq_qu8_qc8w_igemm_acc_ukernel_6x16c2__avx2(size_t mr, size_t nc, size_t kc, size_t ks,
                                                 const uint8_t *const *a, size_t a_offset,
                                                 const uint8_t *zero, const void *w, int32_t *c,
                                                 size_t c_stride);
void zsq_qu8_qc4w_igemm_requant_ukernel_4x16c4__avx2(size_t mr, size_t nc, size_t kc, size_t ks,
                                                     const uint8_t *const *a, size_t a_offset,
                                                     const uint8_t *zero, const void *w, uint8_t *c,
                                                     size_t c_stride,
                                                     const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_igemm_acc_ukernel_4x16c4__avx2(size_t mr, size_t nc, size_t kc, size_t ks,
                                                 const uint8_t *const *a, size_t a_offset,
                                                 const uint8_t *zero, const void *w, int32_t *c,
                                                 size_t c_stride);
void zsq_qu8_qc8w_gemm_acc_ukernel_6x16c2__avx2(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                                size_t a_stride, const void *w, int32_t *c,
                                                size_t c_stride);
void zsq_qu8_qc4w_gemm_acc_ukernel_4x16c4__avx2(size_t mr, size_t nc, size_t kc, const uint8_t *a,
                                                size_t a_stride, const void *w, int32_t *c,
                                                size_t c_stride);
void zsq_qu8_qc8w_gemm_requant_ukernel_6x16c2__avx2(size_t mr, size_t nc, size_t kc,
                                                    const uint8_t *a, size_t a_stride,
                                                    const void *w, uint8_t *c, size_t c_stride,
                                                    const zsq_gemm_requant_params *p);
void zsq_qu8_qc4w_gemm_requant_ukernel_4x16c4__avx2(size_t mr, size_t nc, size_t kc,
                                                    const uint8_t *a, size_t a_stride,
                                                    const void *w, uint8_t *c, size_t c_stride,
                                                    const zsq_gemm_requant_params *p);
#endif

#ifdef __cplusplus
}
#endif

#endif
