/* zsq_file.h — the .zsq quantized-model file: graph, integer weight codes with per-channel scales,
 * activation grids (FakeQuant nodes) and the per-layer report (docs/file-format.md). */
#ifndef ZSQ_IO_ZSQ_FILE_H
#define ZSQ_IO_ZSQ_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"

/* One quantized layer as stored. */
typedef struct zsqf_layer {
  char *name; /* the Conv/Gemm node */
  int wbits, abits;
  int weight_tensor; /* graph tensor holding Ŵ = scale[row] · (code − zero point) */
  int64_t rows;      /* output channels */
  int row_stride,
      elem_stride; /* element (row r, k) of the logical weights is r·row_stride + k·elem_stride */
  float *scale;    /* rows */
  float *zero_point; /* rows: Ŵ = scale[row] · (code − zero_point[row]); NULL: symmetric */
  double in_min, in_max;
  float in_scale, in_zero_point;
  double weight_sqnr_db, isolated_sqnr_db, accumulated_sqnr_db;
} zsqf_layer;

/* Writes g (a simulated quantized graph) and its layers. Weight tensors are stored as codes. */
zsq_status zsq_file_write(const char *path, const zsq_graph *g, const zsqf_layer *layers,
                          int n_layers, zsq_err *err);
/* Reads and validates a .zsq file: *g is finalized, weights dequantized exactly as written. */
zsq_status zsq_file_read(const char *path, zsq_graph **g, zsqf_layer **layers, int *n_layers,
                         zsq_err *err);
void zsq_file_layers_free(zsqf_layer *layers, int n);

/* 1 when the buffer starts with the .zsq magic. */
int zsq_file_is_zsq(const void *data, size_t size);

#endif
