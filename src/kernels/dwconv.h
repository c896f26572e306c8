/* dwconv.h — qu8 x qc8w depthwise convolution row ukernels: function type, operands, epilogue. */
#ifndef ZSQ_KERNELS_DWCONV_H
#define ZSQ_KERNELS_DWCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One call computes `width` output pixels of one output row, all `channels` channels
 * (depthwise, channel multiplier 1), XNNPACK "up"-style with an indirection buffer:
 *
 *   input[x * ks + k]  points at the channel-0 code of the input pixel under tap k of output pixel
 *                      x (u8 codes of any width 2..8 bits, channels contiguous); a padding tap
 *                      points at a row of zero-point codes. Channels [0, channels) are read.
 *   weights[k * channels + c]   int8 code of tap k, channel c (8/4/3/2-bit codes, one per int8);
 *                      one layout for every ISA, no padding.
 *   acc[x][c] = Σ_k input[x * ks + k][c] · weights[k * channels + c]    exact int32 (ks <= 65536)
 *
 * Epilogue per (x, c), the docs/kernels.md one with the clamp bounds in float:
 *   v = fmaf((float) (acc + bias[c]), mult[c], offset[c])      (int32 addition wraps)
 *   v = v > min ? v : min;  v = v < max ? v : max               (= x86 maxps/minps, NaN -> bound)
 *   requant: output[x * channels + c] = (uint8) floorf(v)       min/max: integer codes 0..255
 *   f32:     output[x * channels + c] = v                       (float *); min/max may be ±inf
 * bias[c] holds the zero-point correction −za · Σ_k w[k][c] (plus any integer term).
 *
 * `3x3` kernels require ks == 9 (any 9-tap window: 3x3, dilated, 1x9 ...); generic kernels take
 * any ks >= 1. Pure functions: no allocation, no threads; output must not overlap the inputs. */
typedef struct zsq_dwconv_params {
  const int32_t *bias; /* [channels] */
  const float *mult;   /* [channels] */
  const float *offset; /* [channels] */
  float min, max;
} zsq_dwconv_params;

typedef void (*zsq_dwconv_ukernel_fn)(size_t channels, size_t width, size_t ks,
                                      const uint8_t *const *input, const int8_t *weights,
                                      void *output, const zsq_dwconv_params *p);

#define ZSQ_DWCONV_DECLARE(isa, tile3x3, tile)                               \
  void zsq_qu8_qc8w_dwconv3x3_requant_ukernel_##tile3x3##c__##isa(           \
      size_t channels, size_t width, size_t ks, const uint8_t *const *input, \
      const int8_t *weights, void *output, const zsq_dwconv_params *p);      \
  void zsq_qu8_qc8w_dwconv3x3_f32_ukernel_##tile3x3##c__##isa(               \
      size_t channels, size_t width, size_t ks, const uint8_t *const *input, \
      const int8_t *weights, void *output, const zsq_dwconv_params *p);      \
  void zsq_qu8_qc8w_dwconv_requant_ukernel_##tile##c__##isa(                 \
      size_t channels, size_t width, size_t ks, const uint8_t *const *input, \
      const int8_t *weights, void *output, const zsq_dwconv_params *p);      \
  void zsq_qu8_qc8w_dwconv_f32_ukernel_##tile##c__##isa(                     \
      size_t channels, size_t width, size_t ks, const uint8_t *const *input, \
      const int8_t *weights, void *output, const zsq_dwconv_params *p);

/* The epilogue's clamp, as maxps(v, lo) then minps(v, hi): NaN becomes a bound, and a zero of
 * either sign equal to a bound becomes the bound (the f32 output is bit-exact across ISAs). */
static inline float zsq_dwconv_clamp(float v, float lo, float hi) {
  v = v > lo ? v : lo;
  return v < hi ? v : hi;
}

/* Scalar references (the oracles; any host). */
ZSQ_DWCONV_DECLARE(scalar, 1, 1)
#if defined(__x86_64__) || defined(__i386__)
/* Valid only where cpuinfo reports the ISA (see configs/dwconv-config.h). */
ZSQ_DWCONV_DECLARE(avx2, 8, 8)
ZSQ_DWCONV_DECLARE(avx512vnni, 64, 16)
#endif
#if defined(__aarch64__)
ZSQ_DWCONV_DECLARE(neon, 8, 8)
#endif

#ifdef __cplusplus
}
#endif

#endif
