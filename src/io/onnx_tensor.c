/* onnx_tensor.c — TensorProto decoding with size checks. */
#include "io/onnx_tensor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/file_map.h"
#include "io/pb_guard.h"

static const char *dtype_name(int32_t t) {
  static const char *const names[] = {"UNDEFINED",  "FLOAT",   "UINT8",  "INT8",   "UINT16",
                                      "INT16",      "INT32",   "INT64",  "STRING", "BOOL",
                                      "FLOAT16",    "DOUBLE",  "UINT32", "UINT64", "COMPLEX64",
                                      "COMPLEX128", "BFLOAT16"};
  return (t >= 0 && t <= 16) ? names[t] : "unknown";
}

zsq_status zsq_onnx_decode_tensor(const Onnx__TensorProto *tp, zsq_tensor *out, zsq_err *err) {
  const char *name = tp->name ? tp->name : "";
  if (tp->n_dims > ZSQ_MAX_RANK) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "tensor '%s' has rank %zu (at most %d supported)",
                    name, tp->n_dims, ZSQ_MAX_RANK);
  }
  if (tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL || tp->n_external_data) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "tensor '%s' uses external data files", name);
  }
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] < 0) {
      return zsq_fail(err, ZSQ_ERR_FORMAT, "tensor '%s' has negative dim %lld", name,
                      (long long)tp->dims[i]);
    }
    out->dims[i] = tp->dims[i];
  }
  out->rank = (int)tp->n_dims;
  int64_t numel = zsq_dims_product(out->dims, out->rank);
  if (numel < 0 || numel > ((int64_t)1 << 40)) {
    return zsq_fail(err, ZSQ_ERR_FORMAT, "tensor '%s' declares an impossible size", name);
  }
  size_t n = (size_t)numel;
  int32_t dt = tp->data_type;
  size_t esize;
  size_t typed_count;
  if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
    out->dtype = ZSQ_F32;
    esize = 4;
    typed_count = tp->n_float_data;
  } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
    out->dtype = ZSQ_I64;
    esize = 8;
    typed_count = tp->n_int64_data;
  } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32) {
    out->dtype = ZSQ_I64;
    esize = 4;
    typed_count = tp->n_int32_data;
  } else {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "tensor '%s' has data type %s (zsq computes in FLOAT)", name, dtype_name(dt));
  }
  if (tp->has_raw_data) {
    if (tp->raw_data.len != n * esize) {
      return zsq_fail(err, ZSQ_ERR_FORMAT,
                      "tensor '%s' declares %zu elements (%zu bytes) but holds %zu bytes of data",
                      name, n, n * esize, tp->raw_data.len);
    }
  } else if (typed_count != n) {
    return zsq_fail(err, ZSQ_ERR_FORMAT, "tensor '%s' declares %zu elements but holds %zu", name, n,
                    typed_count);
  }
  size_t out_size = out->dtype == ZSQ_I64 ? 8 : 4;
  void *data = zsq_aligned_alloc(n * out_size);
  if (data == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory for tensor '%s'", name);
  const uint8_t *raw = tp->raw_data.data;
  if (n == 0) {
    out->data = data;
    return ZSQ_OK;
  }
  if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
    if (tp->has_raw_data)
      memcpy(data, raw, n * 4); /* little-endian host */
    else
      memcpy(data, tp->float_data, n * 4);
  } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
    if (tp->has_raw_data)
      memcpy(data, raw, n * 8);
    else
      memcpy(data, tp->int64_data, n * 8);
  } else {
    int64_t *d = data;
    for (size_t i = 0; i < n; i++) {
      int32_t v;
      if (tp->has_raw_data)
        memcpy(&v, raw + 4 * i, 4);
      else
        v = tp->int32_data[i];
      d[i] = v;
    }
  }
  out->data = data;
  return ZSQ_OK;
}

zsq_status zsq_onnx_read_tensor_file(const char *path, zsq_tensor *out, zsq_err *err) {
  zsq_file_view view;
  ZSQ_TRY(zsq_file_map(path, &view, err));
  Onnx__TensorProto *tp = zsq_pb_depth_ok(view.data, view.size, ZSQ_PB_MAX_DEPTH)
                              ? onnx__tensor_proto__unpack(NULL, view.size, view.data)
                              : NULL;
  zsq_file_unmap(&view);
  if (tp == NULL) return zsq_fail(err, ZSQ_ERR_FORMAT, "'%s' is not a valid TensorProto", path);
  zsq_status st = zsq_onnx_decode_tensor(tp, out, err);
  onnx__tensor_proto__free_unpacked(tp, NULL);
  return st;
}
