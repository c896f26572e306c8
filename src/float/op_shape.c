/* op_shape.c — Flatten, Reshape and Concat: layout changes done through logical order. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "float/ops.h"

typedef struct relayout_state {
  float *tmp; /* logical-order staging buffer, NULL when a plain copy suffices */
} relayout_state;

/* Both Flatten and Reshape keep the logical element order; only the physical layout changes. */
static zsq_status relayout_finish(zsq_fnode *n, zsq_err *err) {
  relayout_state *s = calloc(1, sizeof *s);
  if (s == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  n->state = s;
  const zsq_value *x = n->in[0];
  zsq_value *y = n->out[0];
  int same_phys = !zsq_value_is_nhwc(x) && !zsq_value_is_nhwc(y);
  /* NHWC with C == 1 or H*W == 1 is already in logical order. */
  if (zsq_value_is_nhwc(x) && (x->dims[1] == 1 || x->dims[2] * x->dims[3] == 1))
    same_phys = !zsq_value_is_nhwc(y);
  if (!same_phys) {
    s->tmp = zsq_aligned_alloc((size_t)zsq_dims_product(x->dims, x->rank) * sizeof(float) + 64);
    if (s->tmp == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  return ZSQ_OK;
}

static void relayout_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  relayout_state *s = n->state;
  if (s->tmp == NULL) {
    memcpy(n->out[0]->data, n->in[0]->data, n->out[0]->numel * sizeof(float));
    return;
  }
  zsq_value_to_logical(n->in[0], s->tmp);
  zsq_value_from_logical(n->out[0], s->tmp);
}

/* The gradient keeps the logical order too: through logical order, added into the input. */
static void relayout_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  (void)p;
  relayout_state *s = n->state;
  if (gx[0] == NULL) return;
  if (s->tmp == NULL) {
    for (size_t i = 0; i < n->out[0]->numel; i++) gx[0][i] += gy[i];
    return;
  }
  zsq_layout_to_logical(n->out[0], gy, s->tmp);
  zsq_layout_add_logical(n->in[0], gx[0], s->tmp);
}

static void relayout_release(zsq_fnode *n) {
  relayout_state *s = n->state;
  if (s == NULL) return;
  zsq_aligned_free(s->tmp);
  free(s);
  n->state = NULL;
}

static zsq_status flatten_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *x = n->in[0];
  int64_t axis = n->node->a.axis.axis;
  if (axis < 0) axis += x->rank;
  if (axis < 0 || axis > x->rank)
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "axis out of range for rank %d", x->rank);
  zsq_value *y = n->out[0];
  y->rank = 2;
  y->dims[0] = zsq_dims_product(x->dims, (int)axis);
  y->dims[1] = zsq_dims_product(x->dims + axis, x->rank - (int)axis);
  return relayout_finish(n, err);
}

static zsq_status reshape_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *x = n->in[0], *shape = n->in[1];
  if (shape == NULL || shape->dtype != ZSQ_I64 || shape->rank != 1) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "shape must be a 1-D int64 tensor");
  }
  if (shape->numel > ZSQ_MAX_RANK)
    return zsq_fnode_fail(n, err, ZSQ_ERR_UNSUPPORTED, "rank above %d", ZSQ_MAX_RANK);
  const int64_t *sh = shape->data;
  zsq_value *y = n->out[0];
  y->rank = (int)shape->numel;
  int64_t known = 1, total = zsq_dims_product(x->dims, x->rank);
  int infer = -1;
  for (int i = 0; i < y->rank; i++) {
    int64_t d = sh[i];
    if (d == 0 && !n->node->a.reshape.allowzero) {
      if (i >= x->rank)
        return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "0 at dim %d copies a dim the input lacks",
                              i);
      d = x->dims[i];
    }
    if (d == -1) {
      if (infer >= 0)
        return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "more than one -1 in the shape");
      infer = i;
      continue;
    }
    if (d < 0) return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "negative dim %lld", (long long)d);
    y->dims[i] = d;
    if (!zsq_mul_overflow_i64(known, d, &known))
      return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "shape overflows");
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT,
                            "cannot infer the -1 dim (%lld elements into %lld)", (long long)total,
                            (long long)known);
    }
    y->dims[infer] = total / known;
  } else if (known != total) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "%lld elements cannot take a shape of %lld",
                          (long long)total, (long long)known);
  }
  return relayout_finish(n, err);
}

const zsq_fop zsq_fop_flatten = {.prepare = flatten_prepare,
                                 .forward = relayout_forward,
                                 .release = relayout_release,
                                 .backward = relayout_backward};
const zsq_fop zsq_fop_reshape = {.prepare = reshape_prepare,
                                 .forward = relayout_forward,
                                 .release = relayout_release,
                                 .backward = relayout_backward};

/* ---- Concat ---------------------------------------------------------------------------- */

typedef struct concat_state {
  int64_t axis;
  float *in_tmp, *out_tmp;
} concat_state;

static zsq_status concat_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *x0 = n->in[0];
  int64_t axis = n->node->a.axis.axis;
  if (axis < 0) axis += x0->rank;
  if (axis < 0 || axis >= x0->rank)
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "axis out of range");
  zsq_value *y = n->out[0];
  zsq_value_same_shape(y, x0);
  y->dims[axis] = 0;
  int64_t biggest = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    const zsq_value *x = n->in[k];
    if (x == NULL || x->rank != x0->rank)
      return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "inputs differ in rank");
    for (int i = 0; i < x->rank; i++) {
      if (i != axis && x->dims[i] != x0->dims[i])
        return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "inputs differ in dim %d", i);
    }
    y->dims[axis] += x->dims[axis];
    int64_t ne = zsq_dims_product(x->dims, x->rank);
    if (ne > biggest) biggest = ne;
  }
  concat_state *s = calloc(1, sizeof *s);
  if (s == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  n->state = s;
  s->axis = axis;
  s->in_tmp = zsq_aligned_alloc((size_t)biggest * 4 + 64);
  s->out_tmp = zsq_aligned_alloc((size_t)zsq_dims_product(y->dims, y->rank) * 4 + 64);
  if (!s->in_tmp || !s->out_tmp) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  return ZSQ_OK;
}

static void concat_forward(zsq_fnode *n, zsq_fplan *p) {
  (void)p;
  concat_state *s = n->state;
  zsq_value *y = n->out[0];
  const int64_t outer = zsq_dims_product(y->dims, (int)s->axis);
  const int64_t inner = zsq_dims_product(y->dims + s->axis + 1, y->rank - (int)s->axis - 1);
  const int64_t y_row = y->dims[s->axis] * inner;
  int64_t off = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    const zsq_value *x = n->in[k];
    zsq_value_to_logical(x, s->in_tmp);
    const int64_t x_row = x->dims[s->axis] * inner;
    for (int64_t o = 0; o < outer; o++) {
      memcpy(s->out_tmp + o * y_row + off, s->in_tmp + o * x_row, (size_t)x_row * sizeof(float));
    }
    off += x_row;
  }
  zsq_value_from_logical(y, s->out_tmp);
}

static void concat_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  (void)p;
  concat_state *s = n->state;
  zsq_value *y = n->out[0];
  const int64_t outer = zsq_dims_product(y->dims, (int)s->axis);
  const int64_t inner = zsq_dims_product(y->dims + s->axis + 1, y->rank - (int)s->axis - 1);
  const int64_t y_row = y->dims[s->axis] * inner;
  zsq_layout_to_logical(y, gy, s->out_tmp);
  int64_t off = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    const zsq_value *x = n->in[k];
    const int64_t x_row = x->dims[s->axis] * inner;
    if (gx[k] != NULL) {
      for (int64_t o = 0; o < outer; o++) {
        memcpy(s->in_tmp + o * x_row, s->out_tmp + o * y_row + off, (size_t)x_row * sizeof(float));
      }
      zsq_layout_add_logical(x, gx[k], s->in_tmp);
    }
    off += x_row;
  }
}

static void concat_release(zsq_fnode *n) {
  concat_state *s = n->state;
  if (s == NULL) return;
  zsq_aligned_free(s->in_tmp);
  zsq_aligned_free(s->out_tmp);
  free(s);
  n->state = NULL;
}

const zsq_fop zsq_fop_concat = {.prepare = concat_prepare,
                                .forward = concat_forward,
                                .release = concat_release,
                                .backward = concat_backward};
