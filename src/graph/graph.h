/* graph.h — the float IR: named tensors (values and constants) and operator nodes, ONNX order. */
#ifndef ZSQ_GRAPH_GRAPH_H
#define ZSQ_GRAPH_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define ZSQ_MAX_RANK 8
#define ZSQ_MAX_INPUTS 8

typedef enum zsq_op {
  ZSQ_OP_CONV,
  ZSQ_OP_BATCHNORM,
  ZSQ_OP_RELU,
  ZSQ_OP_CLIP,
  ZSQ_OP_ADD,
  ZSQ_OP_MUL,
  ZSQ_OP_MAXPOOL,
  ZSQ_OP_AVGPOOL,
  ZSQ_OP_GLOBALAVGPOOL,
  ZSQ_OP_GEMM,
  ZSQ_OP_MATMUL,
  ZSQ_OP_FLATTEN,
  ZSQ_OP_RESHAPE,
  ZSQ_OP_IDENTITY,
  ZSQ_OP_CONCAT,
  ZSQ_OP_SOFTMAX,
  ZSQ_OP_ONNX_COUNT, /* operators above are imported from ONNX; below are zsq's own */
  ZSQ_OP_FAKEQUANT = ZSQ_OP_ONNX_COUNT,
  ZSQ_OP_SWING, /* synthesis only: a random ±1-pixel reflect-padded shift (GENIE's swing conv) */
  ZSQ_OP_COUNT
} zsq_op;

const char *zsq_op_name(zsq_op op);

typedef enum zsq_dtype { ZSQ_F32 = 1, ZSQ_I64 = 7 } zsq_dtype;

typedef enum zsq_auto_pad {
  ZSQ_PAD_NOTSET,
  ZSQ_PAD_VALID,
  ZSQ_PAD_SAME_UPPER,
  ZSQ_PAD_SAME_LOWER
} zsq_auto_pad;

/* A tensor of the graph. Constants hold their data in logical (ONNX, row-major) order. */
typedef struct zsq_tensor {
  char *name;
  zsq_dtype dtype;
  int rank;                   /* -1 while unknown (an intermediate value before inference) */
  int64_t dims[ZSQ_MAX_RANK]; /* -1 for a dynamic dim (batch) */
  int is_const;
  void *data;   /* constants only: float or int64_t elements */
  int producer; /* node index, or -1 for inputs and constants */
} zsq_tensor;

/* Spatial window attributes shared by Conv and the pools (2-D only). */
typedef struct zsq_window {
  int64_t kernel[2], strides[2], dilations[2];
  int64_t pads[4]; /* top, left, bottom, right (ONNX order: begin h, begin w, end h, end w) */
  zsq_auto_pad auto_pad;
} zsq_window;

typedef struct zsq_node {
  char *name;
  zsq_op op;
  int opset;
  int n_inputs, n_outputs;
  int inputs[ZSQ_MAX_INPUTS]; /* tensor indices; -1 for an omitted optional input */
  int outputs[2];
  union {
    struct {
      zsq_window win;
      int64_t group;
    } conv;
    struct {
      float epsilon;
    } bn;
    struct {
      float min, max;
    } clip;
    struct {
      zsq_window win;
      int ceil_mode, count_include_pad;
    } pool;
    struct {
      float alpha, beta;
      int trans_a, trans_b;
    } gemm;
    struct {
      int64_t axis;
    } axis; /* Flatten, Concat, Softmax */
    struct {
      int allowzero;
    } reshape;
    /* FakeQuant: q = clamp(floor(x·inv_scale + zero_point + 0.5), qmin, qmax); y = (q − zp)·scale.
     * With inputs 1, 2 (constants [C] of a_c, b_c: AQuant border B(t) = a_c + b_c·t on the channel
     * axis, dim 1): q = floor(clamp(fmaf(x, (1 − b_c)·inv_scale, (1 − b_c)·zp + 1 − a_c), qmin,
     * qmax)) (docs/kernels.md). */
    struct {
      float scale, inv_scale, zero_point, qmin, qmax;
    } fq;
  } a;
  /* Fused output clamp (set by zsq_graph_fuse_activations; -inf/+inf when none). */
  float act_min, act_max;
} zsq_node;

typedef struct zsq_meta {
  char *key, *value;
} zsq_meta;

typedef struct zsq_graph {
  zsq_tensor *tensors;
  size_t n_tensors, cap_tensors;
  zsq_node *nodes; /* in a valid topological order after zsq_graph_finalize */
  size_t n_nodes, cap_nodes;
  int *inputs, *outputs; /* graph inputs (non-constant) and outputs, as tensor indices */
  size_t n_inputs, n_outputs;
  zsq_meta *meta;
  size_t n_meta;
  int64_t opset;
} zsq_graph;

zsq_graph *zsq_graph_new(void);
void zsq_graph_free(zsq_graph *g);
/* Deep copy (constants included). */
zsq_graph *zsq_graph_clone(const zsq_graph *g);

/* Index of the tensor called name, or -1. */
int zsq_graph_find(const zsq_graph *g, const char *name);
/* Append a tensor; returns its index or -1 on allocation failure. */
int zsq_graph_add_tensor(zsq_graph *g, const char *name);
/* Append a node (copied); returns its index or -1. */
int zsq_graph_add_node(zsq_graph *g, const zsq_node *n);

/* How many node inputs and graph outputs read tensor t; *only gets the last reading node (left
 * as it was when none does). */
int zsq_graph_readers(const zsq_graph *g, int t, int *only);

/* Number of elements of a constant (or of a fully known shape); -1 if unknown or overflowing. */
int64_t zsq_tensor_numel(const zsq_tensor *t);

/* Checks wiring (every input defined exactly once, no cycle) and sorts nodes topologically. */
zsq_status zsq_graph_finalize(zsq_graph *g, zsq_err *err);

/* Make tensor `name` a constant holding a copy of data (used to bind static inputs such as a
 * Reshape shape that arrives as a graph input); removes it from the graph inputs. */
zsq_status zsq_graph_bind_constant(zsq_graph *g, const char *name, zsq_dtype dtype, int rank,
                                   const int64_t *dims, const void *data, zsq_err *err);

/* 1 if input slot `slot` of node n must be a constant (shapes, clip bounds, weights of BN). */
int zsq_node_input_is_static(const zsq_node *n, int slot);

const char *zsq_graph_meta(const zsq_graph *g, const char *key);

#endif
