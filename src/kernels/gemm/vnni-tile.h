/* vnni-tile.h — the MRx(16·NB)c4 vpdpbusd register tile shared by every VNNI gemm and igemm
 * kernel (W8 and W4, 32 or 16 columns, strided A rows or row pointers). */
#ifndef ZSQ_KERNELS_GEMM_VNNI_TILE_H
#define ZSQ_KERNELS_GEMM_VNNI_TILE_H

#include "kernels/gemm/a-rows.h"
#include "kernels/gemm/requant-avx512.h"
#include "kernels/unroll.h"

#define ZSQ_VNNI_MAX_MR 14

/* Broadcast of the 4 activation codes a[0..4) of one row to all 16 lanes. */
static inline __m512i zsq_vnni_bcast4(const uint8_t *a) {
  int32_t x;
  __builtin_memcpy(&x, a, sizeof x);
  return _mm512_set1_epi32(x);
}

/* Weights of one k-step as NB zmm of 16 columns x 4 k (gemm.h layout for nr = 16·NB). 8-bit: NB
 * loads. 4-bit: the low nibbles shifted into the high nibble and masked, so each byte is 16·w:
 * the accumulator is 16x the dot product, undone by an exact arithmetic shift. With NB = 2 one
 * 64-byte block gives columns 0..15 (low nibbles) and 16..31 (high); with NB = 1 a 32-byte block
 * gives columns 0..7 (low) and 8..15 (high), widened to the two halves of one zmm. */
static inline __attribute__((always_inline)) void zsq_vnni_load_w(const size_t NB, int wbits,
                                                                  const uint8_t *w, __m512i wv[2]) {
  const __m512i hi = _mm512_set1_epi8((char)0xF0);
  if (wbits == 8) {
    wv[0] = _mm512_loadu_si512(w);
    if (NB == 2) wv[1] = _mm512_loadu_si512(w + 64);
  } else if (NB == 2) {
    const __m512i v = _mm512_loadu_si512(w);
    wv[0] = _mm512_and_si512(_mm512_slli_epi16(v, 4), hi);
    wv[1] = _mm512_and_si512(v, hi);
  } else {
    const __m256i h = _mm256_loadu_si256((const __m256i *)w);
    const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(h), h, 1);
    wv[0] = _mm512_and_si512(_mm512_mask_blend_epi64(0xF0, _mm512_slli_epi16(v, 4), v), hi);
  }
}

/* acc[i][j] += Σ_k<kc ar[i][k] · w[16j + lane][k] over the packed k-steps at *wp (round_up(kc, 4)
 * codes; *wp advances past them). Reads only [0, kc) of each row: the last partial step is a
 * masked load. prefetch: strided rows, each with its next-but-3 cache line per k-step. */
static inline __attribute__((always_inline)) void zsq_vnni_krun(const size_t MR, const size_t NB,
                                                                int wbits, const uint8_t *const *ar,
                                                                size_t kc, int prefetch,
                                                                const uint8_t **wp,
                                                                __m512i acc[][2]) {
  const uint8_t *w = *wp;
  const size_t kmain = kc & ~(size_t)3;
  const __mmask16 ktail = (__mmask16)((1u << (kc & 3)) - 1);
  const size_t wstep = (wbits == 8 ? 64 : 32) * NB;
  size_t pf = 0;
  for (size_t k = 0; k < kmain; k += 4) {
    __m512i wv[2];
    zsq_vnni_load_w(NB, wbits, w, wv);
    w += wstep;
    if (prefetch) {
      _mm_prefetch((const char *)ar[pf] + k + 256, _MM_HINT_T0);
      pf = pf + 1 == MR ? 0 : pf + 1;
    }
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      const __m512i va = zsq_vnni_bcast4(ar[i] + k);
      ZSQ_UNROLL for (size_t j = 0; j < NB; j++) acc[i][j] =
          _mm512_dpbusd_epi32(acc[i][j], va, wv[j]);
    }
  }
  if (ktail != 0) {
    __m512i wv[2];
    zsq_vnni_load_w(NB, wbits, w, wv);
    w += wstep;
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      const __m512i va = _mm512_broadcastd_epi32(_mm_maskz_loadu_epi8(ktail, ar[i] + kmain));
      ZSQ_UNROLL for (size_t j = 0; j < NB; j++) acc[i][j] =
          _mm512_dpbusd_epi32(acc[i][j], va, wv[j]);
    }
  }
  *wp = w;
}

/* Stores rows < mr of the raw int32 accumulators (the acc families) for columns n0.. of c. */
static inline __attribute__((always_inline)) void zsq_vnni_store_acc(const size_t MR,
                                                                     const size_t NB,
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
      if (NB == 2) _mm512_mask_storeu_epi32(ci + 16, m1, acc[i][1]);
    }
  }
}

/* C[mr][nc] for MR rows of src (mr <= MR; rows >= mr alias row mr-1 and are not stored), 16·NB
 * columns per block of the packed weights w. MR and NB are compile-time constants after
 * inlining, so acc[][] lives in zmm registers. Each block walks the taps of src and, within a
 * tap, kc codes in k-steps of 4. With p != NULL the tile is requantized to u8 codes; with
 * p == NULL (a literal: the acc families) c holds int32 rows of the raw Σ a·w. c_stride is in
 * bytes either way. */
static inline __attribute__((always_inline)) void zsq_vnni_tile(const size_t MR, const size_t NB,
                                                                int wbits, size_t mr, size_t nc,
                                                                size_t kc, const zsq_a_rows *src,
                                                                const uint8_t *w, void *cv,
                                                                size_t c_stride,
                                                                const zsq_gemm_requant_params *p) {
  uint8_t *c = cv;
  for (size_t n0 = 0; n0 < nc; n0 += 16 * NB) {
    __m512i acc[ZSQ_VNNI_MAX_MR][2];
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      ZSQ_UNROLL for (size_t j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_si512();
    }
    for (size_t t = 0; t < src->ks; t++) {
      const uint8_t *ar[ZSQ_VNNI_MAX_MR];
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) ar[i] = zsq_a_row(src, i < mr ? i : mr - 1, t);
      zsq_vnni_krun(MR, NB, wbits, ar, kc, src->ind == NULL, &w, acc);
    }
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      ZSQ_UNROLL for (size_t j = 0; j < NB; j++) {
        if (wbits == 4) acc[i][j] = _mm512_srai_epi32(acc[i][j], 4);
      }
    }
    if (p == NULL) {
      zsq_vnni_store_acc(MR, NB, acc, mr, n0, nc, c, c_stride);
      continue;
    }
    const zsq_requant_cols_avx512 c0 = zsq_requant_cols_avx512_load(p, n0, nc);
    const zsq_requant_cols_avx512 c1 = NB == 2 ? zsq_requant_cols_avx512_load(p, n0 + 16, nc) : c0;
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      if (i < mr) {
        zsq_requant_store_avx512(acc[i][0], &c0, p, i, c + i * c_stride + n0);
        if (NB == 2) zsq_requant_store_avx512(acc[i][1], &c1, p, i, c + i * c_stride + n0 + 16);
      }
    }
  }
}

/* The kernels' bodies: a 7-row instance for short tails (e.g. M = 49 = 3*14 + 7) halves their
 * wasted work. */
static inline __attribute__((always_inline)) void zsq_vnni_tile_14(
    const size_t NB, int wbits, size_t mr, size_t nc, size_t kc, const zsq_a_rows *src,
    const void *w, void *c, size_t c_stride, const zsq_gemm_requant_params *p) {
  if (mr > 7) {
    zsq_vnni_tile(14, NB, wbits, mr, nc, kc, src, w, c, c_stride, p);
  } else {
    zsq_vnni_tile(7, NB, wbits, mr, nc, kc, src, w, c, c_stride, p);
  }
}

#endif
