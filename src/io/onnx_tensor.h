/* onnx_tensor.h — decoding ONNX TensorProto messages (initializers, test data) into zsq tensors. */
#ifndef ZSQ_IO_ONNX_TENSOR_H
#define ZSQ_IO_ONNX_TENSOR_H

#include <stddef.h>

#include "graph/graph.h"
#include "onnx.pb-c.h"

/* Fill out->dtype, rank, dims and a freshly allocated out->data (zsq_aligned_free it) from tp.
 * float and int64 tensors come through; int32 is widened to int64. Declared sizes are checked
 * against the data present; a mismatch is ZSQ_ERR_FORMAT, any other dtype ZSQ_ERR_UNSUPPORTED. */
zsq_status zsq_onnx_decode_tensor(const Onnx__TensorProto *tp, zsq_tensor *out, zsq_err *err);

/* Read a serialized TensorProto file (ONNX backend test data: input_N.pb / output_N.pb). */
zsq_status zsq_onnx_read_tensor_file(const char *path, zsq_tensor *out, zsq_err *err);

#endif
