/* dwconv-config.c — depthwise kernel tables per ISA tier; which tiers the host runs is asked of
 * gemm-config (one detection for every family). */
#include "kernels/configs/dwconv-config.h"

#include <pthread.h>
#include <string.h>

#include "kernels/configs/gemm-config.h"

/* In gemm-config's order: a later tier of an architecture runs wherever it is supported. */
enum { TIER_SCALAR, TIER_AVX2, TIER_AVX512VNNI, TIER_NEON, TIER_NEONDOT, TIER_COUNT };
static const char *const tier_names[TIER_COUNT] = {"scalar", "avx2", "avx512vnni", "neon",
                                                   "neondot"};

#define CONFIG(fn, isa, tile, ks) \
  { fn, #fn, isa, tile, ks }
#define TIER(isa, tile3x3, tile)                                                          \
  {                                                                                       \
    CONFIG(zsq_qu8_qc8w_dwconv3x3_requant_ukernel_##tile3x3##c__##isa, #isa, tile3x3, 9), \
        CONFIG(zsq_qu8_qc8w_dwconv3x3_f32_ukernel_##tile3x3##c__##isa, #isa, tile3x3, 9), \
        CONFIG(zsq_qu8_qc8w_dwconv_requant_ukernel_##tile##c__##isa, #isa, tile, 0),      \
        CONFIG(zsq_qu8_qc8w_dwconv_f32_ukernel_##tile##c__##isa, #isa, tile, 0)           \
  }

static const zsq_dwconv_config tables[TIER_COUNT][ZSQ_DWCONV_KIND_COUNT] = {
    [TIER_SCALAR] = TIER(scalar, 1, 1),
#if defined(__x86_64__) || defined(__i386__)
    [TIER_AVX2] = TIER(avx2, 8, 8),     [TIER_AVX512VNNI] = TIER(avx512vnni, 64, 16),
#endif
#if defined(__aarch64__)
    [TIER_NEON] = TIER(neon, 8, 8),     [TIER_NEONDOT] = TIER(neon, 8, 8),
#endif
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int best_tier = TIER_SCALAR;            /* written once under `once`, read-only afterwards */
static unsigned supported = 1u << TIER_SCALAR; /* likewise */

static void detect(void) {
  for (int t = TIER_SCALAR + 1; t < TIER_COUNT; t++) {
    const zsq_gemm_config *g;
    if (tables[t][0].ukernel == NULL) continue; /* not built for this architecture */
    if (zsq_gemm_config_for_isa(tier_names[t], ZSQ_GEMM_QC8W, &g) != ZSQ_OK) continue;
    supported |= 1u << t;
    best_tier = t;
  }
}

const zsq_dwconv_config *zsq_dwconv_config_best(zsq_dwconv_kind kind) {
  pthread_once(&once, detect);
  return &tables[best_tier][kind];
}

zsq_status zsq_dwconv_config_for_isa(const char *isa, zsq_dwconv_kind kind,
                                     const zsq_dwconv_config **out) {
  if (isa == NULL || out == NULL || (unsigned)kind >= ZSQ_DWCONV_KIND_COUNT) {
    return ZSQ_ERR_INVALID_ARG;
  }
  pthread_once(&once, detect);
  for (int t = 0; t < TIER_COUNT; t++) {
    if (strcmp(isa, tier_names[t]) != 0) continue;
    if (!(supported >> t & 1u)) return ZSQ_ERR_UNSUPPORTED;
    *out = &tables[t][kind];
    return ZSQ_OK;
  }
  return ZSQ_ERR_INVALID_ARG;
}
