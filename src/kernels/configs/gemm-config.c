/* gemm-config.c — GEMM kernel tables per ISA tier; host support read once from cpuinfo. */
#include "kernels/configs/gemm-config.h"

#include <cpuinfo.h>
#include <pthread.h>
#include <string.h>

enum { TIER_SCALAR, TIER_AVX2, TIER_AVX512VNNI, TIER_COUNT };

#define CONFIG(fn, isa, mr, nr, kr, wbits) \
  { fn, #fn, isa, mr, nr, kr, wbits }

static const zsq_gemm_config tables[TIER_COUNT][ZSQ_GEMM_WT_COUNT] = {
    [TIER_SCALAR] = {CONFIG(zsq_qu8_qc8w_gemm_requant_ukernel_1x1c1__scalar, "scalar", 1, 1, 1, 8),
                     CONFIG(zsq_qu8_qc4w_gemm_requant_ukernel_1x2c1__scalar, "scalar", 1, 2, 1, 4)},
#if defined(__x86_64__) || defined(__i386__)
    [TIER_AVX2] = {CONFIG(zsq_qu8_qc8w_gemm_requant_ukernel_6x16c2__avx2, "avx2", 6, 16, 2, 8),
                   CONFIG(zsq_qu8_qc4w_gemm_requant_ukernel_4x16c4__avx2, "avx2", 4, 16, 4, 4)},
    [TIER_AVX512VNNI] = {CONFIG(zsq_qu8_qc8w_gemm_requant_ukernel_14x32c4__avx512vnni, "avx512vnni",
                                14, 32, 4, 8),
                         CONFIG(zsq_qu8_qc4w_gemm_requant_ukernel_14x32c4__avx512vnni, "avx512vnni",
                                14, 32, 4, 4)},
#endif
};
static const char *const tier_names[TIER_COUNT] = {"scalar", "avx2", "avx512vnni"};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int best_tier = TIER_SCALAR; /* written once under `once`, read-only afterwards */

static void detect(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (!cpuinfo_initialize()) return;
  if (cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3()) best_tier = TIER_AVX2;
  if (cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() && cpuinfo_has_x86_avx512vl() &&
      cpuinfo_has_x86_avx512vnni() && cpuinfo_has_x86_fma3()) {
    best_tier = TIER_AVX512VNNI;
  }
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
    if (t > best_tier) return ZSQ_ERR_UNSUPPORTED;
    *out = &tables[t][wt];
    return ZSQ_OK;
  }
  return ZSQ_ERR_INVALID_ARG;
}
