/* kernels.c — public description of the integer kernels chosen per ISA tier (zsq inspect --isa). */
#include <stdio.h>

#include "kernels/configs/dwconv-config.h"
#include "kernels/configs/gemm-config.h"

zsq_status zsq_kernels_describe(const char *isa, char *buf, size_t size) {
  if (buf == NULL || size == 0) return ZSQ_ERR_INVALID_ARG;
  buf[0] = '\0';
  const zsq_gemm_config *g8 = zsq_gemm_config_best(ZSQ_GEMM_QC8W);
  const zsq_gemm_config *g4 = zsq_gemm_config_best(ZSQ_GEMM_QC4W);
  const zsq_dwconv_config *d3 = zsq_dwconv_config_best(ZSQ_DWCONV_3X3_REQUANT);
  const zsq_dwconv_config *dk = zsq_dwconv_config_best(ZSQ_DWCONV_REQUANT);
  if (isa != NULL) {
    zsq_status st = zsq_gemm_config_for_isa(isa, ZSQ_GEMM_QC8W, &g8);
    if (st == ZSQ_OK) st = zsq_gemm_config_for_isa(isa, ZSQ_GEMM_QC4W, &g4);
    if (st == ZSQ_OK) st = zsq_dwconv_config_for_isa(isa, ZSQ_DWCONV_3X3_REQUANT, &d3);
    if (st == ZSQ_OK) st = zsq_dwconv_config_for_isa(isa, ZSQ_DWCONV_REQUANT, &dk);
    if (st != ZSQ_OK) return st;
  }
  snprintf(buf, size,
           "W8 GEMM (conv, 1x1, fully connected): %s\n"
           "W4/W3/W2 GEMM: %s\n"
           "two-stage epilogue (residual, float output): %s + %s\n"
           "depthwise 3x3: %s\n"
           "depthwise, other windows: %s\n",
           g8->name, g4->name, g8->acc_name ? g8->acc_name : "(scalar tier)",
           g8->requant2_name ? g8->requant2_name : "(scalar tier)", d3->name, dk->name);
  return ZSQ_OK;
}
