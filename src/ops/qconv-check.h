/* qconv-check.h — checks shared by the convolution operator and its reference: desc, geometry,
 * run arguments. */
#ifndef ZSQ_OPS_QCONV_CHECK_H
#define ZSQ_OPS_QCONV_CHECK_H

#include "ops/im2col.h"
#include "ops/qconv.h"

/* Largest K = kh·kw·cin/groups: keeps every int32 accumulator exact (docs/kernels.md). */
#define ZSQ_QCONV_MAX_K 65536

/* Everything create needs of d: ZSQ_ERR_INVALID_ARG for impossible values, ZSQ_ERR_UNSUPPORTED
 * for grouped non-depthwise convolution or K > ZSQ_QCONV_MAX_K. */
zsq_status zsq_qconv_validate(const zsq_qconv_desc *d, zsq_err *err);

/* The geometry of a validated d on an h x w input (oh = ow = 0 when the window does not fit). */
void zsq_conv_geom_init(const zsq_qconv_desc *d, int64_t h, int64_t w, zsq_conv_geom *g);

/* Checks run's arguments for n images of g and sets *pixels = n·oh·ow (the GEMM's M). */
zsq_status zsq_qconv_check_run(const zsq_qconv_desc *d, const zsq_conv_geom *g, int64_t n,
                               const uint8_t *in, const void *residual, const void *out,
                               int64_t *pixels, zsq_err *err);

#endif
