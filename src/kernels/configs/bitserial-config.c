/* bitserial-config.c — W2A2 bit-serial kernel table per ISA tier; host support read once. */
#include "kernels/configs/bitserial-config.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuinfo.h>
#endif

enum { TIER_SCALAR, TIER_AVX512VPOPCNT, TIER_NEON, TIER_COUNT };

#define CONFIG(fn, isa, mr, nr, kw, pack_a) \
  { fn, #fn, isa, mr, nr, kw, pack_a, #pack_a }

static const zsq_bitserial_config tables[TIER_COUNT] = {
    [TIER_SCALAR] = CONFIG(zsq_qu2p_qc2w_gemm_requant_ukernel_1x1c64__scalar, "scalar", 1, 1, 64,
                           zsq_pack_a_bitplanes_2b),
#if defined(__x86_64__) || defined(__i386__)
    [TIER_AVX512VPOPCNT] =
        CONFIG(zsq_qu2p_qc2w_gemm_requant_ukernel_7x32c32__avx512vpopcnt, "avx512vpopcnt", 7, 32,
               32, zsq_pack_a_bitplanes_2b__avx512vpopcnt),
#endif
#if defined(__aarch64__)
    [TIER_NEON] = CONFIG(zsq_qu2p_qc2w_gemm_requant_ukernel_4x4c128__neon, "neon", 4, 4, 128,
                         zsq_pack_a_bitplanes_2b),
#endif
};
static const char *const tier_names[TIER_COUNT] = {"scalar", "avx512vpopcnt", "neon"};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int best_tier = TIER_SCALAR;            /* written once under `once`, read-only afterwards */
static unsigned supported = 1u << TIER_SCALAR; /* likewise */

static void detect(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (!cpuinfo_initialize()) return;
  if (cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() && cpuinfo_has_x86_avx512vl() &&
      cpuinfo_has_x86_avx512vnni() && cpuinfo_has_x86_avx512vpopcntdq()) {
    best_tier = TIER_AVX512VPOPCNT;
  }
#elif defined(__aarch64__)
  best_tier = TIER_NEON; /* Advanced SIMD (CNT) is part of every AArch64 core */
#endif
  supported |= 1u << best_tier;
}

const zsq_bitserial_config *zsq_bitserial_config_best(void) {
  pthread_once(&once, detect);
  return &tables[best_tier];
}

zsq_status zsq_bitserial_config_for_isa(const char *isa, const zsq_bitserial_config **out) {
  if (isa == NULL || out == NULL) return ZSQ_ERR_INVALID_ARG;
  pthread_once(&once, detect);
  for (int t = 0; t < TIER_COUNT; t++) {
    if (strcmp(isa, tier_names[t]) != 0) continue;
    if (!(supported >> t & 1u)) return ZSQ_ERR_UNSUPPORTED;
    *out = &tables[t];
    return ZSQ_OK;
  }
  return ZSQ_ERR_INVALID_ARG;
}
