/* dwconv-avx512.h — the depthwise row skeleton and epilogue of kernels/dwconv.h, 16 channels per
 * zmm (AVX-512 F/BW/VL + VNNI). */
#ifndef ZSQ_KERNELS_DWCONV_DWCONV_AVX512_H
#define ZSQ_KERNELS_DWCONV_DWCONV_AVX512_H

#include <immintrin.h>
#include <stdbool.h>

#include "kernels/dwconv.h"

/* Why vpdpwssd and not vpdpbusd: a depthwise sum runs over taps, which live in different pixels
 * (pointers), not over 4 adjacent bytes of one operand. vpdpbusd would need the codes of 4 taps
 * interleaved per channel (about 2 shuffles per tap, all on port 5) plus a permuted output. Here
 * each tap's 16 codes zero-extend to int32 lanes (vpmovzxbd, one port-5 op with the load folded)
 * and vpdpwssd multiplies the low words and accumulates (code · weight + 0 · sign word: exact, no
 * saturation), one port-0 op: the two ports stay balanced at one tap of 16 channels per cycle.
 * A 9-tap window's weights are widened once per 16-channel tile and stay in registers for the row.
 */

typedef struct zsq_dwconv_cols_avx512 {
  __m512i bias;
  __m512 mult, offset, lo, hi;
  __mmask16 mask;
} zsq_dwconv_cols_avx512;

static inline __m128i zsq_dwconv_load16_avx512(const void *ptr, __mmask16 mask, bool full) {
  return full ? _mm_loadu_si128((const __m128i *)ptr) : _mm_maskz_loadu_epi8(mask, ptr);
}

/* The epilogue's v of t = acc + bias (int32, wrapping), clamped; and its code (floor). */
static inline __m512 zsq_dwconv_v_avx512(__m512i t, __m512 mult, __m512 offset, __m512 lo,
                                         __m512 hi) {
  const __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), mult, offset);
  return _mm512_min_ps(_mm512_max_ps(v, lo), hi);
}
static inline __m512i zsq_dwconv_code_avx512(__m512 v) {
  return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}

/* Stores channels c0 .. c0+15 (those in cols->mask) of pixel x: codes or floats. */
static inline void zsq_dwconv_epilogue_avx512(__m512i acc, const zsq_dwconv_cols_avx512 *cols,
                                              void *out, size_t at, bool f32) {
  const __m512 v = zsq_dwconv_v_avx512(_mm512_add_epi32(acc, cols->bias), cols->mult, cols->offset,
                                       cols->lo, cols->hi);
  if (f32) {
    _mm512_mask_storeu_ps((float *)out + at, cols->mask, v);
  } else {
    _mm512_mask_cvtepi32_storeu_epi8((uint8_t *)out + at, cols->mask, zsq_dwconv_code_avx512(v));
  }
}

/* acc + code(tap k) · weight, the code's 16 channels from c0. */
static inline __m512i zsq_dwconv_mac_avx512(__m512i acc, const uint8_t *in, __m512i w,
                                            __mmask16 mask, bool full) {
  return _mm512_dpwssd_epi32(acc, _mm512_cvtepu8_epi32(zsq_dwconv_load16_avx512(in, mask, full)),
                             w);
}

static inline __attribute__((always_inline)) void zsq_dwconv_tile_avx512(
    size_t channels, size_t c0, __mmask16 mask, bool full, size_t width, size_t ks,
    const uint8_t *const *input, const int8_t *weights, void *output, const zsq_dwconv_params *p,
    bool f32) {
  zsq_dwconv_cols_avx512 cols;
  cols.mask = mask;
  cols.bias = _mm512_maskz_loadu_epi32(mask, p->bias + c0);
  cols.mult = _mm512_maskz_loadu_ps(mask, p->mult + c0);
  cols.offset = _mm512_maskz_loadu_ps(mask, p->offset + c0);
  cols.lo = _mm512_set1_ps(p->min);
  cols.hi = _mm512_set1_ps(p->max);
#define ZSQ_DWCONV_WEIGHT(k) \
  _mm512_cvtepi8_epi32(zsq_dwconv_load16_avx512(weights + (k)*channels + c0, mask, full))
  const bool hoist = ks <= 9; /* always in the 3x3 kernels */
  __m512i wreg[9];
  if (hoist) {
    for (size_t k = 0; k < ks; k++) wreg[k] = ZSQ_DWCONV_WEIGHT(k);
  }
  for (size_t x = 0; x < width; x++) {
    const uint8_t *const *in = input + x * ks;
    /* Two chains (even and odd taps) halve the vpdpwssd latency chain. */
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    size_t k = 0;
    for (; k + 2 <= ks; k += 2) {
      acc0 = zsq_dwconv_mac_avx512(acc0, in[k] + c0, hoist ? wreg[k] : ZSQ_DWCONV_WEIGHT(k), mask,
                                   full);
      acc1 = zsq_dwconv_mac_avx512(acc1, in[k + 1] + c0,
                                   hoist ? wreg[k + 1] : ZSQ_DWCONV_WEIGHT(k + 1), mask, full);
    }
    if (k < ks) {
      acc0 = zsq_dwconv_mac_avx512(acc0, in[k] + c0, hoist ? wreg[k] : ZSQ_DWCONV_WEIGHT(k), mask,
                                   full);
    }
    zsq_dwconv_epilogue_avx512(_mm512_add_epi32(acc0, acc1), &cols, output, x * channels + c0, f32);
  }
#undef ZSQ_DWCONV_WEIGHT
}

/* The row from channel c0 on: full 16-channel tiles, then the masked remainder. */
static inline __attribute__((always_inline)) void zsq_dwconv_avx512(
    size_t channels, size_t c0, size_t width, size_t ks, const uint8_t *const *input,
    const int8_t *weights, void *output, const zsq_dwconv_params *p, bool f32) {
  for (; c0 + 16 <= channels; c0 += 16) {
    zsq_dwconv_tile_avx512(channels, c0, 0xFFFF, true, width, ks, input, weights, output, p, f32);
  }
  if (c0 < channels) {
    const __mmask16 mask = (__mmask16)((1u << (channels - c0)) - 1);
    zsq_dwconv_tile_avx512(channels, c0, mask, false, width, ks, input, weights, output, p, f32);
  }
}

#endif
