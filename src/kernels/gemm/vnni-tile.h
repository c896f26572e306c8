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

/* How a tile reads its weights: 8-bit codes, or the lo8 4-bit layout (gemm.h) either as raw bytes
 * and low nibbles (RAW: one vpandd per k-step, then a row-sum fix-up) or with both nibbles moved
 * to 16·w (X16: vpsllw + vpandd + vpternlogd, then an exact shift; no row sums, for short runs). */
enum { ZSQ_VNNI_W8 = 8, ZSQ_VNNI_W4_RAW = 4, ZSQ_VNNI_W4_X16 = 16 };

/* RAW pays 2·mr·ks row-sum passes per call (zsq_vnni_rowsums8) to save two ops per k-step and
 * column block: from this many codes per tap it wins. */
#define ZSQ_VNNI_W4_RAW_MIN_KC 256

/* Weights of one k-step as NB zmm of 16 columns x 4 k (gemm.h layout for nr = 16·NB). W8: NB
 * loads. W4_RAW (a byte is 16·w_hi + w_lo + 8 as int8): the raw bytes for the high columns and the
 * low nibbles, w_lo + 8, for the low ones. W4_X16: 16·w_hi = byte & 0xF0 and 16·w_lo =
 * ((byte << 4) & 0xF0) ^ 0x80. With NB = 2 one 64-byte block gives columns 0..15 (low) and
 * 16..31 (high); with NB = 1 a 32-byte block gives columns 0..7 (low, lanes 0..7) and 8..15
 * (high, lanes 8..15) of one zmm. zsq_vnni_w4_fix turns the sums into Σ a·w. */
static inline __attribute__((always_inline)) void zsq_vnni_load_w(const size_t NB, int wmode,
                                                                  const uint8_t *w, __m512i wv[2]) {
  const __m512i lo = _mm512_set1_epi8(0x0F), hi = _mm512_set1_epi8((char)0xF0);
  if (wmode == ZSQ_VNNI_W8) {
    wv[0] = _mm512_loadu_si512(w);
    if (NB == 2) wv[1] = _mm512_loadu_si512(w + 64);
  } else if (NB == 2) {
    const __m512i v = _mm512_loadu_si512(w);
    if (wmode == ZSQ_VNNI_W4_RAW) {
      wv[0] = _mm512_and_si512(v, lo);
      wv[1] = v;
    } else { /* (x & hi) ^ 0x80: ternary-logic table 0x6A */
      wv[0] = _mm512_ternarylogic_epi32(_mm512_slli_epi16(v, 4), hi, _mm512_set1_epi8((char)0x80),
                                        0x6A);
      wv[1] = _mm512_and_si512(v, hi);
    }
  } else {
    const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)w));
    if (wmode == ZSQ_VNNI_W4_RAW) {
      wv[0] = _mm512_mask_and_epi32(v, 0x00FF, v, lo);
    } else {
      const __m512i flip = _mm512_maskz_set1_epi32(0x00FF, (int)0x80808080);
      wv[0] = _mm512_ternarylogic_epi32(_mm512_mask_blend_epi64(0xF0, _mm512_slli_epi16(v, 4), v),
                                        hi, flip, 0x6A);
    }
  }
}

/* 8·Σ_k a[i][k] of rows i < mr over every tap (the [0, kc) codes the tile reads), for the 4-bit
 * fix-up: vpsadbw over 64-byte runs, the last one a masked load. Run after the first
 * column block's k-loop, when the tile's rows are in L1. */
static inline __attribute__((always_inline)) void zsq_vnni_rowsums8(size_t mr, size_t kc,
                                                                    const zsq_a_rows *src,
                                                                    int32_t rs8[]) {
  const size_t kmain = kc & ~(size_t)63;
  const __mmask64 tail = (kc & 63) != 0 ? ((__mmask64)1 << (kc & 63)) - 1 : 0;
  const __m512i zero = _mm512_setzero_si512();
  for (size_t i = 0; i < mr; i++) {
    __m512i s = zero;
    for (size_t t = 0; t < src->ks; t++) {
      const uint8_t *r = zsq_a_row(src, i, t);
      for (size_t k = 0; k < kmain; k += 64) {
        s = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_loadu_si512(r + k), zero));
      }
      if (tail != 0) {
        s = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(tail, r + kmain), zero));
      }
    }
    rs8[i] = (int32_t)(8u * (uint32_t)_mm512_reduce_add_epi64(s));
  }
}

/* One row's 4-bit sums to Σ a·w. X16: both are 16·Σ a·w, an exact shift. RAW: a low column summed
 * (w_lo + 8)·a, a high one (16·w_hi + w_lo + 8)·a with the low column of its lane, so low = acc −
 * 8·Σa and high = (acc_hi − acc_lo) / 16. The int32 sums wrap, but the differences are exact:
 * |16·Σ a·w_hi| < 2^31 for kc <= 65536. */
static inline __attribute__((always_inline)) void zsq_vnni_w4_fix(const size_t NB, int wmode,
                                                                  __m512i acc[2], int32_t rs8) {
  if (wmode == ZSQ_VNNI_W4_X16) {
    acc[0] = _mm512_srai_epi32(acc[0], 4);
    if (NB == 2) acc[1] = _mm512_srai_epi32(acc[1], 4);
    return;
  }
  const __m512i s8 = _mm512_set1_epi32(rs8);
  if (NB == 2) {
    acc[1] = _mm512_srai_epi32(_mm512_sub_epi32(acc[1], acc[0]), 4);
    acc[0] = _mm512_sub_epi32(acc[0], s8);
  } else {
    const __m512i low_in_high = _mm512_shuffle_i64x2(acc[0], acc[0], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i high = _mm512_srai_epi32(_mm512_sub_epi32(acc[0], low_in_high), 4);
    acc[0] = _mm512_mask_blend_epi32(0xFF00, _mm512_sub_epi32(acc[0], s8), high);
  }
}

/* acc[i][j] += Σ_k<kc ar[i][k] · w[16j + lane][k] over the packed k-steps at *wp (round_up(kc, 4)
 * codes; *wp advances past them). Reads only [0, kc) of each row: the last partial step is a
 * masked load. prefetch: strided rows, each with its next-but-3 cache line per k-step. */
static inline __attribute__((always_inline)) void zsq_vnni_krun(const size_t MR, const size_t NB,
                                                                int wmode, const uint8_t *const *ar,
                                                                size_t kc, int prefetch,
                                                                const uint8_t **wp,
                                                                __m512i acc[][2]) {
  const uint8_t *w = *wp;
  const size_t kmain = kc & ~(size_t)3;
  const __mmask16 ktail = (__mmask16)((1u << (kc & 3)) - 1);
  const size_t wstep = (wmode == ZSQ_VNNI_W8 ? 64 : 32) * NB;
  size_t pf = 0;
  for (size_t k = 0; k < kmain; k += 4) {
    __m512i wv[2];
    zsq_vnni_load_w(NB, wmode, w, wv);
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
    zsq_vnni_load_w(NB, wmode, w, wv);
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
                                                                int wmode, size_t mr, size_t nc,
                                                                size_t kc, const zsq_a_rows *src,
                                                                const uint8_t *w, void *cv,
                                                                size_t c_stride,
                                                                const zsq_gemm_requant_params *p) {
  uint8_t *c = cv;
  int32_t rs8[ZSQ_VNNI_MAX_MR];
  for (size_t n0 = 0; n0 < nc; n0 += 16 * NB) {
    __m512i acc[ZSQ_VNNI_MAX_MR][2];
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      ZSQ_UNROLL for (size_t j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_si512();
    }
    for (size_t t = 0; t < src->ks; t++) {
      const uint8_t *ar[ZSQ_VNNI_MAX_MR];
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) ar[i] = zsq_a_row(src, i < mr ? i : mr - 1, t);
      zsq_vnni_krun(MR, NB, wmode, ar, kc, src->ind == NULL, &w, acc);
    }
    if (wmode != ZSQ_VNNI_W8) {
      if (wmode == ZSQ_VNNI_W4_RAW && n0 == 0) zsq_vnni_rowsums8(mr, kc, src, rs8);
      ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
        zsq_vnni_w4_fix(NB, wmode, acc[i], rs8[i < mr ? i : 0]);
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

/* The kernels' bodies (wbits 8 or 4): a 7-row instance for short tails (e.g. M = 49 = 3*14 + 7)
 * halves their wasted work; 4-bit runs of fewer than ZSQ_VNNI_W4_RAW_MIN_KC codes per tap read
 * their weights as W4_X16. */
static inline __attribute__((always_inline)) void zsq_vnni_tile_14(
    const size_t NB, int wbits, size_t mr, size_t nc, size_t kc, const zsq_a_rows *src,
    const void *w, void *c, size_t c_stride, const zsq_gemm_requant_params *p) {
  if (wbits == 4 && kc < ZSQ_VNNI_W4_RAW_MIN_KC) {
    if (mr > 7) {
      zsq_vnni_tile(14, NB, ZSQ_VNNI_W4_X16, mr, nc, kc, src, w, c, c_stride, p);
    } else {
      zsq_vnni_tile(7, NB, ZSQ_VNNI_W4_X16, mr, nc, kc, src, w, c, c_stride, p);
    }
  } else if (mr > 7) {
    zsq_vnni_tile(14, NB, wbits, mr, nc, kc, src, w, c, c_stride, p);
  } else {
    zsq_vnni_tile(7, NB, wbits, mr, nc, kc, src, w, c, c_stride, p);
  }
}

#endif
