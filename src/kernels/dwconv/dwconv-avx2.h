/* dwconv-avx2.h — the depthwise row skeleton and epilogue of kernels/dwconv.h, 8 channels per ymm
 * (AVX2 + FMA). */
#ifndef ZSQ_KERNELS_DWCONV_DWCONV_AVX2_H
#define ZSQ_KERNELS_DWCONV_DWCONV_AVX2_H

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/dwconv.h"

/* Each tap's 8 codes zero-extend to int32 lanes (vpmovzxbd) and the weights sign-extend; vpmaddwd
 * then gives code · weight + 0 · sign word per lane, exact (vpmulld is two uops and slower). A
 * 9-tap window's weights are widened once per 8-channel tile and stay in registers for the row.
 * Remainder tiles read and write through small buffers: nothing past channel `channels` is touched.
 */

typedef struct zsq_dwconv_cols_avx2 {
  __m256i bias;
  __m256 mult, offset, lo, hi;
} zsq_dwconv_cols_avx2;

/* The first n (<= 8) bytes at ptr in the low 8 bytes of an xmm (the rest zero when n < 8). */
static inline __m128i zsq_dwconv_load8_avx2(const void *ptr, size_t n, bool full) {
  if (full) return _mm_loadl_epi64((const __m128i *)ptr);
  uint8_t tmp[16] = {0};
  memcpy(tmp, ptr, n);
  return _mm_loadu_si128((const __m128i *)tmp);
}

/* Stores the n channels from c0 of pixel x: codes or floats. */
static inline void zsq_dwconv_epilogue_avx2(__m256i acc, const zsq_dwconv_cols_avx2 *cols,
                                            void *out, size_t at, size_t n, bool full, bool f32) {
  __m256 v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc, cols->bias)), cols->mult,
                             cols->offset);
  v = _mm256_min_ps(_mm256_max_ps(v, cols->lo), cols->hi);
  if (f32) {
    float tmp[8];
    _mm256_storeu_ps(full ? (float *)out + at : tmp, v);
    if (!full) memcpy((float *)out + at, tmp, n * sizeof(float));
  } else {
    const __m256i q =
        _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i q8 = _mm_packus_epi16(q16, q16);
    uint8_t tmp[16];
    _mm_storel_epi64(full ? (__m128i *)((uint8_t *)out + at) : (__m128i *)tmp, q8);
    if (!full) memcpy((uint8_t *)out + at, tmp, n);
  }
}

/* acc + code(tap k) · weight, the code's 8 channels from c0. */
static inline __m256i zsq_dwconv_mac_avx2(__m256i acc, const uint8_t *in, __m256i w, size_t n,
                                          bool full) {
  const __m256i a = _mm256_cvtepu8_epi32(zsq_dwconv_load8_avx2(in, n, full));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, w));
}

static inline __attribute__((always_inline)) void zsq_dwconv_tile_avx2(
    size_t channels, size_t c0, size_t n, bool full, size_t width, size_t ks,
    const uint8_t *const *input, const int8_t *weights, void *output, const zsq_dwconv_params *p,
    bool f32) {
  zsq_dwconv_cols_avx2 cols;
  const __m256i mask =
      _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  cols.bias = _mm256_maskload_epi32(p->bias + c0, mask);
  cols.mult = _mm256_maskload_ps(p->mult + c0, mask);
  cols.offset = _mm256_maskload_ps(p->offset + c0, mask);
  cols.lo = _mm256_set1_ps(p->min);
  cols.hi = _mm256_set1_ps(p->max);
#define ZSQ_DWCONV_WEIGHT(k) \
  _mm256_cvtepi8_epi32(zsq_dwconv_load8_avx2(weights + (k)*channels + c0, n, full))
  const bool hoist = ks <= 9; /* always in the 3x3 kernels */
  __m256i wreg[9];
  if (hoist) {
    for (size_t k = 0; k < ks; k++) wreg[k] = ZSQ_DWCONV_WEIGHT(k);
  }
  for (size_t x = 0; x < width; x++) {
    const uint8_t *const *in = input + x * ks;
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    size_t k = 0;
    for (; k + 2 <= ks; k += 2) {
      acc0 = zsq_dwconv_mac_avx2(acc0, in[k] + c0, hoist ? wreg[k] : ZSQ_DWCONV_WEIGHT(k), n, full);
      acc1 = zsq_dwconv_mac_avx2(acc1, in[k + 1] + c0,
                                 hoist ? wreg[k + 1] : ZSQ_DWCONV_WEIGHT(k + 1), n, full);
    }
    if (k < ks) {
      acc0 = zsq_dwconv_mac_avx2(acc0, in[k] + c0, hoist ? wreg[k] : ZSQ_DWCONV_WEIGHT(k), n, full);
    }
    zsq_dwconv_epilogue_avx2(_mm256_add_epi32(acc0, acc1), &cols, output, x * channels + c0, n,
                             full, f32);
  }
#undef ZSQ_DWCONV_WEIGHT
}

/* The whole row: full 8-channel tiles, then the remainder. */
static inline __attribute__((always_inline)) void zsq_dwconv_avx2(
    size_t channels, size_t width, size_t ks, const uint8_t *const *input, const int8_t *weights,
    void *output, const zsq_dwconv_params *p, bool f32) {
  size_t c0 = 0;
  for (; c0 + 8 <= channels; c0 += 8) {
    zsq_dwconv_tile_avx2(channels, c0, 8, true, width, ks, input, weights, output, p, f32);
  }
  if (c0 < channels) {
    zsq_dwconv_tile_avx2(channels, c0, channels - c0, false, width, ks, input, weights, output, p,
                         f32);
  }
}

#endif
