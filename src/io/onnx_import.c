/* onnx_import.c — ONNX ModelProto (protobuf-c) → zsq float graph, with attribute validation. */
#include "io/onnx_import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/passes.h"
#include "io/pb_guard.h"
#include "io/file_map.h"
#include "io/onnx_tensor.h"

#define MIN_OPSET 6
#define MAX_OPSET 18

typedef struct import_ctx {
  zsq_graph *g;
  const Onnx__NodeProto *np;
  const char *node_name;
  int opset;
  zsq_err *err;
} import_ctx;

static const Onnx__AttributeProto *find_attr(const Onnx__NodeProto *np, const char *name) {
  for (size_t i = 0; i < np->n_attribute; i++) {
    if (np->attribute[i]->name && strcmp(np->attribute[i]->name, name) == 0)
      return np->attribute[i];
  }
  return NULL;
}

static zsq_status bad_attr(import_ctx *c, const char *attr, const char *why) {
  return zsq_fail(c->err, ZSQ_ERR_FORMAT, "node '%s' (%s): attribute '%s' %s", c->node_name,
                  c->np->op_type, attr, why);
}

static zsq_status attr_int(import_ctx *c, const char *name, int64_t def, int64_t *out) {
  const Onnx__AttributeProto *a = find_attr(c->np, name);
  *out = def;
  if (a == NULL) return ZSQ_OK;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
    return bad_attr(c, name, "must be an int");
  *out = a->i;
  return ZSQ_OK;
}

static zsq_status attr_float(import_ctx *c, const char *name, float def, float *out) {
  const Onnx__AttributeProto *a = find_attr(c->np, name);
  *out = def;
  if (a == NULL) return ZSQ_OK;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
    return bad_attr(c, name, "must be a float");
  *out = a->f;
  return ZSQ_OK;
}

/* Reads an INTS attribute of exactly `count` values (count < 0: any length up to cap). */
static zsq_status attr_ints(import_ctx *c, const char *name, int64_t *out, int count, int *found) {
  const Onnx__AttributeProto *a = find_attr(c->np, name);
  *found = 0;
  if (a == NULL) return ZSQ_OK;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
    return bad_attr(c, name, "must be ints");
  if ((int)a->n_ints != count) {
    return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED,
                    "node '%s' (%s, opset %d): attribute '%s' has %zu values; zsq supports 2-D "
                    "spatial operators only (expected %d)",
                    c->node_name, c->np->op_type, c->opset, name, a->n_ints, count);
  }
  for (int i = 0; i < count; i++) out[i] = a->ints[i];
  *found = 1;
  return ZSQ_OK;
}

static zsq_status reject_unknown_attrs(import_ctx *c, const char *const *known) {
  for (size_t i = 0; i < c->np->n_attribute; i++) {
    const char *an = c->np->attribute[i]->name ? c->np->attribute[i]->name : "";
    int ok = 0;
    for (const char *const *k = known; *k; k++) ok |= strcmp(*k, an) == 0;
    if (!ok) {
      return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED,
                      "node '%s' (%s, opset %d): unknown attribute '%s'", c->node_name,
                      c->np->op_type, c->opset, an);
    }
  }
  return ZSQ_OK;
}

static zsq_status parse_window(import_ctx *c, zsq_window *w, int has_dilations) {
  int found;
  w->kernel[0] = w->kernel[1] = -1;
  for (int i = 0; i < 2; i++) w->strides[i] = w->dilations[i] = 1;
  for (int i = 0; i < 4; i++) w->pads[i] = 0;
  ZSQ_TRY(attr_ints(c, "kernel_shape", w->kernel, 2, &found));
  ZSQ_TRY(attr_ints(c, "strides", w->strides, 2, &found));
  if (has_dilations) ZSQ_TRY(attr_ints(c, "dilations", w->dilations, 2, &found));
  int64_t p[4];
  ZSQ_TRY(attr_ints(c, "pads", p, 4, &found));
  if (found) {
    /* ONNX order: x1_begin, x2_begin, x1_end, x2_end = top, left, bottom, right. */
    for (int i = 0; i < 4; i++) w->pads[i] = p[i];
  }
  for (int i = 0; i < 2; i++) {
    if (w->strides[i] < 1 || w->strides[i] > 1024)
      return bad_attr(c, "strides", "must be in [1, 1024]");
    if (w->dilations[i] < 1 || w->dilations[i] > 1024)
      return bad_attr(c, "dilations", "must be in [1, 1024]");
    if (w->kernel[i] != -1 && (w->kernel[i] < 1 || w->kernel[i] > 4096)) {
      return bad_attr(c, "kernel_shape", "must be in [1, 4096]");
    }
  }
  for (int i = 0; i < 4; i++) {
    if (w->pads[i] < 0 || w->pads[i] > 4096) return bad_attr(c, "pads", "must be in [0, 4096]");
  }
  w->auto_pad = ZSQ_PAD_NOTSET;
  const Onnx__AttributeProto *a = find_attr(c->np, "auto_pad");
  if (a != NULL) {
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
      return bad_attr(c, "auto_pad", "must be a string");
    char s[32] = {0};
    memcpy(s, a->s.data, a->s.len < 31 ? a->s.len : 31);
    if (strcmp(s, "NOTSET") == 0)
      w->auto_pad = ZSQ_PAD_NOTSET;
    else if (strcmp(s, "VALID") == 0)
      w->auto_pad = ZSQ_PAD_VALID;
    else if (strcmp(s, "SAME_UPPER") == 0)
      w->auto_pad = ZSQ_PAD_SAME_UPPER;
    else if (strcmp(s, "SAME_LOWER") == 0)
      w->auto_pad = ZSQ_PAD_SAME_LOWER;
    else
      return bad_attr(c, "auto_pad", "must be NOTSET, VALID, SAME_UPPER or SAME_LOWER");
  }
  return ZSQ_OK;
}

static zsq_status expect_io(import_ctx *c, int min_in, int max_in, int n_out) {
  int nin = (int)c->np->n_input, nout = (int)c->np->n_output;
  if (nin < min_in || nin > max_in) {
    return zsq_fail(c->err, ZSQ_ERR_FORMAT, "node '%s' (%s) has %d inputs (expected %d to %d)",
                    c->node_name, c->np->op_type, nin, min_in, max_in);
  }
  if (nout != n_out) {
    return zsq_fail(c->err, n_out < nout ? ZSQ_ERR_UNSUPPORTED : ZSQ_ERR_FORMAT,
                    "node '%s' (%s, opset %d) has %d outputs; zsq supports %d", c->node_name,
                    c->np->op_type, c->opset, nout, n_out);
  }
  return ZSQ_OK;
}

/* Parses op-specific attributes into n->a. */
static zsq_status parse_node_attrs(import_ctx *c, zsq_node *n) {
  const char *op = c->np->op_type;
  switch (n->op) {
    case ZSQ_OP_CONV: {
      static const char *const known[] = {"kernel_shape", "strides",  "pads", "dilations",
                                          "group",        "auto_pad", NULL};
      ZSQ_TRY(reject_unknown_attrs(c, known));
      ZSQ_TRY(expect_io(c, 2, 3, 1));
      ZSQ_TRY(parse_window(c, &n->a.conv.win, 1));
      ZSQ_TRY(attr_int(c, "group", 1, &n->a.conv.group));
      if (n->a.conv.group < 1) return bad_attr(c, "group", "must be >= 1");
      return ZSQ_OK;
    }
    case ZSQ_OP_BATCHNORM: {
      static const char *const known[] = {
          "epsilon", "momentum", "training_mode", "spatial", "is_test", "consumed_inputs", NULL};
      ZSQ_TRY(reject_unknown_attrs(c, known));
      int64_t training, spatial;
      ZSQ_TRY(attr_int(c, "training_mode", 0, &training));
      ZSQ_TRY(attr_int(c, "spatial", 1, &spatial));
      if (training != 0) {
        return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED,
                        "node '%s' (%s, opset %d): training_mode=1 is not supported; export the "
                        "model in eval mode",
                        c->node_name, op, c->opset);
      }
      if (spatial != 1) {
        return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED,
                        "node '%s' (%s, opset %d): spatial=0 is not supported", c->node_name, op,
                        c->opset);
      }
      ZSQ_TRY(expect_io(c, 5, 5, 1));
      return attr_float(c, "epsilon", 1e-5f, &n->a.bn.epsilon);
    }
    case ZSQ_OP_CLIP: {
      static const char *const known[] = {"min", "max", NULL};
      ZSQ_TRY(reject_unknown_attrs(c, known));
      ZSQ_TRY(expect_io(c, 1, c->opset >= 11 ? 3 : 1, 1));
      ZSQ_TRY(attr_float(c, "min", -INFINITY, &n->a.clip.min));
      return attr_float(c, "max", INFINITY, &n->a.clip.max);
    }
    case ZSQ_OP_RELU:
    case ZSQ_OP_IDENTITY:
    case ZSQ_OP_GLOBALAVGPOOL: {
      static const char *const known[] = {"consumed_inputs", NULL};
      ZSQ_TRY(reject_unknown_attrs(c, known));
      return expect_io(c, 1, 1, 1);
    }
    case ZSQ_OP_ADD:
    case ZSQ_OP_MUL: {
      static const char *const known[] = {"broadcast", "axis", "consumed_inputs", NULL};
      ZSQ_TRY(reject_unknown_attrs(c, known));
      int64_t bc, axis;
      ZSQ_TRY(attr_int(c, "broadcast", 0, &bc));
      ZSQ_TRY(attr_int(c, "axis", -1, &axis));
      if (bc != 0 && axis != -1) {
        return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED,
                        "node '%s' (%s, opset %d): legacy broadcast with an axis is not supported",
                        c->node_name, op, c->opset);
      }
      return expect_io(c, 2, 2, 1);
    }
    case ZSQ_OP_MAXPOOL:
    case ZSQ_OP_AVGPOOL: {
      static const char *const known[] = {"kernel_shape",      "strides",       "pads",
                                          "dilations",         "auto_pad",      "ceil_mode",
                                          "count_include_pad", "storage_order", NULL};
      ZSQ_TRY(reject_unknown_attrs(c, known));
      ZSQ_TRY(expect_io(c, 1, 1, 1));
      ZSQ_TRY(parse_window(c, &n->a.pool.win, n->op == ZSQ_OP_MAXPOOL));
      if (n->a.pool.win.kernel[0] < 0) return bad_attr(c, "kernel_shape", "is required");
      int64_t ceil_mode, cip;
      ZSQ_TRY(attr_int(c, "ceil_mode", 0, &ceil_mode));
      ZSQ_TRY(attr_int(c, "count_include_pad", 0, &cip));
      n->a.pool.ceil_mode = ceil_mode != 0;
      n->a.pool.count_include_pad = cip != 0;
      return ZSQ_OK;
    }
    case ZSQ_OP_GEMM: {
      static const char *const known[] = {"alpha", "beta", "transA", "transB", "broadcast", NULL};
      ZSQ_TRY(reject_unknown_attrs(c, known));
      ZSQ_TRY(expect_io(c, 2, 3, 1));
      int64_t ta, tb;
      ZSQ_TRY(attr_float(c, "alpha", 1.0f, &n->a.gemm.alpha));
      ZSQ_TRY(attr_float(c, "beta", 1.0f, &n->a.gemm.beta));
      ZSQ_TRY(attr_int(c, "transA", 0, &ta));
      ZSQ_TRY(attr_int(c, "transB", 0, &tb));
      n->a.gemm.trans_a = ta != 0;
      n->a.gemm.trans_b = tb != 0;
      return ZSQ_OK;
    }
    case ZSQ_OP_MATMUL: {
      static const char *const known[] = {NULL};
      ZSQ_TRY(reject_unknown_attrs(c, known));
      return expect_io(c, 2, 2, 1);
    }
    case ZSQ_OP_FLATTEN:
    case ZSQ_OP_SOFTMAX:
    case ZSQ_OP_CONCAT: {
      static const char *const known[] = {"axis", NULL};
      ZSQ_TRY(reject_unknown_attrs(c, known));
      int64_t def = n->op == ZSQ_OP_SOFTMAX && c->opset >= 13 ? -1 : 1;
      if (n->op == ZSQ_OP_CONCAT) {
        if (find_attr(c->np, "axis") == NULL) return bad_attr(c, "axis", "is required");
        ZSQ_TRY(expect_io(c, 1, ZSQ_MAX_INPUTS, 1));
      } else {
        ZSQ_TRY(expect_io(c, 1, 1, 1));
      }
      return attr_int(c, "axis", def, &n->a.axis.axis);
    }
    case ZSQ_OP_RESHAPE: {
      static const char *const known[] = {"allowzero", "shape", NULL};
      ZSQ_TRY(reject_unknown_attrs(c, known));
      if (find_attr(c->np, "shape") != NULL) {
        return zsq_fail(
            c->err, ZSQ_ERR_UNSUPPORTED,
            "node '%s' (Reshape, opset %d): the shape attribute (opset < 5) is not supported",
            c->node_name, c->opset);
      }
      ZSQ_TRY(expect_io(c, 2, 2, 1));
      int64_t az;
      ZSQ_TRY(attr_int(c, "allowzero", 0, &az));
      n->a.reshape.allowzero = az != 0;
      return ZSQ_OK;
    }
    default:
      return zsq_fail(c->err, ZSQ_ERR_INTERNAL, "no attribute parser for %s", op);
  }
}

static int op_from_name(const char *s) {
  for (int i = 0; i < ZSQ_OP_ONNX_COUNT; i++) {
    if (strcmp(s, zsq_op_name((zsq_op)i)) == 0) return i;
  }
  return -1;
}

/* Tensor index for name, creating an (intermediate) tensor when new. */
static int tensor_ref(import_ctx *c, const char *name) {
  int t = zsq_graph_find(c->g, name);
  if (t < 0) t = zsq_graph_add_tensor(c->g, name);
  return t;
}

static zsq_status import_constant_node(import_ctx *c) {
  const Onnx__NodeProto *np = c->np;
  if (np->n_output != 1 || np->n_attribute != 1) {
    return zsq_fail(c->err, ZSQ_ERR_FORMAT,
                    "node '%s' (Constant) needs one output and one attribute", c->node_name);
  }
  const Onnx__AttributeProto *a = np->attribute[0];
  zsq_tensor tmp = {0};
  const char *an = a->name ? a->name : "";
  if (strcmp(an, "value") == 0 && a->t != NULL) {
    ZSQ_TRY(zsq_onnx_decode_tensor(a->t, &tmp, c->err));
  } else if (strcmp(an, "value_float") == 0 || strcmp(an, "value_int") == 0) {
    tmp.rank = 0;
    tmp.dtype = an[6] == 'f' ? ZSQ_F32 : ZSQ_I64;
    tmp.data = zsq_aligned_alloc(8);
    if (tmp.data == NULL) return zsq_fail(c->err, ZSQ_ERR_NOMEM, "out of memory");
    if (tmp.dtype == ZSQ_F32)
      *(float *)tmp.data = a->f;
    else
      *(int64_t *)tmp.data = a->i;
  } else if (strcmp(an, "value_floats") == 0 || strcmp(an, "value_ints") == 0) {
    int is_f = an[6] == 'f';
    size_t cnt = is_f ? a->n_floats : a->n_ints;
    tmp.rank = 1;
    tmp.dims[0] = (int64_t)cnt;
    tmp.dtype = is_f ? ZSQ_F32 : ZSQ_I64;
    tmp.data = zsq_aligned_alloc(cnt * 8 + 8);
    if (tmp.data == NULL) return zsq_fail(c->err, ZSQ_ERR_NOMEM, "out of memory");
    if (is_f)
      memcpy(tmp.data, a->floats, cnt * sizeof(float));
    else
      memcpy(tmp.data, a->ints, cnt * sizeof(int64_t));
  } else {
    return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED,
                    "node '%s' (Constant, opset %d): attribute '%s' not supported", c->node_name,
                    c->opset, an);
  }
  int t = tensor_ref(c, np->output[0]);
  if (t < 0) {
    zsq_aligned_free(tmp.data);
    return zsq_fail(c->err, ZSQ_ERR_NOMEM, "out of memory");
  }
  zsq_tensor *dst = &c->g->tensors[t];
  if (dst->is_const) {
    zsq_aligned_free(tmp.data);
    return zsq_fail(c->err, ZSQ_ERR_FORMAT, "tensor '%s' is defined twice", dst->name);
  }
  dst->is_const = 1;
  dst->dtype = tmp.dtype;
  dst->rank = tmp.rank;
  memcpy(dst->dims, tmp.dims, sizeof tmp.dims);
  dst->data = tmp.data;
  return ZSQ_OK;
}

static zsq_status import_node(import_ctx *c, size_t index) {
  const Onnx__NodeProto *np = c->np;
  char gen[64];
  if (np->name && np->name[0]) {
    c->node_name = np->name;
  } else {
    snprintf(gen, sizeof gen, "node%zu", index);
    c->node_name = gen;
  }
  if (np->op_type == NULL)
    return zsq_fail(c->err, ZSQ_ERR_FORMAT, "node '%s' has no op_type", c->node_name);
  if (np->domain && np->domain[0] && strcmp(np->domain, "ai.onnx") != 0) {
    return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED,
                    "node '%s': operator %s of domain '%s' is not supported", c->node_name,
                    np->op_type, np->domain);
  }
  if (strcmp(np->op_type, "Constant") == 0) return import_constant_node(c);
  int op = op_from_name(np->op_type);
  if (op < 0) {
    return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED, "unsupported operator %s (node '%s', opset %d)",
                    np->op_type, c->node_name, c->opset);
  }
  zsq_node n;
  memset(&n, 0, sizeof n);
  n.name = (char *)c->node_name;
  n.op = (zsq_op)op;
  n.opset = c->opset;
  n.act_min = -INFINITY;
  n.act_max = INFINITY;
  if (np->n_input > ZSQ_MAX_INPUTS) {
    return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED, "node '%s' (%s) has %zu inputs (at most %d)",
                    c->node_name, np->op_type, np->n_input, ZSQ_MAX_INPUTS);
  }
  ZSQ_TRY(parse_node_attrs(c, &n));
  n.n_inputs = (int)np->n_input;
  for (size_t i = 0; i < np->n_input; i++) {
    if (np->input[i] == NULL || np->input[i][0] == '\0') {
      n.inputs[i] = -1; /* omitted optional input */
      continue;
    }
    n.inputs[i] = tensor_ref(c, np->input[i]);
    if (n.inputs[i] < 0) return zsq_fail(c->err, ZSQ_ERR_NOMEM, "out of memory");
  }
  if (n.inputs[0] < 0) {
    return zsq_fail(c->err, ZSQ_ERR_FORMAT, "node '%s' (%s) has no data input", c->node_name,
                    np->op_type);
  }
  n.n_outputs = (int)np->n_output;
  for (size_t i = 0; i < np->n_output; i++) {
    if (np->output[i] == NULL || np->output[i][0] == '\0') {
      return zsq_fail(c->err, ZSQ_ERR_FORMAT, "node '%s' has an unnamed output", c->node_name);
    }
    n.outputs[i] = tensor_ref(c, np->output[i]);
    if (n.outputs[i] < 0) return zsq_fail(c->err, ZSQ_ERR_NOMEM, "out of memory");
  }
  if (zsq_graph_add_node(c->g, &n) < 0) return zsq_fail(c->err, ZSQ_ERR_NOMEM, "out of memory");
  return ZSQ_OK;
}

static zsq_status import_graph_input(import_ctx *c, const Onnx__ValueInfoProto *vi) {
  if (vi->name == NULL) return zsq_fail(c->err, ZSQ_ERR_FORMAT, "a graph input has no name");
  int t = tensor_ref(c, vi->name);
  if (t < 0) return zsq_fail(c->err, ZSQ_ERR_NOMEM, "out of memory");
  zsq_tensor *ten = &c->g->tensors[t];
  if (ten->is_const) return ZSQ_OK; /* an initializer listed among inputs (IR < 4 style) */
  const Onnx__TypeProto *tp = vi->type;
  if (tp == NULL || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
    return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED, "graph input '%s' is not a tensor", vi->name);
  }
  int32_t et = tp->tensor_type->elem_type;
  if (et == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    ten->dtype = ZSQ_F32;
  else if (et == ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
    ten->dtype = ZSQ_I64;
  else {
    return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED,
                    "graph input '%s' has element type %d (zsq computes in FLOAT)", vi->name, et);
  }
  const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
  if (sh != NULL) {
    if (sh->n_dim > ZSQ_MAX_RANK) {
      return zsq_fail(c->err, ZSQ_ERR_UNSUPPORTED, "graph input '%s' has rank %zu", vi->name,
                      sh->n_dim);
    }
    ten->rank = (int)sh->n_dim;
    for (size_t i = 0; i < sh->n_dim; i++) {
      const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
      ten->dims[i] =
          d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? d->dim_value : -1;
      if (ten->dims[i] < -1 || ten->dims[i] > ((int64_t)1 << 31)) {
        return zsq_fail(c->err, ZSQ_ERR_FORMAT, "graph input '%s' has an impossible dim", vi->name);
      }
    }
  }
  for (size_t i = 0; i < c->g->n_inputs; i++) {
    if (c->g->inputs[i] == t)
      return zsq_fail(c->err, ZSQ_ERR_FORMAT, "graph input '%s' listed twice", vi->name);
  }
  int *ins = realloc(c->g->inputs, (c->g->n_inputs + 1) * sizeof(int));
  if (ins == NULL) return zsq_fail(c->err, ZSQ_ERR_NOMEM, "out of memory");
  c->g->inputs = ins;
  ins[c->g->n_inputs++] = t;
  return ZSQ_OK;
}

static zsq_status import_model(const Onnx__ModelProto *mp, zsq_graph *g, zsq_err *err) {
  import_ctx c = {.g = g, .err = err};
  int opset = -1;
  for (size_t i = 0; i < mp->n_opset_import; i++) {
    const char *d = mp->opset_import[i]->domain;
    if (d == NULL || d[0] == '\0' || strcmp(d, "ai.onnx") == 0)
      opset = (int)mp->opset_import[i]->version;
  }
  if (opset < 0) return zsq_fail(err, ZSQ_ERR_FORMAT, "the model declares no ai.onnx opset");
  if (opset < MIN_OPSET || opset > MAX_OPSET) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "opset %d is not supported (zsq reads opsets %d to %d)", opset, MIN_OPSET,
                    MAX_OPSET);
  }
  c.opset = opset;
  g->opset = opset;
  const Onnx__GraphProto *gp = mp->graph;
  if (gp == NULL) return zsq_fail(err, ZSQ_ERR_FORMAT, "the model has no graph");
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    if (tp->name == NULL || tp->name[0] == '\0')
      return zsq_fail(err, ZSQ_ERR_FORMAT, "an initializer has no name");
    if (zsq_graph_find(g, tp->name) >= 0)
      return zsq_fail(err, ZSQ_ERR_FORMAT, "initializer '%s' defined twice", tp->name);
    int t = zsq_graph_add_tensor(g, tp->name);
    if (t < 0) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    ZSQ_TRY(zsq_onnx_decode_tensor(tp, &g->tensors[t], err));
    g->tensors[t].is_const = 1;
  }
  for (size_t i = 0; i < gp->n_input; i++) ZSQ_TRY(import_graph_input(&c, gp->input[i]));
  for (size_t i = 0; i < gp->n_node; i++) {
    c.np = gp->node[i];
    ZSQ_TRY(import_node(&c, i));
  }
  if (gp->n_output == 0) return zsq_fail(err, ZSQ_ERR_FORMAT, "the graph has no outputs");
  g->outputs = calloc(gp->n_output, sizeof(int));
  if (g->outputs == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = gp->output[i]->name;
    int t = name ? zsq_graph_find(g, name) : -1;
    if (t < 0)
      return zsq_fail(err, ZSQ_ERR_FORMAT, "graph output '%s' is never computed", name ? name : "");
    g->outputs[g->n_outputs++] = t;
  }
  g->meta = calloc(mp->n_metadata_props + 1, sizeof(zsq_meta));
  if (g->meta == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < mp->n_metadata_props; i++) {
    const Onnx__StringStringEntryProto *e = mp->metadata_props[i];
    if (e->key == NULL || e->value == NULL) continue;
    g->meta[g->n_meta].key = strdup(e->key);
    g->meta[g->n_meta].value = strdup(e->value);
    if (!g->meta[g->n_meta].key || !g->meta[g->n_meta].value)
      return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
    g->n_meta++;
  }
  ZSQ_TRY(zsq_graph_finalize(g, err));
  ZSQ_TRY(zsq_graph_fold_constant_identities(g, err));
  return zsq_graph_finalize(g, err);
}

zsq_status zsq_onnx_import_buffer(const void *data, size_t size, zsq_graph **out, zsq_err *err) {
  *out = NULL;
  if (size < 2) return zsq_fail(err, ZSQ_ERR_FORMAT, "the file is empty or too short to be ONNX");
  if (!zsq_pb_depth_ok(data, size, ZSQ_PB_MAX_DEPTH)) {
    return zsq_fail(err, ZSQ_ERR_FORMAT,
                    "not a usable ONNX model: messages nest deeper than %d levels",
                    ZSQ_PB_MAX_DEPTH);
  }
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
  if (mp == NULL) {
    return zsq_fail(
        err, ZSQ_ERR_FORMAT,
        "not a valid ONNX model: the protobuf could not be decoded (truncated or corrupted "
        "file?)");
  }
  if (mp->graph == NULL || mp->n_opset_import == 0) {
    onnx__model_proto__free_unpacked(mp, NULL);
    return zsq_fail(err, ZSQ_ERR_FORMAT, "not an ONNX model: no graph or no opset_import");
  }
  zsq_graph *g = zsq_graph_new();
  if (g == NULL) {
    onnx__model_proto__free_unpacked(mp, NULL);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  zsq_status st = import_model(mp, g, err);
  onnx__model_proto__free_unpacked(mp, NULL);
  if (st != ZSQ_OK) {
    zsq_graph_free(g);
    return st;
  }
  *out = g;
  return ZSQ_OK;
}

zsq_status zsq_onnx_import_file(const char *path, zsq_graph **out, zsq_err *err) {
  zsq_file_view view;
  *out = NULL;
  ZSQ_TRY(zsq_file_map(path, &view, err));
  zsq_status st = zsq_onnx_import_buffer(view.data, view.size, out, err);
  zsq_file_unmap(&view);
  return st;
}
