/* gemm-config.c — GEMM kernel tables per ISA tier; host support read once from cpuinfo (x86) or
 * from the kernel's hardware capabilities, getauxval(AT_HWCAP) (aarch64 Linux). */
#include "kernels/configs/gemm-config.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuinfo.h>
#elif defined(__aarch64__)
#include "kernels/gemm-neon.h"
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif
#endif

/* Tiers of one architecture are ordered: each runs wherever a later one of its architecture does.
 * `supported` (a bit per tier) says which this host runs; best_tier is the highest of them. */
enum { TIER_SCALAR, TIER_AVX2, TIER_AVX512VNNI, TIER_NEON, TIER_NEONDOT, TIER_COUNT };

#define CONFIG_IGEMM(fn, isa, mr, nr, kr, wbits, pack, acc, requant2, igemm, igemm_acc, narrow) \
  {                                                                                             \
    fn, #fn, isa, mr, nr, kr, wbits, pack, acc, #acc, requant2, #requant2, igemm, #igemm,       \
        igemm_acc, #igemm_acc, narrow                                                           \
  }

#if defined(__x86_64__) || defined(__i386__)
/* The 14x16 VNNI tile for cout <= 16: the 14x32 tile would spend half its vpdpbusd on padding. */
static const zsq_gemm_config narrow_avx512vnni[ZSQ_GEMM_WT_COUNT] = {
    CONFIG_IGEMM(zsq_qu8_qc8w_gemm_requant_ukernel_14x16c4__avx512vnni, "avx512vnni", 14, 16, 4, 8,
                 zsq_gemm_pack_qc8w, zsq_qu8_qc8w_gemm_acc_ukernel_14x16c4__avx512vnni,
                 zsq_qs32_requant2_ukernel_x16__avx512vnni,
                 zsq_qu8_qc8w_igemm_requant_ukernel_14x16c4__avx512vnni,
                 zsq_qu8_qc8w_igemm_acc_ukernel_14x16c4__avx512vnni, NULL),
    CONFIG_IGEMM(zsq_qu8_qc4w_gemm_requant_ukernel_14x16c4__avx512vnni, "avx512vnni", 14, 16, 4, 4,
                 zsq_gemm_pack_qc4w_lo8, zsq_qu8_qc4w_gemm_acc_ukernel_14x16c4__avx512vnni,
                 zsq_qs32_requant2_ukernel_x16__avx512vnni,
                 zsq_qu8_qc4w_igemm_requant_ukernel_14x16c4__avx512vnni,
                 zsq_qu8_qc4w_igemm_acc_ukernel_14x16c4__avx512vnni, NULL),
};
#endif

static const zsq_gemm_config tables[TIER_COUNT][ZSQ_GEMM_WT_COUNT] = {
    [TIER_SCALAR] = {CONFIG_IGEMM(zsq_qu8_qc8w_gemm_requant_ukernel_1x1c1__scalar, "scalar", 1, 1,
                                  1, 8, zsq_gemm_pack_qc8w,
                                  zsq_qu8_qc8w_gemm_acc_ukernel_1x1c1__scalar,
                                  zsq_qs32_requant2_ukernel_x1__scalar,
                                  zsq_qu8_qc8w_igemm_requant_ukernel_1x1c1__scalar,
                                  zsq_qu8_qc8w_igemm_acc_ukernel_1x1c1__scalar, NULL),
                     CONFIG_IGEMM(zsq_qu8_qc4w_gemm_requant_ukernel_1x2c1__scalar, "scalar", 1, 2,
                                  1, 4, zsq_gemm_pack_qc4w,
                                  zsq_qu8_qc4w_gemm_acc_ukernel_1x2c1__scalar,
                                  zsq_qs32_requant2_ukernel_x1__scalar,
                                  zsq_qu8_qc4w_igemm_requant_ukernel_1x2c1__scalar,
                                  zsq_qu8_qc4w_igemm_acc_ukernel_1x2c1__scalar, NULL)},
#if defined(__x86_64__) || defined(__i386__)
    [TIER_AVX2] = {CONFIG_IGEMM(zsq_qu8_qc8w_gemm_requant_ukernel_6x16c2__avx2, "avx2", 6, 16, 2, 8,
                                zsq_gemm_pack_qc8w, zsq_qu8_qc8w_gemm_acc_ukernel_6x16c2__avx2,
                                zsq_qs32_requant2_ukernel_x8__avx2,
                                zsq_qu8_qc8w_igemm_requant_ukernel_6x16c2__avx2,
                                zsq_qu8_qc8w_igemm_acc_ukernel_6x16c2__avx2, NULL),
                   CONFIG_IGEMM(zsq_qu8_qc4w_gemm_requant_ukernel_4x16c4__avx2, "avx2", 4, 16, 4, 4,
                                zsq_gemm_pack_qc4w, zsq_qu8_qc4w_gemm_acc_ukernel_4x16c4__avx2,
                                zsq_qs32_requant2_ukernel_x8__avx2,
                                zsq_qu8_qc4w_igemm_requant_ukernel_4x16c4__avx2,
                                zsq_qu8_qc4w_igemm_acc_ukernel_4x16c4__avx2, NULL)},
    [TIER_AVX512VNNI] = {CONFIG_IGEMM(zsq_qu8_qc8w_gemm_requant_ukernel_14x32c4__avx512vnni,
                                      "avx512vnni", 14, 32, 4, 8, zsq_gemm_pack_qc8w,
                                      zsq_qu8_qc8w_gemm_acc_ukernel_14x32c4__avx512vnni,
                                      zsq_qs32_requant2_ukernel_x16__avx512vnni,
                                      zsq_qu8_qc8w_igemm_requant_ukernel_14x32c4__avx512vnni,
                                      zsq_qu8_qc8w_igemm_acc_ukernel_14x32c4__avx512vnni,
                                      &narrow_avx512vnni[ZSQ_GEMM_QC8W]),
                         CONFIG_IGEMM(zsq_qu8_qc4w_gemm_requant_ukernel_14x32c4__avx512vnni,
                                      "avx512vnni", 14, 32, 4, 4, zsq_gemm_pack_qc4w_lo8,
                                      zsq_qu8_qc4w_gemm_acc_ukernel_14x32c4__avx512vnni,
                                      zsq_qs32_requant2_ukernel_x16__avx512vnni,
                                      zsq_qu8_qc4w_igemm_requant_ukernel_14x32c4__avx512vnni,
                                      zsq_qu8_qc4w_igemm_acc_ukernel_14x32c4__avx512vnni,
                                      &narrow_avx512vnni[ZSQ_GEMM_QC4W])},
#endif
#if defined(__aarch64__)
    [TIER_NEON] = {CONFIG_IGEMM(zsq_qu8_qc8w_gemm_requant_ukernel_4x16c1__neon, "neon", 4, 16, 1, 8,
                                zsq_gemm_pack_qc8w, zsq_qu8_qc8w_gemm_acc_ukernel_4x16c1__neon,
                                zsq_qs32_requant2_ukernel_x8__neon,
                                zsq_qu8_qc8w_igemm_requant_ukernel_4x16c1__neon,
                                zsq_qu8_qc8w_igemm_acc_ukernel_4x16c1__neon, NULL),
                   CONFIG_IGEMM(zsq_qu8_qc4w_gemm_requant_ukernel_4x16c1__neon, "neon", 4, 16, 1, 4,
                                zsq_gemm_pack_qc4w, zsq_qu8_qc4w_gemm_acc_ukernel_4x16c1__neon,
                                zsq_qs32_requant2_ukernel_x8__neon,
                                zsq_qu8_qc4w_igemm_requant_ukernel_4x16c1__neon,
                                zsq_qu8_qc4w_igemm_acc_ukernel_4x16c1__neon, NULL)},
    [TIER_NEONDOT] = {CONFIG_IGEMM(zsq_qu8_qc8w_gemm_requant_ukernel_8x8c4__neondot, "neondot", 8,
                                   8, 4, 8, zsq_gemm_pack_qc8w,
                                   zsq_qu8_qc8w_gemm_acc_ukernel_8x8c4__neondot,
                                   zsq_qs32_requant2_ukernel_x8__neon,
                                   zsq_qu8_qc8w_igemm_requant_ukernel_8x8c4__neondot,
                                   zsq_qu8_qc8w_igemm_acc_ukernel_8x8c4__neondot, NULL),
                      CONFIG_IGEMM(zsq_qu8_qc4w_gemm_requant_ukernel_8x8c4__neondot, "neondot",
                                   8, 8, 4, 4, zsq_gemm_pack_qc4w,
                                   zsq_qu8_qc4w_gemm_acc_ukernel_8x8c4__neondot,
                                   zsq_qs32_requant2_ukernel_x8__neon,
                                   zsq_qu8_qc4w_igemm_requant_ukernel_8x8c4__neondot,
                                   zsq_qu8_qc4w_igemm_acc_ukernel_8x8c4__neondot, NULL)},
#endif
};
static const char *const tier_names[TIER_COUNT] = {"scalar", "avx2", "avx512vnni", "neon",
                                                   "neondot"};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int best_tier = TIER_SCALAR;            /* written once under `once`, read-only afterwards */
static unsigned supported = 1u << TIER_SCALAR; /* likewise */

static void detect(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (!cpuinfo_initialize()) return;
  if (cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3()) best_tier = TIER_AVX2;
  if (cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() && cpuinfo_has_x86_avx512vl() &&
      cpuinfo_has_x86_avx512vnni() && cpuinfo_has_x86_fma3()) {
    best_tier = TIER_AVX512VNNI;
  }
  for (int t = TIER_AVX2; t <= best_tier; t++) supported |= 1u << t;
#elif defined(__aarch64__)
  /* Advanced SIMD is part of every AArch64 core. The dot-product tier is read from the kernel's
   * hardware capabilities rather than cpuinfo, so the kernel-only cross build (ZSQ_KERNELS_ONLY)
   * needs no arm64 cpuinfo; qemu-aarch64's default "max" CPU reports it. */
  best_tier = TIER_NEON;
#if defined(__linux__)
  if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) best_tier = TIER_NEONDOT;
#endif
  for (int t = TIER_NEON; t <= best_tier; t++) supported |= 1u << t;
#endif
}

const zsq_gemm_config *zsq_gemm_config_best(zsq_gemm_wt wt) {
  pthread_once(&once, detect);
  return &tables[best_tier][wt];
}

zsq_status zsq_gemm_config_for_isa(const char *isa, zsq_gemm_wt wt, const zsq_gemm_config **out) {
  if (isa == NULL || out == NULL || (unsigned)wt >= ZSQ_GEMM_WT_COUNT) return ZSQ_ERR_INVALID_ARG;
  pthread_once(&once, detect);
  for (int t = 0; t < TIER_COUNT; t++) {
    if (strcmp(isa, tier_names[t]) != 0) continue;
    if (!(supported >> t & 1u)) return ZSQ_ERR_UNSUPPORTED;
    *out = &tables[t][wt];
    return ZSQ_OK;
  }
  return ZSQ_ERR_INVALID_ARG;
}
