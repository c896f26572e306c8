/* bitserial-config.h — the W2A2 bit-serial ukernel and activation packer per ISA tier. */
#ifndef ZSQ_KERNELS_CONFIGS_BITSERIAL_CONFIG_H
#define ZSQ_KERNELS_CONFIGS_BITSERIAL_CONFIG_H

#include "kernels/bitserial.h"
#include "zsq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A ukernel, the weight packing it reads (zsq_bitserial_pack_qc2w(n, k, nr, kw, ...)) and the
 * fastest activation packer of the same tier (any packer gives the same bytes). */
typedef struct zsq_bitserial_config {
  zsq_bitserial_requant_ukernel_fn ukernel;
  const char *name; /* the ukernel's function name */
  const char *isa;  /* "scalar", "avx512vpopcnt" or "neon" */
  int mr, nr, kw;
  zsq_pack_a_bitplanes_2b_fn pack_a;
  const char *pack_a_name;
} zsq_bitserial_config;

/* The best tier this host runs. Never NULL (the scalar tier runs anywhere). */
const zsq_bitserial_config *zsq_bitserial_config_best(void);

/* The tier isa ("scalar", "avx512vpopcnt", "neon") into *out: ZSQ_ERR_INVALID_ARG for an unknown
 * name, ZSQ_ERR_UNSUPPORTED when this host (or this build) lacks the ISA. */
zsq_status zsq_bitserial_config_for_isa(const char *isa, const zsq_bitserial_config **out);

#ifdef __cplusplus
}
#endif

#endif
