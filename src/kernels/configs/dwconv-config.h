/* dwconv-config.h — the depthwise ukernels per ISA tier, chosen once (tiers as in gemm-config). */
#ifndef ZSQ_KERNELS_CONFIGS_DWCONV_CONFIG_H
#define ZSQ_KERNELS_CONFIGS_DWCONV_CONFIG_H

#include "kernels/dwconv.h"
#include "zsq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The four kernels of one tier: 9-tap or any window, code or float output. */
typedef enum zsq_dwconv_kind {
  ZSQ_DWCONV_3X3_REQUANT = 0,
  ZSQ_DWCONV_3X3_F32 = 1,
  ZSQ_DWCONV_REQUANT = 2,
  ZSQ_DWCONV_F32 = 3,
  ZSQ_DWCONV_KIND_COUNT
} zsq_dwconv_kind;

typedef struct zsq_dwconv_config {
  zsq_dwconv_ukernel_fn ukernel;
  const char *name; /* the ukernel's function name */
  const char *isa;  /* "scalar", "avx2", "avx512vnni" or "neon" */
  int channel_tile; /* channels per vector step */
  int ks;           /* 9 for the 3x3 kernels, 0: any window */
} zsq_dwconv_config;

/* The best kernel of `kind` this host runs. Never NULL (the scalar tier runs anywhere). */
const zsq_dwconv_config *zsq_dwconv_config_best(zsq_dwconv_kind kind);

/* The kernel of tier isa ("scalar", "avx2", "avx512vnni", "neon", "neondot"; the last runs the
 * NEON kernels) into *out: ZSQ_ERR_INVALID_ARG for an unknown name, ZSQ_ERR_UNSUPPORTED when this
 * host (or this build) lacks the ISA. Host support is gemm-config's. */
zsq_status zsq_dwconv_config_for_isa(const char *isa, zsq_dwconv_kind kind,
                                     const zsq_dwconv_config **out);

#ifdef __cplusplus
}
#endif

#endif
