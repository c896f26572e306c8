/* dwconv3x3-avx512.h — the 9-tap depthwise row on 64-lane steps with vpdpbusd (AVX-512 VNNI);
 * remainders of fewer than 32 channels run the 16-channel skeleton of dwconv-avx512.h. */
#ifndef ZSQ_KERNELS_DWCONV_DWCONV3X3_AVX512_H
#define ZSQ_KERNELS_DWCONV_DWCONV3X3_AVX512_H

#include "kernels/dwconv/dwconv-avx512.h"

/* With 64 lanes per step the byte interleave that vpdpbusd needs gets cheap: 4 taps' 64 codes
 * interleave in 8 in-lane unpacks into 4 zmm of (tap0, tap1, tap2, tap3) byte quads, and one
 * vpdpbusd per zmm adds 4 taps of 16 channels (u8 · s8, non-saturating: exact). Per pixel that is
 * 22 shuffles and 12 vpdpbusd for 64 channels (taps 0-3, 4-7, 8 + three zero taps) against 36 +
 * 36 in the 16-channel skeleton. The unpacks leave channel 16·l + 4·r + i (lane l, dword i) in
 * accumulator r; the bias / mult / offset vectors are permuted alike once per tile, and the
 * in-lane packs of the code store (vpackusdw, vpackuswb) undo the permutation for free. */

/* out[r] dword (lane l, i) = the bytes (t0, t1, t2, t3) of channel 16·l + 4·r + i. */
static inline void zsq_dwconv_interleave4_avx512(__m512i t0, __m512i t1, __m512i t2, __m512i t3,
                                                 __m512i out[4]) {
  const __m512i a = _mm512_unpacklo_epi8(t0, t1), b = _mm512_unpackhi_epi8(t0, t1);
  const __m512i c = _mm512_unpacklo_epi8(t2, t3), d = _mm512_unpackhi_epi8(t2, t3);
  out[0] = _mm512_unpacklo_epi16(a, c);
  out[1] = _mm512_unpackhi_epi16(a, c);
  out[2] = _mm512_unpacklo_epi16(b, d);
  out[3] = _mm512_unpackhi_epi16(b, d);
}

/* out[r] lane l = in[l] lane r (a 4x4 transpose of 128-bit lanes; its own inverse): natural
 * 16-channel vectors to the accumulators' order and back. */
static inline void zsq_dwconv_transpose_lanes_avx512(const __m512i in[4], __m512i out[4]) {
  const __m512i t0 = _mm512_shuffle_i32x4(in[0], in[1], 0x44);
  const __m512i t1 = _mm512_shuffle_i32x4(in[0], in[1], 0xEE);
  const __m512i t2 = _mm512_shuffle_i32x4(in[2], in[3], 0x44);
  const __m512i t3 = _mm512_shuffle_i32x4(in[2], in[3], 0xEE);
  out[0] = _mm512_shuffle_i32x4(t0, t2, 0x88);
  out[1] = _mm512_shuffle_i32x4(t0, t2, 0xDD);
  out[2] = _mm512_shuffle_i32x4(t1, t3, 0x88);
  out[3] = _mm512_shuffle_i32x4(t1, t3, 0xDD);
}

/* 64 bytes: lo[0 .. 32) and hi[0 .. 32) (split), or lo[0 .. 64). */
static inline __m512i zsq_dwconv_load2x32_avx512(const void *lo, const void *hi, bool split) {
  if (!split) return _mm512_loadu_si512(lo);
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)lo)),
                            _mm256_loadu_si256((const __m256i *)hi), 1);
}

/* One 64-lane step covers two halves of 32 channels: half h is channel c[h] .. c[h]+31 of pixel
 * px[h]. A 64-channel tile has px = (x, x), c = (c0, c0 + 32); a 32-channel tile (split) runs two
 * pixels at once, px = (x, x + 1), c = (c0, c0), with weights and parameters repeated. */
static inline __attribute__((always_inline)) void zsq_dwconv3x3_tile_avx512(
    size_t channels, size_t c0, bool split, size_t width, const uint8_t *const *input,
    const int8_t *weights, void *output, const zsq_dwconv_params *p, bool f32) {
  const size_t c[2] = {c0, split ? c0 : c0 + 32};
  const __m512i zero = _mm512_setzero_si512();
#define ZSQ_DWCONV_TAP(k) \
  zsq_dwconv_load2x32_avx512(weights + (k)*channels + c[0], weights + (k)*channels + c[1], split)
  __m512i w[3][4];
  zsq_dwconv_interleave4_avx512(ZSQ_DWCONV_TAP(0), ZSQ_DWCONV_TAP(1), ZSQ_DWCONV_TAP(2),
                                ZSQ_DWCONV_TAP(3), w[0]);
  zsq_dwconv_interleave4_avx512(ZSQ_DWCONV_TAP(4), ZSQ_DWCONV_TAP(5), ZSQ_DWCONV_TAP(6),
                                ZSQ_DWCONV_TAP(7), w[1]);
  zsq_dwconv_interleave4_avx512(ZSQ_DWCONV_TAP(8), zero, zero, zero, w[2]);
#undef ZSQ_DWCONV_TAP
  /* Lane l of the natural vectors holds channels c[l / 2] + 16 · (l % 2) + 0 .. 15. */
  __m512i nat[3][4], bias[4], mult[4], offset[4];
  for (int l = 0; l < 4; l++) {
    const size_t at = c[l / 2] + 16 * (size_t)(l % 2);
    nat[0][l] = _mm512_loadu_si512(p->bias + at);
    nat[1][l] = _mm512_loadu_si512(p->mult + at);
    nat[2][l] = _mm512_loadu_si512(p->offset + at);
  }
  zsq_dwconv_transpose_lanes_avx512(nat[0], bias);
  zsq_dwconv_transpose_lanes_avx512(nat[1], mult);
  zsq_dwconv_transpose_lanes_avx512(nat[2], offset);
  const __m512 lo = _mm512_set1_ps(p->min), hi = _mm512_set1_ps(p->max);
  for (size_t x = 0; x < width; x += split ? 2 : 1) {
    const bool second = split && x + 1 < width; /* a second pixel to store */
    const size_t px[2] = {x, second ? x + 1 : x};
    const uint8_t *const *in0 = input + px[0] * 9, *const *in1 = input + px[1] * 9;
#define ZSQ_DWCONV_IN(k) zsq_dwconv_load2x32_avx512(in0[k] + c[0], in1[k] + c[1], split)
    __m512i acc[4], a[4];
    for (int r = 0; r < 4; r++) acc[r] = bias[r];
    for (int g = 0; g < 3; g++) {
      if (g < 2) {
        zsq_dwconv_interleave4_avx512(ZSQ_DWCONV_IN(4 * g), ZSQ_DWCONV_IN(4 * g + 1),
                                      ZSQ_DWCONV_IN(4 * g + 2), ZSQ_DWCONV_IN(4 * g + 3), a);
      } else {
        zsq_dwconv_interleave4_avx512(ZSQ_DWCONV_IN(8), zero, zero, zero, a);
      }
      for (int r = 0; r < 4; r++) acc[r] = _mm512_dpbusd_epi32(acc[r], a[r], w[g][r]);
    }
#undef ZSQ_DWCONV_IN
    __m512i v[4];
    for (int r = 0; r < 4; r++) {
      v[r] = _mm512_castps_si512(zsq_dwconv_v_avx512(acc[r], _mm512_castsi512_ps(mult[r]),
                                                     _mm512_castsi512_ps(offset[r]), lo, hi));
    }
    if (f32) {
      __m512i out[4];
      zsq_dwconv_transpose_lanes_avx512(v, out);
      const int halves = !split || second ? 2 : 1;
      for (int h = 0; h < halves; h++) {
        float *dst = (float *)output + px[h] * channels + c[h];
        _mm512_storeu_si512(dst, out[2 * h]);
        _mm512_storeu_si512(dst + 16, out[2 * h + 1]);
      }
    } else {
      __m512i q[4];
      for (int r = 0; r < 4; r++) q[r] = zsq_dwconv_code_avx512(_mm512_castsi512_ps(v[r]));
      const __m512i q01 = _mm512_packus_epi32(q[0], q[1]), q23 = _mm512_packus_epi32(q[2], q[3]);
      const __m512i codes = _mm512_packus_epi16(q01, q23);
      uint8_t *dst = (uint8_t *)output + px[0] * channels + c[0];
      if (!split) {
        _mm512_storeu_si512(dst, codes);
      } else {
        _mm256_storeu_si256((__m256i *)dst, _mm512_castsi512_si256(codes));
        if (second) {
          _mm256_storeu_si256((__m256i *)(dst + channels), _mm512_extracti64x4_epi64(codes, 1));
        }
      }
    }
  }
}

/* The whole 9-tap row: 64-channel tiles, a 32-channel one, then 16-channel and masked ones. */
static inline __attribute__((always_inline)) void zsq_dwconv3x3_avx512(
    size_t channels, size_t width, const uint8_t *const *input, const int8_t *weights, void *output,
    const zsq_dwconv_params *p, bool f32) {
  size_t c0 = 0;
  for (; c0 + 64 <= channels; c0 += 64) {
    zsq_dwconv3x3_tile_avx512(channels, c0, false, width, input, weights, output, p, f32);
  }
  if (c0 + 32 <= channels) {
    zsq_dwconv3x3_tile_avx512(channels, c0, true, width, input, weights, output, p, f32);
    c0 += 32;
  }
  zsq_dwconv_avx512(channels, c0, width, 9, input, weights, output, p, f32);
}

#endif
