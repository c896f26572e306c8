/* onnx_import.h — reading an ONNX model file into a zsq float graph. */
#ifndef ZSQ_IO_ONNX_IMPORT_H
#define ZSQ_IO_ONNX_IMPORT_H

#include <stddef.h>

#include "graph/graph.h"

/* Decode and validate; on success *out is a finalized graph (topologically sorted). */
zsq_status zsq_onnx_import_buffer(const void *data, size_t size, zsq_graph **out, zsq_err *err);
zsq_status zsq_onnx_import_file(const char *path, zsq_graph **out, zsq_err *err);

#endif
