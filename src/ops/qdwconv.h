/* qdwconv.h — depthwise integer convolution (groups == cin == cout), dispatched from qconv.c. */
#ifndef ZSQ_OPS_QDWCONV_H
#define ZSQ_OPS_QDWCONV_H

#include "ops/qconv.h"

/* Same contract as the zsq_qconv_* functions of qconv.h, for descs with groups == cin == cout.
 * create: ZSQ_ERR_INVALID_ARG for a bad desc, ZSQ_ERR_UNSUPPORTED for a valid one that is not
 * depthwise (groups != cin), a channel multiplier other than 1, a window over 65536 taps or an
 * ISA the host lacks.
 * scratch_size: `threads` must be at least pthreadpool_get_threads_count() of the pool that run()
 * gets (1 for NULL): run() uses one scratch slot per pool thread.
 * kernel_name: the dwconv ukernel run ("..._requant_..." when stage 2 is folded into it). */
typedef struct zsq_qdwconv zsq_qdwconv;
zsq_status zsq_qdwconv_create(const zsq_qconv_desc *d, zsq_qdwconv **out, zsq_err *err);
void zsq_qdwconv_destroy(zsq_qdwconv *op);
size_t zsq_qdwconv_scratch_size(const zsq_qdwconv *op, int64_t n, int64_t h, int64_t w,
                                size_t threads);
zsq_status zsq_qdwconv_run(const zsq_qdwconv *op, int64_t n, int64_t h, int64_t w,
                           const uint8_t *in, const void *residual, void *out, void *scratch,
                           pthreadpool_t tp, zsq_err *err);
const char *zsq_qdwconv_kernel_name(const zsq_qdwconv *op);
zsq_status zsq_qdwconv_ref(const zsq_qconv_desc *d, int64_t n, int64_t h, int64_t w,
                           const uint8_t *in, const void *residual, void *out, zsq_err *err);

#endif
