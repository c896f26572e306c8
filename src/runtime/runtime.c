/* runtime.c — plans a simulated quantized graph onto integer convolutions (with their following
 * residual Add and FakeQuant fused into the epilogue) plus float steps, and runs the plan. */
#include "runtime/runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "float/layout.h"
#include "float/parallel.h"
#include "kernels/gemm.h"
#include "ops/qconv.h"
#include "runtime/memplan.h"
#include "runtime/rt_ops.h"

typedef enum step_kind {
  S_CONV,
  S_QUANT,
  S_ADD,
  S_CLAMP,
  S_GAP,
  S_MAXPOOL,
  S_NCHW,
  S_SOFTMAX
} step_kind;

typedef struct rt_step {
  step_kind kind;
  int in, in2, out; /* graph tensor indices (in2: the second Add operand or the residual) */
  int layer;        /* S_CONV: the index of its record in the layers given to create; else -1 */
  zsq_qconv *conv;
  rt_grid grid;
  float *grid_arrays; /* owned qmult/qoffset of a bordered grid */
  float lo, hi;
  zsq_geom geom; /* S_MAXPOOL */
} rt_step;

struct zsq_rt {
  const zsq_graph *g;
  int64_t batch;
  rt_val *vals; /* per graph tensor */
  int *alias;   /* per graph tensor: the tensor whose buffer it shares, or itself */
  int *n_cons;  /* consumers per tensor (graph outputs count as one) */
  int *cons;    /* the last consumer node per tensor */
  rt_step *steps;
  int n_steps;
  void *arena, *scratch;
  size_t scratch_size;
  pthreadpool_t tp;
  int in_tensor, out_tensor;
  const char *kernel;
};

static zsq_status unsupported(zsq_err *err, const zsq_node *n, const char *why) {
  return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "integer runtime: %s '%s': %s", zsq_op_name(n->op),
                  n->name ? n->name : "?", why);
}

static rt_step *add_step(zsq_rt *rt, step_kind k, int in, int out) {
  rt_step *s = &rt->steps[rt->n_steps++];
  memset(s, 0, sizeof *s);
  s->kind = k;
  s->in = in;
  s->in2 = -1;
  s->layer = -1;
  s->out = out;
  s->lo = -INFINITY;
  s->hi = INFINITY;
  return s;
}

static int code_bits(float qmax) {
  int b = 1;
  while (b < 8 && (float)((1 << b) - 1) < qmax) b++;
  return b;
}

/* The grid of FakeQuant node fq, per channel (c of them) into qmult/qoffset when it has borders. */
static zsq_status grid_of(const zsq_rt *rt, const zsq_node *fq, int64_t c, rt_grid *q,
                          float **owned, zsq_err *err) {
  const float zp = fq->a.fq.zero_point;
  if (!(fq->a.fq.scale > 0.0f) || zp != floorf(zp) || fq->a.fq.qmin < 0.0f ||
      fq->a.fq.qmax > 255.0f || fq->a.fq.qmin > fq->a.fq.qmax)
    return zsq_fail(err, ZSQ_ERR_FORMAT, "FakeQuant '%s': invalid grid", fq->name);
  *q = (rt_grid){fq->a.fq.inv_scale, zp, fq->a.fq.qmin, fq->a.fq.qmax, NULL, NULL};
  *owned = NULL;
  if (fq->n_inputs < 3) return ZSQ_OK;
  const zsq_tensor *ta = &rt->g->tensors[fq->inputs[1]], *tb = &rt->g->tensors[fq->inputs[2]];
  if (!ta->is_const || !tb->is_const || ta->dtype != ZSQ_F32 || tb->dtype != ZSQ_F32 ||
      zsq_tensor_numel(ta) != c || zsq_tensor_numel(tb) != c)
    return zsq_fail(err, ZSQ_ERR_FORMAT, "FakeQuant '%s': borders must be %lld floats each",
                    fq->name, (long long)c);
  float *m = malloc(2 * (size_t)c * sizeof(float));
  if (m == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  const float *a = ta->data, *b = tb->data;
  for (int64_t i = 0; i < c; i++) { /* docs/kernels.md: v = (1 − b)·t + 1 − a */
    m[i] = (1.0f - b[i]) * q->inv_scale;
    m[c + i] = (1.0f - b[i]) * zp + 1.0f - a[i];
  }
  q->qmult = m;
  q->qoffset = m + c;
  *owned = m;
  return ZSQ_OK;
}

static const zsqf_layer *layer_of(const zsqf_layer *layers, int n, int weight_tensor) {
  for (int i = 0; i < n; i++)
    if (layers[i].weight_tensor == weight_tensor) return &layers[i];
  return NULL;
}

/* The sole consumer node of tensor t, or NULL (several, none, or a graph output). */
static const zsq_node *sole_consumer(const zsq_rt *rt, int t) {
  return rt->n_cons[t] == 1 && rt->cons[t] >= 0 ? &rt->g->nodes[rt->cons[t]] : NULL;
}

/* Weight codes [rows][k] recovered from Ŵ = scale·code, checked against the layer's bit width;
 * with zero points Ŵ = scale·(q − z), and the codes are q − z in [−z, 2^b − 1 − z]: int8 for
 * b <= 7, run on the 8-bit-weight kernels. */
static zsq_status weight_codes(const zsq_graph *g, const zsqf_layer *l, int64_t k, int8_t *codes,
                               zsq_err *err) {
  const float *w = g->tensors[l->weight_tensor].data;
  const int asym = l->zero_point != NULL, b = l->wbits;
  const float qmin = asym ? 0.0f : -(float)(1 << (b - 1));
  const float qmax = asym ? (float)((1 << b) - 1) : (float)((1 << (b - 1)) - 1);
  if (asym && b == 8)
    return zsq_fail(err, ZSQ_ERR_FORMAT, "layer '%s': 8-bit weights cannot have zero points",
                    l->name);
  for (int64_t r = 0; r < l->rows; r++) {
    const float z = l->zero_point ? l->zero_point[r] : 0.0f;
    for (int64_t j = 0; j < k; j++) {
      const float v = w[r * l->row_stride + j * l->elem_stride];
      const float q = l->scale[r] > 0.0f ? rintf(v / l->scale[r]) : 0.0f;
      if (q < qmin - z || q > qmax - z || (l->scale[r] == 0.0f && v != 0.0f))
        return zsq_fail(err, ZSQ_ERR_FORMAT, "layer '%s': weight is not a %d-bit code", l->name,
                        l->wbits);
      codes[r * k + j] = (int8_t)q;
    }
  }
  return ZSQ_OK;
}

/* The float bias of a Conv (input 2) or Gemm (beta·C, C of n or 1×n elements) into offset. */
static zsq_status bias_of(const zsq_graph *g, const zsq_node *nd, int64_t n, float *offset,
                          zsq_err *err) {
  const int t = nd->n_inputs > 2 ? nd->inputs[2] : -1;
  const float beta = nd->op == ZSQ_OP_GEMM ? nd->a.gemm.beta : 1.0f;
  for (int64_t i = 0; i < n; i++) offset[i] = 0.0f;
  if (t < 0) return ZSQ_OK;
  const zsq_tensor *b = &g->tensors[t];
  if (!b->is_const || b->dtype != ZSQ_F32 || zsq_tensor_numel(b) != n)
    return unsupported(err, nd, "bias must be a float constant with one value per output channel");
  for (int64_t i = 0; i < n; i++) offset[i] = beta * ((const float *)b->data)[i];
  return ZSQ_OK;
}

/* A Conv or Gemm, with its sole consuming Add (residual) and FakeQuant fused when possible. */
static zsq_status plan_conv(zsq_rt *rt, int ni, const zsqf_layer *layers, int n_layers,
                            const char *isa, char *done, zsq_err *err) {
  const zsq_graph *g = rt->g;
  const zsq_node *nd = &g->nodes[ni];
  const rt_val *x = &rt->vals[nd->inputs[0]];
  if (x->kind != RT_CODES) return unsupported(err, nd, "its input is not quantized");
  const zsqf_layer *l = layer_of(layers, n_layers, nd->inputs[1]);
  if (l == NULL) return unsupported(err, nd, "its weights are not quantized");
  const zsq_tensor *wt = &g->tensors[nd->inputs[1]];
  zsq_qconv_desc d = {0};
  int64_t oh = 1, ow = 1, k;
  if (nd->op == ZSQ_OP_CONV) {
    if (x->rank != 4 || wt->rank != 4) return unsupported(err, nd, "only 2-D convolution runs");
    const zsq_window *w = &nd->a.conv.win;
    zsq_geom geo;
    if (!zsq_window_resolve(w, x->h, x->w, wt->dims[2], wt->dims[3], 0, &geo))
      return unsupported(err, nd, "the window does not fit the input");
    d = (zsq_qconv_desc){.cin = x->c,
                         .cout = wt->dims[0],
                         .groups = nd->a.conv.group,
                         .kernel = {geo.kh, geo.kw},
                         .stride = {geo.sh, geo.sw},
                         .dilation = {geo.dh, geo.dw},
                         .pads = {geo.pad_top, geo.pad_left, geo.pad_bottom, geo.pad_right}};
    oh = geo.out_h;
    ow = geo.out_w;
    k = wt->dims[1] * geo.kh * geo.kw;
  } else {
    if (x->rank != 2 || nd->a.gemm.trans_a) return unsupported(err, nd, "needs A as [N, K]");
    d = (zsq_qconv_desc){.cin = x->c,
                         .cout = l->rows,
                         .groups = 1,
                         .kernel = {1, 1},
                         .stride = {1, 1},
                         .dilation = {1, 1}};
    k = x->c;
  }
  if (l->rows != d.cout || (int64_t)l->rows * k != zsq_tensor_numel(wt))
    return zsq_fail(err, ZSQ_ERR_FORMAT, "layer '%s': weight shape disagrees with its record",
                    l->name);
  const int64_t n = d.cout;
  int8_t *codes = malloc((size_t)(n * k));
  float *arr = malloc(4 * (size_t)n * sizeof(float));
  zsq_status st = codes && arr ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  if (st == ZSQ_OK) st = weight_codes(g, l, k, codes, err);
  if (st == ZSQ_OK) st = bias_of(g, nd, n, arr + n, err);
  const float alpha = nd->op == ZSQ_OP_GEMM ? nd->a.gemm.alpha : 1.0f;
  for (int64_t i = 0; st == ZSQ_OK && i < n; i++) arr[i] = alpha * x->scale * l->scale[i];

  /* Fusion: Conv → Add (the other operand already computed) → FakeQuant. */
  int out_t = nd->outputs[0], res_t = -1;
  float act_min = nd->act_min, act_max = nd->act_max;
  const zsq_node *c = sole_consumer(rt, out_t);
  if (c && c->op == ZSQ_OP_ADD && act_min == -INFINITY && act_max == INFINITY) {
    const int other = c->inputs[0] == out_t ? c->inputs[1] : c->inputs[0];
    const rt_val *r = &rt->vals[other];
    if (other != out_t && r->kind != RT_UNSET && r->n == x->n && r->h == oh && r->w == ow &&
        r->c == n) {
      res_t = other;
      act_min = c->act_min;
      act_max = c->act_max;
      done[c - g->nodes] = 1;
      out_t = c->outputs[0];
      c = sole_consumer(rt, out_t);
    }
  }
  rt_step *s = add_step(rt, S_CONV, nd->inputs[0], out_t);
  s->in2 = res_t;
  s->layer = (int)(l - layers);
  const zsq_node *fq = c && c->op == ZSQ_OP_FAKEQUANT ? c : NULL;
  if (st == ZSQ_OK && fq) {
    st = grid_of(rt, fq, n, &s->grid, &s->grid_arrays, err);
    for (int64_t i = 0; st == ZSQ_OK && i < n; i++) {
      arr[2 * n + i] = s->grid.qmult ? s->grid.qmult[i] : s->grid.inv_scale;
      arr[3 * n + i] = s->grid.qmult ? s->grid.qoffset[i] : s->grid.zero_point + 0.5f;
    }
    d.out = ZSQ_QOUT_CODES;
    d.qmin = (int32_t)s->grid.qmin;
    d.qmax = (int32_t)s->grid.qmax;
    done[fq - g->nodes] = 1;
    out_t = fq->outputs[0];
    s->out = out_t;
  } else {
    d.out = ZSQ_QOUT_F32;
  }
  if (st == ZSQ_OK) {
    const rt_val *r = res_t >= 0 ? &rt->vals[res_t] : NULL;
    d.wbits = l->zero_point ? 8 : l->wbits; /* codes q − z: docs/runtime.md */
    d.weights = codes;
    d.abits = x->bits;
    d.in_zero_point = x->zp;
    d.mult = arr;
    d.offset = arr + n;
    d.act_min = act_min;
    d.act_max = act_max;
    d.residual = r == NULL ? ZSQ_QRES_NONE : r->kind == RT_CODES ? ZSQ_QRES_CODES : ZSQ_QRES_F32;
    d.res_scale = r ? r->scale : 0.0f;
    d.res_zero_point = r ? r->zp : 0;
    d.qmult = arr + 2 * n;
    d.qoffset = arr + 3 * n;
    d.isa = isa;
    st = zsq_qconv_create(&d, &s->conv, err);
  }
  free(codes);
  free(arr);
  if (st != ZSQ_OK) return st;
  rt_val *y = &rt->vals[out_t];
  *y = (rt_val){.kind = d.out == ZSQ_QOUT_CODES ? RT_CODES : RT_F32,
                .rank = x->rank,
                .n = x->n,
                .h = oh,
                .w = ow,
                .c = n};
  if (y->kind == RT_CODES) {
    y->scale = fq->a.fq.scale;
    y->zp = (int32_t)s->grid.zero_point;
    y->bits = code_bits(s->grid.qmax);
  }
  if (rt->kernel == NULL) rt->kernel = zsq_qconv_kernel_name(s->conv);
  return ZSQ_OK;
}

/* Clamp bounds of a Relu or Clip node (attributes or constant inputs), with its fused clamp. */
static void clamp_bounds(const zsq_graph *g, const zsq_node *nd, float *lo, float *hi) {
  *lo = nd->op == ZSQ_OP_RELU ? 0.0f : nd->a.clip.min;
  *hi = nd->op == ZSQ_OP_RELU ? INFINITY : nd->a.clip.max;
  for (int k = 1; nd->op == ZSQ_OP_CLIP && k < nd->n_inputs && k < 3; k++) {
    const zsq_tensor *t = nd->inputs[k] >= 0 ? &g->tensors[nd->inputs[k]] : NULL;
    if (t && t->is_const && t->dtype == ZSQ_F32 && zsq_tensor_numel(t) == 1)
      *(k == 1 ? lo : hi) = *(const float *)t->data;
  }
  *lo = fmaxf(*lo, nd->act_min);
  *hi = fminf(*hi, nd->act_max);
}

/* One node that is not a convolution. */
static zsq_status plan_node(zsq_rt *rt, int ni, zsq_err *err) {
  const zsq_graph *g = rt->g;
  const zsq_node *nd = &g->nodes[ni];
  const int in = nd->inputs[0], out = nd->outputs[0];
  const rt_val *x = &rt->vals[in];
  rt_val *y = &rt->vals[out];
  if (x->kind == RT_UNSET) return unsupported(err, nd, "its input is not computed");
  *y = *x;
  y->data = NULL;
  switch (nd->op) {
    case ZSQ_OP_FAKEQUANT: {
      rt_step *s = add_step(rt, S_QUANT, in, out);
      ZSQ_TRY(grid_of(rt, nd, x->c, &s->grid, &s->grid_arrays, err));
      y->kind = RT_CODES;
      y->scale = nd->a.fq.scale;
      y->zp = (int32_t)nd->a.fq.zero_point;
      y->bits = code_bits(nd->a.fq.qmax);
      return ZSQ_OK;
    }
    case ZSQ_OP_ADD: {
      const rt_val *b = &rt->vals[nd->inputs[1]];
      if (b->kind == RT_UNSET || b->n != x->n || b->h != x->h || b->w != x->w || b->c != x->c)
        return unsupported(err, nd, "operands must have the same shape");
      rt_step *s = add_step(rt, S_ADD, in, out);
      s->in2 = nd->inputs[1];
      s->lo = nd->act_min;
      s->hi = nd->act_max;
      y->kind = RT_F32;
      return ZSQ_OK;
    }
    case ZSQ_OP_RELU:
    case ZSQ_OP_CLIP: {
      rt_step *s = add_step(rt, S_CLAMP, in, out);
      clamp_bounds(g, nd, &s->lo, &s->hi);
      y->kind = RT_F32;
      return ZSQ_OK;
    }
    case ZSQ_OP_GLOBALAVGPOOL:
      if (x->rank != 4) return unsupported(err, nd, "needs a 4-D input");
      add_step(rt, S_GAP, in, out);
      y->kind = RT_F32;
      y->h = y->w = 1;
      return ZSQ_OK;
    case ZSQ_OP_MAXPOOL: {
      const zsq_window *w = &nd->a.pool.win;
      if (x->rank != 4 || nd->n_outputs > 1 ||
          !zsq_window_resolve(w, x->h, x->w, w->kernel[0], w->kernel[1], nd->a.pool.ceil_mode,
                              &add_step(rt, S_MAXPOOL, in, out)->geom))
        return unsupported(err, nd, "needs a 4-D input, one output and a window that fits");
      y->h = rt->steps[rt->n_steps - 1].geom.out_h;
      y->w = rt->steps[rt->n_steps - 1].geom.out_w;
      return ZSQ_OK;
    }
    case ZSQ_OP_FLATTEN:
    case ZSQ_OP_RESHAPE: {
      const zsq_tensor *t = &g->tensors[out];
      if ((nd->op == ZSQ_OP_FLATTEN && nd->a.axis.axis != 1) ||
          (nd->op == ZSQ_OP_RESHAPE && (t->rank != 2 || t->dims[1] != x->c * x->h * x->w)))
        return unsupported(err, nd, "only flattening to [N, C·H·W] runs");
      y->rank = 2;
      y->c = x->c * x->h * x->w;
      y->h = y->w = 1;
      if (x->h * x->w == 1) { /* NHWC and NCHW orders agree: share the buffer */
        rt->alias[out] = rt->alias[in];
        return ZSQ_OK;
      }
      add_step(rt, S_NCHW, in, out);
      return ZSQ_OK;
    }
    case ZSQ_OP_IDENTITY:
      rt->alias[out] = rt->alias[in];
      return ZSQ_OK;
    case ZSQ_OP_SOFTMAX: {
      const int64_t axis = nd->a.axis.axis;
      if (x->rank != 2 || (axis != 1 && axis != -1))
        return unsupported(err, nd, "only softmax over the features of [N, C] runs");
      add_step(rt, S_SOFTMAX, in, out);
      y->kind = RT_F32;
      return ZSQ_OK;
    }
    default:
      return unsupported(err, nd, "not implemented in the integer runtime yet");
  }
}

static size_t val_bytes(const rt_val *v) {
  return (size_t)rt_numel(v) * (v->kind == RT_CODES ? 1 : sizeof(float));
}

/* Buffers for every value that is not an alias, shared where lifetimes allow, and the largest
 * scratch any convolution needs. */
static zsq_status allocate(zsq_rt *rt, zsq_err *err) {
  const int nt = (int)rt->g->n_tensors;
  zsq_buf_life *life = calloc((size_t)nt + 1, sizeof *life);
  if (life == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (int t = 0; t < nt; t++) life[t] = (zsq_buf_life){0, rt->n_steps, -1, 0};
  life[rt->in_tensor].first = -1;
  life[rt->alias[rt->out_tensor]].last = rt->n_steps;
  for (int i = 0; i < rt->n_steps; i++) {
    const rt_step *s = &rt->steps[i];
    const int reads[2] = {s->in, s->in2};
    for (int k = 0; k < 2; k++) {
      if (reads[k] < 0) continue;
      zsq_buf_life *l = &life[rt->alias[reads[k]]];
      l->last = l->last > i ? l->last : i;
    }
    zsq_buf_life *w = &life[rt->alias[s->out]];
    w->first = w->first < i ? w->first : i;
  }
  int n = 0;
  int *which = malloc((size_t)nt * sizeof(int) + 1);
  for (int t = 0; which && t < nt; t++) {
    if (rt->vals[t].kind == RT_UNSET || rt->alias[t] != t) continue;
    life[t].bytes = val_bytes(&rt->vals[t]);
    if (life[t].last < life[t].first) life[t].last = life[t].first; /* written, never read */
    which[n] = t;
    life[n++] = life[t]; /* compact: entries before t are already moved */
  }
  const size_t total = which ? zsq_memplan(life, n) : (size_t)-1;
  const size_t threads = rt->tp ? pthreadpool_get_threads_count(rt->tp) : 1;
  for (int i = 0; i < rt->n_steps; i++) {
    const rt_step *s = &rt->steps[i];
    if (s->kind != S_CONV) continue;
    const rt_val *x = &rt->vals[s->in];
    const size_t sz = zsq_qconv_scratch_size(s->conv, x->n, x->h, x->w, threads);
    if (sz > rt->scratch_size) rt->scratch_size = sz;
  }
  if (total != (size_t)-1) {
    rt->arena = zsq_aligned_alloc(total + 64);
    rt->scratch = zsq_aligned_alloc(rt->scratch_size + 64);
  }
  if (rt->arena == NULL || rt->scratch == NULL) {
    free(life);
    free(which);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory (%zu bytes of activations)", total);
  }
  for (int k = 0; k < n; k++) rt->vals[which[k]].data = (char *)rt->arena + life[k].offset;
  for (int t = 0; t < nt; t++)
    if (rt->alias[t] != t) rt->vals[t].data = rt->vals[rt->alias[t]].data;
  free(life);
  free(which);
  return ZSQ_OK;
}

static zsq_status plan(zsq_rt *rt, const zsqf_layer *layers, int n_layers, const char *isa,
                       zsq_err *err) {
  const zsq_graph *g = rt->g;
  for (size_t t = 0; t < g->n_tensors; t++) {
    rt->alias[t] = (int)t;
    rt->cons[t] = -1;
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
      const int t = g->nodes[i].inputs[k];
      if (t < 0) continue;
      rt->n_cons[t]++;
      rt->cons[t] = (int)i;
    }
  }
  for (size_t i = 0; i < g->n_outputs; i++) rt->n_cons[g->outputs[i]] += 2; /* never fused */
  if (g->n_inputs != 1 || g->n_outputs < 1)
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "integer runtime: needs one graph input");
  const zsq_tensor *it = &g->tensors[g->inputs[0]];
  if (it->rank != 4 || it->dims[1] <= 0 || it->dims[2] <= 0 || it->dims[3] <= 0)
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "integer runtime: the input must be N×C×H×W");
  rt->in_tensor = g->inputs[0];
  rt->out_tensor = g->outputs[0];
  rt->vals[rt->in_tensor] =
      (rt_val){RT_F32, 4, rt->batch, it->dims[2], it->dims[3], it->dims[1], 0.0f, 0, 0, NULL};
  char *done = calloc(g->n_nodes + 1, 1);
  if (done == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  zsq_status st = ZSQ_OK;
  for (size_t i = 0; st == ZSQ_OK && i < g->n_nodes; i++) {
    if (done[i]) continue;
    const zsq_op op = g->nodes[i].op;
    st = op == ZSQ_OP_CONV || op == ZSQ_OP_GEMM
             ? plan_conv(rt, (int)i, layers, n_layers, isa, done, err)
             : plan_node(rt, (int)i, err);
  }
  free(done);
  if (st == ZSQ_OK && rt->vals[rt->out_tensor].kind == RT_UNSET)
    st = zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "integer runtime: the graph output is not computed");
  return st == ZSQ_OK ? allocate(rt, err) : st;
}

zsq_status zsq_rt_create(const zsq_graph *g, const zsqf_layer *layers, int n_layers, int64_t batch,
                         const char *isa, pthreadpool_t tp, zsq_rt **out, zsq_err *err) {
  *out = NULL;
  if (g == NULL || batch < 1) return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "no graph or batch < 1");
  zsq_rt *rt = calloc(1, sizeof *rt);
  if (rt == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  rt->g = g;
  rt->batch = batch;
  rt->tp = tp;
  const size_t nt = g->n_tensors + 1;
  rt->vals = calloc(nt, sizeof *rt->vals);
  rt->alias = calloc(nt, sizeof *rt->alias);
  rt->n_cons = calloc(nt, sizeof *rt->n_cons);
  rt->cons = calloc(nt, sizeof *rt->cons);
  rt->steps = calloc(g->n_nodes + 1, sizeof *rt->steps);
  zsq_status st = rt->vals && rt->alias && rt->n_cons && rt->cons && rt->steps
                      ? plan(rt, layers, n_layers, isa, err)
                      : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  if (st != ZSQ_OK) {
    zsq_rt_destroy(rt);
    return st;
  }
  *out = rt;
  return ZSQ_OK;
}

void zsq_rt_destroy(zsq_rt *rt) {
  if (rt == NULL) return;
  for (int i = 0; i < rt->n_steps; i++) {
    zsq_qconv_destroy(rt->steps[i].conv);
    free(rt->steps[i].grid_arrays);
  }
  free(rt->steps);
  free(rt->vals);
  free(rt->alias);
  free(rt->n_cons);
  free(rt->cons);
  zsq_aligned_free(rt->arena);
  zsq_aligned_free(rt->scratch);
  free(rt);
}

/* One non-convolution step split across the pool: its work items and how many make a task. */
typedef struct side_task {
  const zsq_rt *rt;
  const rt_step *s;
} side_task;

static void side_range(void *ctx, size_t begin, size_t end) {
  const side_task *t = ctx;
  const rt_step *s = t->s;
  const rt_val *v = t->rt->vals, *x = &v[s->in];
  rt_val *y = &t->rt->vals[s->out];
  const int64_t b = (int64_t)begin, e = (int64_t)end;
  switch (s->kind) {
    case S_QUANT:
      rt_quantize(x, y, &s->grid, b, e);
      break;
    case S_ADD:
      rt_add(x, &v[s->in2], y, s->lo, s->hi, b, e);
      break;
    case S_CLAMP:
      rt_clamp(x, y, s->lo, s->hi, b, e);
      break;
    case S_GAP:
      rt_global_avgpool(x, y, b, e);
      break;
    case S_MAXPOOL:
      rt_maxpool(x, y, &s->geom, b, e);
      break;
    default: /* not split: run whole by the caller */
      break;
  }
}

/* Runs a side step over the pool; the items of each kind are named in rt_ops.h. */
static void run_side(const zsq_rt *rt, const rt_step *s) {
  const rt_val *x = &rt->vals[s->in], *y = &rt->vals[s->out];
  side_task t = {rt, s};
  switch (s->kind) {
    case S_QUANT:
    case S_ADD:
    case S_CLAMP:
      zsq_parallel_for(rt->tp, (size_t)rt_numel(y), 16384, side_range, &t);
      break;
    case S_GAP:
      zsq_parallel_for(rt->tp, (size_t)(x->n * x->c), 8192 / (size_t)(x->h * x->w) + 1, side_range,
                       &t);
      break;
    case S_MAXPOOL:
      zsq_parallel_for(rt->tp, (size_t)(y->n * y->h), 16384 / (size_t)(y->w * y->c) + 1, side_range,
                       &t);
      break;
    case S_NCHW:
      rt_to_nchw(x, &rt->vals[s->out]);
      break;
    case S_SOFTMAX:
      rt_softmax(x, &rt->vals[s->out]);
      break;
    case S_CONV:
      break;
  }
}

zsq_status zsq_rt_run_steps(zsq_rt *rt, int first, int last, zsq_err *err) {
  rt_val *v = rt->vals;
  for (int i = first; i < last; i++) {
    const rt_step *s = &rt->steps[i];
    if (s->kind != S_CONV) {
      run_side(rt, s);
      continue;
    }
    const rt_val *x = &v[s->in];
    const void *res = s->in2 >= 0 ? v[s->in2].data : NULL;
    ZSQ_TRY(zsq_qconv_run(s->conv, x->n, x->h, x->w, x->data, res, v[s->out].data, rt->scratch,
                          rt->tp, err));
  }
  return ZSQ_OK;
}

zsq_status zsq_rt_run(zsq_rt *rt, const float *input, float *output, zsq_err *err) {
  const rt_val *x0 = &rt->vals[rt->in_tensor];
  zsq_nchw_to_nhwc(input, x0->data, x0->n, x0->c, x0->h * x0->w);
  ZSQ_TRY(zsq_rt_run_steps(rt, 0, rt->n_steps, err));
  rt_write_output(&rt->vals[rt->out_tensor], output);
  return ZSQ_OK;
}

int64_t zsq_rt_output_size(const zsq_rt *rt) {
  const rt_val *o = &rt->vals[rt->out_tensor];
  return o->h * o->w * o->c;
}

const char *zsq_rt_kernel_name(const zsq_rt *rt) {
  return rt->kernel ? rt->kernel : "none";
}

int zsq_rt_step_count(const zsq_rt *rt) {
  return rt->n_steps;
}

void zsq_rt_step_io(const zsq_rt *rt, int i, int *in, int *in2, int *out) {
  *in = rt->steps[i].in;
  *in2 = rt->steps[i].in2;
  *out = rt->steps[i].out;
}

int zsq_rt_step_layer(const zsq_rt *rt, int i) {
  return rt->steps[i].layer;
}

void *zsq_rt_data(zsq_rt *rt, int t, int *kind) {
  const int ok = t >= 0 && (size_t)t < rt->g->n_tensors;
  *kind = ok ? (int)rt->vals[t].kind : 0;
  return ok ? rt->vals[t].data : NULL;
}
