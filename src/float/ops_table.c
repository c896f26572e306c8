/* ops_table.c — maps each IR operator to its float implementation. */
#include "float/ops.h"

const zsq_fop *zsq_fop_for(zsq_op op) {
  static const zsq_fop *const table[ZSQ_OP_COUNT] = {
      [ZSQ_OP_CONV] = &zsq_fop_conv,
      [ZSQ_OP_BATCHNORM] = &zsq_fop_batchnorm,
      [ZSQ_OP_RELU] = &zsq_fop_relu,
      [ZSQ_OP_CLIP] = &zsq_fop_clip,
      [ZSQ_OP_ADD] = &zsq_fop_add,
      [ZSQ_OP_MUL] = &zsq_fop_mul,
      [ZSQ_OP_MAXPOOL] = &zsq_fop_maxpool,
      [ZSQ_OP_AVGPOOL] = &zsq_fop_avgpool,
      [ZSQ_OP_GLOBALAVGPOOL] = &zsq_fop_globalavgpool,
      [ZSQ_OP_GEMM] = &zsq_fop_gemm,
      [ZSQ_OP_MATMUL] = &zsq_fop_matmul,
      [ZSQ_OP_FLATTEN] = &zsq_fop_flatten,
      [ZSQ_OP_RESHAPE] = &zsq_fop_reshape,
      [ZSQ_OP_IDENTITY] = &zsq_fop_identity,
      [ZSQ_OP_CONCAT] = &zsq_fop_concat,
      [ZSQ_OP_SOFTMAX] = &zsq_fop_softmax,
      [ZSQ_OP_FAKEQUANT] = &zsq_fop_fakequant,
      [ZSQ_OP_SWING] = &zsq_fop_swing,
  };
  return table[op];
}
