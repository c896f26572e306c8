/* plan.h — a float execution plan: concrete shapes, buffers and per-node state for one batch size.
 *
 * Layout contract: every rank-4 value is stored NHWC (logical dims stay in ONNX order N,C,H,W);
 * values of any other rank are stored row-major in logical order. Graph inputs and outputs are
 * exchanged in ONNX (NCHW) order and converted at the boundary. */
#ifndef ZSQ_FLOAT_PLAN_H
#define ZSQ_FLOAT_PLAN_H

#include <pthreadpool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"

typedef struct zsq_value {
  zsq_dtype dtype;
  int rank;
  int64_t dims[ZSQ_MAX_RANK]; /* logical (ONNX order) */
  size_t numel;
  void *data; /* physical layout per the contract above */
  int is_const;
} zsq_value;

static inline int zsq_value_is_nhwc(const zsq_value *v) {
  return v->rank == 4;
}
static inline float *zsq_value_f32(const zsq_value *v) {
  return (float *)v->data;
}

typedef struct zsq_fnode zsq_fnode;
struct zsq_chstats;
typedef struct zsq_fplan zsq_fplan;

/* Operator implementation. prepare: check inputs, set output shapes, build state (weights are
 * constants by then). setup: bind buffer pointers (after allocation). forward: compute.
 * backward: given gy, the gradient of the first output (physical layout), ADD the gradient of
 * each input k into gx[k] (NULL when input k needs none). It may read the forward values. */
typedef struct zsq_fop {
  zsq_status (*prepare)(zsq_fnode *n, zsq_fplan *p, zsq_err *err);
  zsq_status (*setup)(zsq_fnode *n, zsq_fplan *p, zsq_err *err);
  void (*forward)(zsq_fnode *n, zsq_fplan *p);
  void (*release)(zsq_fnode *n);
  void (*backward)(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx);
  /* Optional: builds what backward needs (called once by zsq_fgrad_create); need_input_grad
   * says whether the first input will want a gradient. */
  zsq_status (*prepare_backward)(zsq_fnode *n, zsq_fplan *p, int need_input_grad, zsq_err *err);
  /* Optional: rebuilds state derived from constant inputs after zsq_fplan_set_constant. */
  zsq_status (*refresh)(zsq_fnode *n, zsq_fplan *p, zsq_err *err);
  /* 1 when prepare caches values of constant inputs (then refresh is required to change them). */
  int caches_constants;
  /* Bit k: backward honours bit k of zsq_fnode.grad_write by WRITING the whole gradient of input
   * k instead of adding it (grad.c sets the bit when nothing has reached that buffer yet, which
   * then needs no zeroing). */
  unsigned backward_writes;
  /* 1 when backward adds zsq_fnode.grad_affine's term into gx[0] (grad.c fuses a pending
   * zsq_fgrad_add_affine there instead of a pass of its own). */
  int backward_affine;
  /* 1 when forward fills zsq_fnode.stats with the block statistics of in[0] when it is set (see
   * zsq_fplan_record_stats). */
  int records_stats;
} zsq_fop;

struct zsq_fnode {
  const zsq_node *node;
  const zsq_fop *op;
  int n_inputs;
  zsq_value *in[ZSQ_MAX_INPUTS]; /* NULL for an omitted optional input */
  zsq_value *out[2];
  void *state;
  unsigned grad_write; /* set by grad.c for each backward call: see zsq_fop.backward_writes */
  /* set by grad.c for each backward call of a backward_affine op: NULL, or C coefficients a then
   * C coefficients b whose a[c] + b[c]·x (x = in[0]'s value, channel c) backward adds to gx[0] */
  const float *grad_affine;
  struct zsq_chstats *stats; /* see zsq_fop.records_stats */
};

struct zsq_fplan {
  const zsq_graph *graph;
  int64_t batch;
  pthreadpool_t threadpool;
  zsq_value *values; /* one per graph tensor */
  zsq_fnode *nodes;
  size_t n_nodes;
};

/* Plans g (which must outlive the plan); `batch` replaces a dynamic first dim of the inputs. */
zsq_status zsq_fplan_create(const zsq_graph *g, int64_t batch, pthreadpool_t tp, zsq_fplan **out,
                            zsq_err *err);
void zsq_fplan_destroy(zsq_fplan *p);
/* inputs[i] / outputs[i] follow g->inputs / g->outputs, in ONNX (NCHW) order; a NULL output
 * slot is skipped. */
void zsq_fplan_run(zsq_fplan *p, const void *const *inputs, void *const *outputs);

/* Runs the nodes only: inputs are already in their values (physical layout), e.g. written by a
 * synthesis loop; outputs stay in their values. */
void zsq_fplan_forward(zsq_fplan *p);

/* Replaces the value of constant tensor t with `logical` (ONNX order) and refreshes the operators
 * that read it (reconstruction changes weights between steps). ZSQ_ERR_UNSUPPORTED for an
 * operator that caches the constant without a refresh. */
zsq_status zsq_fplan_set_constant(zsq_fplan *p, int t, const float *logical, zsq_err *err);

/* Asks the forward pass to record the block statistics of tensor t (rows × c, c its channels,
 * innermost: rank 4 NHWC or rank 2) into st on the way, through an operator that reads t anyway
 * (BatchNorm). Returns 1 when one will, 0 when the caller must compute them itself. */
int zsq_fplan_record_stats(zsq_fplan *p, int t, struct zsq_chstats *st);

/* The value of graph tensor t. */
static inline zsq_value *zsq_fplan_value(zsq_fplan *p, int t) {
  return &p->values[t];
}

/* Layout helpers: copy between a value's physical layout and logical row-major order. */
void zsq_value_to_logical(const zsq_value *v, float *dst);
void zsq_value_from_logical(zsq_value *v, const float *src);
/* The same for any buffer laid out like `shape` (gradients): src physical -> dst logical, and
 * dst physical += src logical. */
void zsq_layout_to_logical(const zsq_value *shape, const float *src, float *dst);
void zsq_layout_add_logical(const zsq_value *shape, float *dst, const float *src);

/* Error helper naming the node. */
zsq_status zsq_fnode_fail(const zsq_fnode *n, zsq_err *err, zsq_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The op table, indexed by zsq_op. */
const zsq_fop *zsq_fop_for(zsq_op op);

#endif
