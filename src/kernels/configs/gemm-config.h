/* gemm-config.h — the GEMM ukernel per weight width and ISA tier, chosen once from cpuinfo. */
#ifndef ZSQ_KERNELS_CONFIGS_GEMM_CONFIG_H
#define ZSQ_KERNELS_CONFIGS_GEMM_CONFIG_H

#include "kernels/gemm.h"
#include "kernels/requant2.h"
#include "zsq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum zsq_gemm_wt { ZSQ_GEMM_QC8W = 0, ZSQ_GEMM_QC4W = 1, ZSQ_GEMM_WT_COUNT } zsq_gemm_wt;

/* A ukernel and the packing it reads: pack with pack(n, k, nr, kr, ...), one of
 * zsq_gemm_pack_qc8w, zsq_gemm_pack_qc4w and zsq_gemm_pack_qc4w_lo8 (the VNNI tiers' W4).
 * Tiers with a two-stage path also give the gemm_acc kernel on the same packing and the int32
 * epilogue (requant2.h) that follows it; both NULL where the tier has none yet. Tiers with the
 * igemm family (gemm.h) give its requant and acc kernels on the same tile and packing (NULL
 * otherwise), and `narrow` is the tier's 16-column tile for layers of at most 16 output channels
 * (NULL where the tier has none; its own `narrow` is NULL). */
typedef struct zsq_gemm_config {
  zsq_gemm_requant_ukernel_fn ukernel;
  const char *name; /* the ukernel's function name */
  const char *isa;  /* "scalar", "avx2", "avx512vnni", "neon" or "neondot" */
  int mr, nr, kr, wbits;
  zsq_gemm_pack_fn pack;
  zsq_gemm_acc_ukernel_fn acc;
  const char *acc_name;
  zsq_requant2_ukernel_fn requant2;
  const char *requant2_name;
  zsq_igemm_requant_ukernel_fn igemm;
  const char *igemm_name;
  zsq_igemm_acc_ukernel_fn igemm_acc;
  const char *igemm_acc_name;
  const struct zsq_gemm_config *narrow;
} zsq_gemm_config;

/* The best kernel the host runs for weight width wt. Never NULL (the scalar tier runs anywhere). */
const zsq_gemm_config *zsq_gemm_config_best(zsq_gemm_wt wt);

/* The kernel of tier isa ("scalar", "avx2", "avx512vnni", "neon", "neondot") into *out:
 * ZSQ_ERR_INVALID_ARG for an unknown name, ZSQ_ERR_UNSUPPORTED when this host (or this build) lacks
 * the ISA. */
zsq_status zsq_gemm_config_for_isa(const char *isa, zsq_gemm_wt wt, const zsq_gemm_config **out);

#ifdef __cplusplus
}
#endif

#endif
