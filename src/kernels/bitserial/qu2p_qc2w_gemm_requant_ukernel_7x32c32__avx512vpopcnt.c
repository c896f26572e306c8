/* qu2p_qc2w_gemm_requant_ukernel_7x32c32__avx512vpopcnt.c — W2A2 bit-serial GEMM, 7x32 tile. */
/* Why this tile (Emerald Rapids, measured): vpopcntd zmm issues on one port (p5), vpandd and
 * vpdpwssd on two (p0, p5). Every plane pair costs and + popcount + accumulate, 3 uops per 32
 * codes x 16 columns, so the loop is issue-bound at 12 uops per 512 MAC whatever the tile; the
 * tile only has to feed those uops without other work:
 * - N along the 16 dword lanes (one output column each, 32 codes of K per lane and step): no
 *   horizontal reduction, the int32 accumulators go straight into requant-avx512.h, and K pads
 *   only to 32;
 * - the activation words are broadcast from memory (a load, no ALU uop);
 * - vpdpwssd with a constant dword weight (1, 2, -2, -4) folds the plane weight into the
 *   accumulate, so one accumulator per row and 16 columns: 7 x 2 accumulators + 4 weight
 *   registers + 2 broadcasts + temporaries fit 32 zmm without spills;
 * - MR = 7 divides every ResNet GEMM M (49·2^j), NR = 32 every ResNet-18 N; a 16-column instance
 *   serves N = 16 (the ResNet-20 teacher) and tails. */
#include "kernels/bitserial.h"
#include "kernels/gemm/requant-avx512.h"
#include "kernels/unroll.h"

#define MR 7

/* vpopcntd leaves the count (0..32) in the low 16 bits of each dword, so vpdpwssd with the dword
 * weight wt adds count·wt (the zero high half times wt's high half adds 0). No saturation. */
static inline __m512i acc_plane(__m512i acc, __m512i a, __m512i w, __m512i wt) {
  return _mm512_dpwssd_epi32(acc, _mm512_popcnt_epi32(_mm512_and_si512(a, w)), wt);
}

static inline __m512i bcast32(const uint8_t *a) {
  int32_t x;
  __builtin_memcpy(&x, a, sizeof x);
  return _mm512_set1_epi32(x);
}

/* Columns n0 .. n0 + 16·NV of the call (NV = 1 or 2 vectors), w at their packed block. */
static inline __attribute__((always_inline)) void tile(
    const size_t NV, size_t mr, size_t n0, size_t nc, size_t steps, const uint8_t *const ar[MR],
    const zsq_qc2w_block_32x32 *w, uint8_t *c, size_t c_stride, const zsq_gemm_requant_params *p) {
  const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2);
  const __m512i mtwo = _mm512_set1_epi32(-2), mfour = _mm512_set1_epi32(-4);
  __m512i acc[MR][2];
  ZSQ_UNROLL for (size_t i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
  for (size_t s = 0; s < steps; s++) {
    __m512i w0[2], w1[2];
    ZSQ_UNROLL for (size_t v = 0; v < NV; v++) {
      w0[v] = _mm512_loadu_si512(w[s].plane[0] + 16 * v);
      w1[v] = _mm512_loadu_si512(w[s].plane[1] + 16 * v);
    }
    /* Codes 32·s .. 32·s + 31: dword s % 4 of block s / 4, plane 1 16 bytes after plane 0. */
    const size_t off = s / 4 * sizeof(zsq_bitplanes_2b_block) + s % 4 * sizeof(uint32_t);
    ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
      const __m512i a0 = bcast32(ar[i] + off), a1 = bcast32(ar[i] + off + 16);
      ZSQ_UNROLL for (size_t v = 0; v < NV; v++) {
        acc[i][v] = acc_plane(acc[i][v], a0, w0[v], one);
        acc[i][v] = acc_plane(acc[i][v], a1, w0[v], two);
        acc[i][v] = acc_plane(acc[i][v], a0, w1[v], mtwo);
        acc[i][v] = acc_plane(acc[i][v], a1, w1[v], mfour);
      }
    }
  }
  zsq_requant_cols_avx512 cols[2];
  ZSQ_UNROLL for (size_t v = 0; v < NV; v++) cols[v] =
      zsq_requant_cols_avx512_load(p, n0 + 16 * v, nc);
  ZSQ_UNROLL for (size_t i = 0; i < MR; i++) {
    if (i < mr) {
      ZSQ_UNROLL for (size_t v = 0; v < NV; v++) {
        zsq_requant_store_avx512(acc[i][v], &cols[v], p, i, c + i * c_stride + n0 + 16 * v);
      }
    }
  }
}

void zsq_qu2p_qc2w_gemm_requant_ukernel_7x32c32__avx512vpopcnt(size_t mr, size_t nc, size_t kc,
                                                               const void *a, size_t a_stride,
                                                               const void *w, uint8_t *c,
                                                               size_t c_stride,
                                                               const zsq_gemm_requant_params *p) {
  const uint8_t *ar[MR]; /* rows >= mr alias row mr - 1 and are not stored */
  for (size_t i = 0; i < MR; i++) ar[i] = (const uint8_t *)a + (i < mr ? i : mr - 1) * a_stride;
  const size_t steps = (kc + 31) / 32;
  const zsq_qc2w_block_32x32 *wb = w;
  for (size_t n0 = 0; n0 < nc; n0 += 32, wb += steps) {
    if (nc - n0 > 16) {
      tile(2, mr, n0, nc, steps, ar, wb, c, c_stride, p);
    } else {
      tile(1, mr, n0, nc, steps, ar, wb, c, c_stride, p);
    }
  }
}
