/* vnni-tile.h — the MRx32c4 vpdpbusd register tile shared by the W8 and W4 VNNI kernels. */
#ifndef ZSQ_KERNELS_GEMM_VNNI_TILE_H
#define ZSQ_KERNELS_GEMM_VNNI_TILE_H

#include "kernels/gemm/requant-avx512.h"
#include "kernels/unroll.h"

#define ZSQ_VNNI_MAX_MR 14

/* Broadcast of the 4 activation codes a[0..4) of one row to all 16 lanes. */
static inline __m512i zsq_vnni_bcast4(const uint8_t *a) {
  int32_t x;
  __builtin_memcpy(&x, a, sizeof x);
  return _mm512_set1_epi32(x);
}

/* Weights of one k-step as two zmm of 16 columns x 4 k. 8-bit: two loads. 4-bit (gemm.h
 * layout): one load, the low nibbles shifted into the high nibble and masked, so each byte is
 * 16·w: the accumulator is 16x the dot product, undone by an exact arithmetic shift. */
static inline void zsq_vnni_load_w(int wbits, const uint8_t *w, __m512i *w0, __m512i *w1) {
  if (wbits == 8) {
    *w0 = _mm512_loadu_si512(w);
    *w1 = _mm512_loadu_si512(w + 64);
  } else {
    const __m512i hi = _mm512_set1_epi8((char)0xF0);
    const __m512i v = _mm512_loadu_si512(w);
    *w0 = _mm512_and_si512(_mm512_slli_epi16(v, 4), hi);
    *w1 = _mm512_and_si512(v, hi);
  }
}

/* Stores rows < mr of the raw int32 accumulators (the gemm_acc family) for columns n0.. of c. */
static inline __attribute__((always_inline)) void zsq_vnni_store_acc(const size_t MR,
                                                                     __m512i acc[][2], size_t mr,
                                                                     size_t n0, size_t nc,
                                                                     uint8_t *c, size_t c_stride) {
  const size_t left = nc - n0;
  const __mmask16 m0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
  const __mmask16 m1 = left >= 32  ? (__mmask16)0xFFFF
                       : left > 16 ? (__mmask16)((1u << (left - 16)) - 1)
                                   : (__mmask16)0;
  ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
    if (i < mr) {
      int32_t *ci = (int32_t *)(c + i * c_stride) + n0;
      _mm512_mask_storeu_epi32(ci, m0, acc[i][0]);
      _mm512_mask_storeu_epi32(ci + 16, m1, acc[i][1]);
    }
  }
}

/* C[mr][nc] for MR rows (mr <= MR; rows >= mr alias row mr-1 and are not stored). MR is a
 * compile-time constant after inlining, so acc[][] lives in zmm registers. With p != NULL the
 * tile is requantized to u8 codes; with p == NULL (a literal: the gemm_acc family) c holds int32
 * rows of the raw Σ a·w. c_stride is in bytes either way. */
static inline __attribute__((always_inline)) void zsq_vnni_gemm_tile(
    const size_t MR, int wbits, size_t mr, size_t nc, size_t kc, const uint8_t *a, size_t a_stride,
    const uint8_t *w, void *cv, size_t c_stride, const zsq_gemm_requant_params *p) {
  uint8_t *c = cv;
  const uint8_t *ar[ZSQ_VNNI_MAX_MR];
  for (size_t i = 0; i < MR; i++) ar[i] = a + (i < mr ? i : mr - 1) * a_stride;
  const size_t kmain = kc & ~(size_t)3;
  const __mmask16 ktail = (__mmask16)((1u << (kc & 3)) - 1);
  const size_t wstep = wbits == 8 ? sizeof(zsq_qc8w_block_32x4) : sizeof(zsq_qc4w_block_32x4);
  for (size_t n0 = 0; n0 < nc; n0 += 32) {
    __m512i acc[ZSQ_VNNI_MAX_MR][2];
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
    size_t pf = 0; /* one row's next-but-3 cache line per k-step: every row within 64 bytes */
    for (size_t k = 0; k < kmain; k += 4) {
      __m512i w0, w1;
      zsq_vnni_load_w(wbits, w, &w0, &w1);
      w += wstep;
      _mm_prefetch((const char *)ar[pf] + k + 256, _MM_HINT_T0);
      pf = pf + 1 == MR ? 0 : pf + 1;
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
        const __m512i va = zsq_vnni_bcast4(ar[i] + k);
        acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], va, w0);
        acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], va, w1);
      }
    }
    if (ktail != 0) {
      __m512i w0, w1;
      zsq_vnni_load_w(wbits, w, &w0, &w1);
      w += wstep;
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
        const __m512i va = _mm512_broadcastd_epi32(_mm_maskz_loadu_epi8(ktail, ar[i] + kmain));
        acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], va, w0);
        acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], va, w1);
      }
    }
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      if (wbits == 4) {
        acc[i][0] = _mm512_srai_epi32(acc[i][0], 4);
        acc[i][1] = _mm512_srai_epi32(acc[i][1], 4);
      }
    }
    if (p == NULL) {
      zsq_vnni_store_acc(MR, acc, mr, n0, nc, c, c_stride);
      continue;
    }
    const zsq_requant_cols_avx512 c0 = zsq_requant_cols_avx512_load(p, n0, nc);
    const zsq_requant_cols_avx512 c1 = zsq_requant_cols_avx512_load(p, n0 + 16, nc);
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      if (i < mr) {
        zsq_requant_store_avx512(acc[i][0], &c0, p, i, c + i * c_stride + n0);
        zsq_requant_store_avx512(acc[i][1], &c1, p, i, c + i * c_stride + n0 + 16);
      }
    }
  }
}

#endif
