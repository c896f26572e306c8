/* ops.h — the float operator implementations registered in the op table (ops_table.c). */
#ifndef ZSQ_FLOAT_OPS_H
#define ZSQ_FLOAT_OPS_H

#include "float/plan.h"

extern const zsq_fop zsq_fop_conv;
extern const zsq_fop zsq_fop_batchnorm;
extern const zsq_fop zsq_fop_relu;
extern const zsq_fop zsq_fop_clip;
extern const zsq_fop zsq_fop_add;
extern const zsq_fop zsq_fop_mul;
extern const zsq_fop zsq_fop_identity;
extern const zsq_fop zsq_fop_maxpool;
extern const zsq_fop zsq_fop_avgpool;
extern const zsq_fop zsq_fop_globalavgpool;
extern const zsq_fop zsq_fop_gemm;
extern const zsq_fop zsq_fop_matmul;
extern const zsq_fop zsq_fop_flatten;
extern const zsq_fop zsq_fop_reshape;
extern const zsq_fop zsq_fop_concat;
extern const zsq_fop zsq_fop_softmax;
extern const zsq_fop zsq_fop_fakequant;
extern const zsq_fop zsq_fop_swing;

/* Initialises XNNPACK once per process. */
zsq_status zsq_xnnpack_init(zsq_err *err);

/* Sets out to the same shape as in. */
void zsq_value_same_shape(zsq_value *out, const zsq_value *in);

#endif
