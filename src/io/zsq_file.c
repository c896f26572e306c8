/* zsq_file.c — writing and strictly validating .zsq files (layout in docs/file-format.md). */
#include "io/zsq_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/file_map.h"

#define MAGIC "ZSQMODEL"
#define VERSION 2u /* written when a layer has zero points; else 1, which older zsq reads */
#define VERSION_SYM 1u
#define HEADER 64u
#define ALIGN 64u

enum { SEC_STRINGS, SEC_TENSORS, SEC_NODES, SEC_IOS, SEC_META, SEC_LAYERS, SEC_DATA, SEC_COUNT };
enum { T_VALUE = 0, T_F32 = 1, T_I64 = 2, T_CODES = 3, T_ZCODES = 4 }; /* 4: version 2 */

typedef struct header {
  char magic[8];
  uint32_t version, header_size;
  uint64_t file_size, checksum;
  uint32_t n_tensors, n_nodes, n_layers, n_meta, n_inputs, n_outputs;
  int32_t opset;
  uint32_t reserved;
} header;
_Static_assert(sizeof(header) == HEADER, "header layout");

typedef struct section {
  uint64_t offset, size;
} section;

typedef struct tensor_rec {
  uint32_t name, kind;
  int32_t rank;
  uint32_t bits;
  int64_t dims[8];
  uint64_t data_off, data_size, scale_off;
  int64_t rows;
  int32_t row_stride, elem_stride;
  uint64_t zero_off; /* T_ZCODES: one u8 zero point per row in the data section (else 0) */
} tensor_rec;
_Static_assert(sizeof(tensor_rec) == 128, "tensor record layout");

typedef struct node_rec {
  uint32_t name, op;
  int32_t opset, n_inputs, n_outputs;
  int32_t inputs[8], outputs[2];
  float act_min, act_max;
  int32_t pad;
  int64_t ia[12];
  float fa[6];
} node_rec;
_Static_assert(sizeof(node_rec) == 192, "node record layout");

typedef struct layer_rec {
  uint32_t name;
  int32_t wbits, abits, weight_tensor;
  double in_min, in_max;
  float in_scale, in_zero_point;
  double weight_sqnr_db, isolated_sqnr_db, accumulated_sqnr_db;
} layer_rec;
_Static_assert(sizeof(layer_rec) == 64, "layer record layout");

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

int zsq_file_is_zsq(const void *data, size_t size) {
  return size >= 8 && memcmp(data, MAGIC, 8) == 0;
}

/* ---- attributes ------------------------------------------------------------------------- */

static void window_out(const zsq_window *w, int64_t *ia) {
  memcpy(ia, w->kernel, 16);
  memcpy(ia + 2, w->strides, 16);
  memcpy(ia + 4, w->dilations, 16);
  memcpy(ia + 6, w->pads, 32);
  ia[10] = w->auto_pad;
}

static void window_in(zsq_window *w, const int64_t *ia) {
  memcpy(w->kernel, ia, 16);
  memcpy(w->strides, ia + 2, 16);
  memcpy(w->dilations, ia + 4, 16);
  memcpy(w->pads, ia + 6, 32);
  w->auto_pad = (zsq_auto_pad)ia[10];
}

static void attrs_out(const zsq_node *n, node_rec *r) {
  switch (n->op) {
    case ZSQ_OP_CONV:
      window_out(&n->a.conv.win, r->ia), r->ia[11] = n->a.conv.group;
      break;
    case ZSQ_OP_MAXPOOL:
    case ZSQ_OP_AVGPOOL:
      window_out(&n->a.pool.win, r->ia);
      r->ia[11] = n->a.pool.ceil_mode | n->a.pool.count_include_pad << 1;
      break;
    case ZSQ_OP_BATCHNORM:
      r->fa[0] = n->a.bn.epsilon;
      break;
    case ZSQ_OP_CLIP:
      r->fa[0] = n->a.clip.min, r->fa[1] = n->a.clip.max;
      break;
    case ZSQ_OP_GEMM:
      r->fa[0] = n->a.gemm.alpha, r->fa[1] = n->a.gemm.beta;
      r->ia[0] = n->a.gemm.trans_a, r->ia[1] = n->a.gemm.trans_b;
      break;
    case ZSQ_OP_FLATTEN:
    case ZSQ_OP_CONCAT:
    case ZSQ_OP_SOFTMAX:
      r->ia[0] = n->a.axis.axis;
      break;
    case ZSQ_OP_RESHAPE:
      r->ia[0] = n->a.reshape.allowzero;
      break;
    case ZSQ_OP_FAKEQUANT:
      r->fa[0] = n->a.fq.scale, r->fa[1] = n->a.fq.inv_scale, r->fa[2] = n->a.fq.zero_point;
      r->fa[3] = n->a.fq.qmin, r->fa[4] = n->a.fq.qmax;
      break;
    default:
      break;
  }
}

static void attrs_in(zsq_node *n, const node_rec *r) {
  switch (n->op) {
    case ZSQ_OP_CONV:
      window_in(&n->a.conv.win, r->ia), n->a.conv.group = r->ia[11];
      break;
    case ZSQ_OP_MAXPOOL:
    case ZSQ_OP_AVGPOOL:
      window_in(&n->a.pool.win, r->ia);
      n->a.pool.ceil_mode = (int)(r->ia[11] & 1),
      n->a.pool.count_include_pad = (int)(r->ia[11] >> 1 & 1);
      break;
    case ZSQ_OP_BATCHNORM:
      n->a.bn.epsilon = r->fa[0];
      break;
    case ZSQ_OP_CLIP:
      n->a.clip.min = r->fa[0], n->a.clip.max = r->fa[1];
      break;
    case ZSQ_OP_GEMM:
      n->a.gemm.alpha = r->fa[0], n->a.gemm.beta = r->fa[1];
      n->a.gemm.trans_a = (int)r->ia[0], n->a.gemm.trans_b = (int)r->ia[1];
      break;
    case ZSQ_OP_FLATTEN:
    case ZSQ_OP_CONCAT:
    case ZSQ_OP_SOFTMAX:
      n->a.axis.axis = r->ia[0];
      break;
    case ZSQ_OP_RESHAPE:
      n->a.reshape.allowzero = (int)r->ia[0];
      break;
    case ZSQ_OP_FAKEQUANT:
      n->a.fq.scale = r->fa[0], n->a.fq.inv_scale = r->fa[1], n->a.fq.zero_point = r->fa[2];
      n->a.fq.qmin = r->fa[3], n->a.fq.qmax = r->fa[4];
      break;
    default:
      break;
  }
}

/* ---- writer ----------------------------------------------------------------------------- */

typedef struct buf {
  uint8_t *p;
  size_t n, cap;
  int oom;
} buf;

static size_t put(buf *b, const void *data, size_t n) {
  if (b->oom) return 0;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->n + n) cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (q == NULL) {
      b->oom = 1;
      return 0;
    }
    b->p = q;
    b->cap = cap;
  }
  const size_t at = b->n;
  if (data)
    memcpy(b->p + at, data, n);
  else
    memset(b->p + at, 0, n);
  b->n += n;
  return at;
}

static void align(buf *b) {
  while (b->n % ALIGN) put(b, NULL, 1);
}

static uint32_t str(buf *s, const char *v) {
  return (uint32_t)put(s, v ? v : "", strlen(v ? v : "") + 1);
}

static const zsqf_layer *layer_of(const zsqf_layer *l, int n, int tensor) {
  for (int i = 0; i < n; i++) {
    if (l[i].weight_tensor == tensor) return &l[i];
  }
  return NULL;
}

/* Integer codes of Ŵ: one byte each at 8 bits, else two's-complement nibbles, low nibble first;
 * with zero points, unsigned nibbles (code = Ŵ/scale + zero point) and one u8 zero point per row.
 */
static void put_codes(buf *data, const zsq_tensor *t, const zsqf_layer *l, tensor_rec *r) {
  const int64_t n = zsq_tensor_numel(t), len = n / l->rows;
  const float *w = t->data;
  r->kind = l->zero_point ? T_ZCODES : T_CODES;
  r->bits = (uint32_t)l->wbits;
  r->rows = l->rows;
  r->row_stride = l->row_stride;
  r->elem_stride = l->elem_stride;
  r->scale_off = put(data, l->scale, (size_t)l->rows * sizeof(float));
  align(data);
  if (l->zero_point) {
    r->zero_off = put(data, NULL, (size_t)l->rows);
    for (int64_t o = 0; !data->oom && o < l->rows; o++)
      data->p[r->zero_off + (size_t)o] = (uint8_t)l->zero_point[o];
    align(data);
  }
  r->data_size = l->wbits == 8 ? (uint64_t)n : (uint64_t)(n + 1) / 2;
  r->data_off = put(data, NULL, r->data_size);
  uint8_t *out = data->oom ? NULL : data->p + r->data_off;
  for (int64_t o = 0; out && o < l->rows; o++) {
    for (int64_t k = 0; k < len; k++) {
      const int64_t i = o * l->row_stride + k * l->elem_stride;
      const int q = (int)lrintf(w[i] / l->scale[o]) + (l->zero_point ? (int)l->zero_point[o] : 0);
      if (l->wbits == 8)
        out[i] = (uint8_t)(int8_t)q;
      else
        out[i / 2] |= (uint8_t)((q & 0xf) << (4 * (i & 1)));
    }
  }
}

/* New index of every tensor a node or the graph's inputs/outputs use (-1: dropped, e.g. the
 * unfolded BatchNorm parameters and float weights a simulated graph still carries). */
static int *live_tensors(const zsq_graph *g, int *count) {
  int *map = malloc((g->n_tensors + 1) * sizeof(int));
  if (map == NULL) return NULL;
  for (size_t i = 0; i < g->n_tensors; i++) map[i] = -1;
  for (size_t i = 0; i < g->n_nodes; i++) {
    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
      if (g->nodes[i].inputs[k] >= 0) map[g->nodes[i].inputs[k]] = 1;
    }
    for (int k = 0; k < g->nodes[i].n_outputs; k++) map[g->nodes[i].outputs[k]] = 1;
  }
  for (size_t i = 0; i < g->n_inputs; i++) map[g->inputs[i]] = 1;
  for (size_t i = 0; i < g->n_outputs; i++) map[g->outputs[i]] = 1;
  int n = 0;
  for (size_t i = 0; i < g->n_tensors; i++) map[i] = map[i] > 0 ? n++ : -1;
  *count = n;
  return map;
}

static int32_t remap(const int *map, int t) {
  return t < 0 ? -1 : map[t];
}

zsq_status zsq_file_write(const char *path, const zsq_graph *g, const zsqf_layer *layers,
                          int n_layers, zsq_err *err) {
  buf s = {0}, t = {0}, nd = {0}, io = {0}, meta = {0}, lay = {0}, data = {0};
  int n_live;
  int *map = live_tensors(g, &n_live);
  if (map == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < g->n_tensors; i++) {
    if (map[i] < 0) continue;
    const zsq_tensor *x = &g->tensors[i];
    tensor_rec r = {.name = str(&s, x->name), .rank = x->rank};
    memcpy(r.dims, x->dims, sizeof r.dims);
    const zsqf_layer *l = x->is_const ? layer_of(layers, n_layers, (int)i) : NULL;
    if (!x->is_const) {
      r.kind = T_VALUE;
    } else if (l != NULL) {
      put_codes(&data, x, l, &r);
    } else {
      r.kind = x->dtype == ZSQ_I64 ? T_I64 : T_F32;
      r.data_size = (uint64_t)zsq_tensor_numel(x) * (x->dtype == ZSQ_I64 ? 8 : 4);
      r.data_off = put(&data, x->data, r.data_size);
    }
    align(&data);
    put(&t, &r, sizeof r);
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    const zsq_node *n = &g->nodes[i];
    node_rec r = {.name = str(&s, n->name),
                  .op = (uint32_t)n->op,
                  .opset = n->opset,
                  .n_inputs = n->n_inputs,
                  .n_outputs = n->n_outputs,
                  .act_min = n->act_min,
                  .act_max = n->act_max};
    for (int k = 0; k < ZSQ_MAX_INPUTS; k++)
      r.inputs[k] = k < n->n_inputs ? remap(map, n->inputs[k]) : -1;
    for (int k = 0; k < 2; k++) r.outputs[k] = k < n->n_outputs ? remap(map, n->outputs[k]) : -1;
    attrs_out(n, &r);
    put(&nd, &r, sizeof r);
  }
  for (size_t i = 0; i < g->n_inputs + g->n_outputs; i++) {
    const int32_t v = remap(map, i < g->n_inputs ? g->inputs[i] : g->outputs[i - g->n_inputs]);
    put(&io, &v, 4);
  }
  for (size_t i = 0; i < g->n_meta; i++) {
    const uint32_t kv[2] = {str(&s, g->meta[i].key), str(&s, g->meta[i].value)};
    put(&meta, kv, sizeof kv);
  }
  for (int i = 0; i < n_layers; i++) {
    const zsqf_layer *l = &layers[i];
    layer_rec r = {str(&s, l->name),
                   l->wbits,
                   l->abits,
                   remap(map, l->weight_tensor),
                   l->in_min,
                   l->in_max,
                   l->in_scale,
                   l->in_zero_point,
                   l->weight_sqnr_db,
                   l->isolated_sqnr_db,
                   l->accumulated_sqnr_db};
    put(&lay, &r, sizeof r);
  }
  buf *parts[SEC_COUNT] = {&s, &t, &nd, &io, &meta, &lay, &data};
  buf out = {0};
  free(map);
  int zero_points = 0;
  for (int i = 0; i < n_layers; i++) zero_points |= layers[i].zero_point != NULL;
  header h = {.version = zero_points ? VERSION : VERSION_SYM,
              .header_size = HEADER,
              .n_tensors = (uint32_t)n_live,
              .n_nodes = (uint32_t)g->n_nodes,
              .n_layers = (uint32_t)n_layers,
              .n_meta = (uint32_t)g->n_meta,
              .n_inputs = (uint32_t)g->n_inputs,
              .n_outputs = (uint32_t)g->n_outputs,
              .opset = (int32_t)g->opset};
  memcpy(h.magic, MAGIC, 8);
  put(&out, &h, sizeof h);
  section sec[SEC_COUNT];
  const size_t table = put(&out, NULL, sizeof sec);
  int oom = 0;
  for (int i = 0; i < SEC_COUNT; i++) {
    align(&out);
    sec[i].offset = out.n;
    sec[i].size = parts[i]->n;
    if (parts[i]->n) put(&out, parts[i]->p, parts[i]->n);
    oom |= parts[i]->oom;
    free(parts[i]->p);
  }
  zsq_status st = ZSQ_OK;
  if (oom || out.oom) {
    st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory writing '%s'", path);
  } else {
    memcpy(out.p + table, sec, sizeof sec);
    header *hp = (header *)out.p;
    hp->file_size = out.n;
    hp->checksum = fnv1a(out.p + HEADER, out.n - HEADER);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
      st = zsq_fail(err, ZSQ_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    } else {
      const int ok = fwrite(out.p, 1, out.n, f) == out.n;
      if ((fclose(f) != 0) | !ok) st = zsq_fail(err, ZSQ_ERR_IO, "short write on '%s'", path);
    }
  }
  free(out.p);
  return st;
}

/* ---- reader ----------------------------------------------------------------------------- */

typedef struct reader {
  const uint8_t *p;
  size_t n;
  section sec[SEC_COUNT];
  const char *path;
  uint32_t version;
  zsq_err *err;
} reader;

static zsq_status bad(reader *r, const char *what) {
  return zsq_fail(r->err, ZSQ_ERR_FORMAT, "'%s' is not a valid .zsq file: %s", r->path, what);
}

static const char *string_at(reader *r, uint32_t off) {
  const section *s = &r->sec[SEC_STRINGS];
  if (off >= s->size) return NULL;
  const char *base = (const char *)r->p + s->offset;
  return memchr(base + off, '\0', s->size - off) ? base + off : NULL;
}

/* Code i of a weight tensor: a byte at 8 bits, else a nibble (two's complement unless unsigned). */
static int code_at(const uint8_t *src, int64_t i, uint32_t bits, int is_unsigned) {
  if (bits == 8) return (int8_t)src[i];
  const uint8_t nib = (uint8_t)(src[i / 2] >> (4 * (i & 1))) & 0xf;
  return is_unsigned ? nib : ((int8_t)(uint8_t)(nib << 4)) >> 4;
}

/* The zero points of T_ZCODES (rows u8 in [0, 2^bits − 1]) into layer->zero_point. */
static zsq_status read_zero_points(reader *r, const tensor_rec *tr, zsqf_layer *layer) {
  const section *data = &r->sec[SEC_DATA];
  if (tr->bits == 8) return bad(r, "8-bit weight codes cannot have zero points");
  if (tr->zero_off > data->size || (uint64_t)tr->rows > data->size - tr->zero_off)
    return bad(r, "zero points out of bounds");
  layer->zero_point = malloc((size_t)tr->rows * sizeof(float));
  if (layer->zero_point == NULL) return zsq_fail(r->err, ZSQ_ERR_NOMEM, "out of memory");
  const uint8_t *z = r->p + data->offset + tr->zero_off;
  for (int64_t o = 0; o < tr->rows; o++) {
    if (z[o] >= 1u << tr->bits) return bad(r, "a weight zero point is out of range");
    layer->zero_point[o] = (float)z[o];
  }
  return ZSQ_OK;
}

static zsq_status read_tensor(reader *r, const tensor_rec *tr, zsq_tensor *t, zsqf_layer *layer) {
  if (tr->rank < (tr->kind == T_VALUE ? -1 : 0) || tr->rank > ZSQ_MAX_RANK) {
    return bad(r, "a tensor rank is out of range");
  }
  for (int d = 0; d < tr->rank; d++) {
    if (tr->dims[d] < (tr->kind == T_VALUE ? -1 : 0)) return bad(r, "a tensor dim is negative");
  }
  t->rank = tr->rank;
  memcpy(t->dims, tr->dims, sizeof t->dims);
  if (tr->kind == T_VALUE) return ZSQ_OK;
  const int64_t n = zsq_dims_product(tr->dims, tr->rank);
  if (n < 0 || n > ((int64_t)1 << 34)) return bad(r, "a tensor has an impossible size");
  const section *data = &r->sec[SEC_DATA];
  if (tr->data_off > data->size || tr->data_size > data->size - tr->data_off)
    return bad(r, "tensor data out of bounds");
  const uint8_t *src = r->p + data->offset + tr->data_off;
  t->is_const = 1;
  t->dtype = tr->kind == T_I64 ? ZSQ_I64 : ZSQ_F32;
  const size_t esz = tr->kind == T_I64 ? 8 : 4;
  const int zcodes = tr->kind == T_ZCODES && r->version >= 2;
  if (tr->kind != T_CODES && !zcodes) {
    if (tr->kind != T_F32 && tr->kind != T_I64) return bad(r, "unknown tensor kind");
    if (tr->data_size != (uint64_t)n * esz)
      return bad(r, "tensor data size disagrees with its dims");
    t->data = zsq_aligned_alloc((size_t)n * esz);
    if (t->data == NULL) return zsq_fail(r->err, ZSQ_ERR_NOMEM, "out of memory");
    memcpy(t->data, src, (size_t)n * esz);
    return ZSQ_OK;
  }
  const uint32_t bits = tr->bits;
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    return bad(r, "weight codes have an unsupported width");
  if (tr->data_size != (bits == 8 ? (uint64_t)n : (uint64_t)(n + 1) / 2))
    return bad(r, "weight code size");
  if (tr->rows < 1 || n % tr->rows != 0 || tr->row_stride < 0 || tr->elem_stride < 0)
    return bad(r, "weight rows");
  const int64_t len = n / tr->rows;
  if ((tr->rows - 1) * tr->row_stride + (len - 1) * tr->elem_stride >= n)
    return bad(r, "weight strides");
  if (tr->scale_off > data->size || (uint64_t)tr->rows * 4 > data->size - tr->scale_off)
    return bad(r, "scales");
  layer->rows = tr->rows;
  layer->row_stride = tr->row_stride;
  layer->elem_stride = tr->elem_stride;
  layer->scale = malloc((size_t)tr->rows * sizeof(float));
  float *w = zsq_aligned_alloc((size_t)n * sizeof(float));
  t->data = w;
  if (layer->scale == NULL || w == NULL) return zsq_fail(r->err, ZSQ_ERR_NOMEM, "out of memory");
  memcpy(layer->scale, r->p + data->offset + tr->scale_off, (size_t)tr->rows * sizeof(float));
  if (zcodes) ZSQ_TRY(read_zero_points(r, tr, layer));
  for (int64_t o = 0; o < tr->rows; o++) {
    const int z = zcodes ? (int)layer->zero_point[o] : 0;
    for (int64_t k = 0; k < len; k++) {
      const int64_t i = o * tr->row_stride + k * tr->elem_stride;
      const int q = code_at(src, i, bits, zcodes);
      if (zcodes && q >= 1 << bits) return bad(r, "a weight code is out of range");
      w[i] = (float)(q - z) * layer->scale[o];
    }
  }
  return ZSQ_OK;
}

static zsq_status read_all(reader *r, zsq_graph *g, zsqf_layer **layers_out, int *n_layers) {
  const header *h = (const header *)r->p;
  if (r->n < HEADER + sizeof r->sec || memcmp(h->magic, MAGIC, 8) != 0)
    return bad(r, "no ZSQMODEL header");
  if (h->version < VERSION_SYM || h->version > VERSION || h->header_size != HEADER) {
    return zsq_fail(r->err, ZSQ_ERR_UNSUPPORTED,
                    "'%s' is .zsq version %u; this zsq reads versions %u to %u", r->path,
                    h->version, VERSION_SYM, VERSION);
  }
  r->version = h->version;
  if (h->file_size != r->n) return bad(r, "the file size disagrees with its header (truncated?)");
  if (fnv1a(r->p + HEADER, r->n - HEADER) != h->checksum)
    return bad(r, "the checksum does not match (corrupted)");
  memcpy(r->sec, r->p + HEADER, sizeof r->sec);
  for (int i = 0; i < SEC_COUNT; i++) {
    if (r->sec[i].offset > r->n || r->sec[i].size > r->n - r->sec[i].offset)
      return bad(r, "a section is out of bounds");
  }
  const size_t nt = h->n_tensors, nn = h->n_nodes, nl = h->n_layers;
  if (r->sec[SEC_TENSORS].size != nt * sizeof(tensor_rec) ||
      r->sec[SEC_NODES].size != nn * sizeof(node_rec) ||
      r->sec[SEC_LAYERS].size != nl * sizeof(layer_rec) ||
      r->sec[SEC_META].size != (size_t)h->n_meta * 8 ||
      r->sec[SEC_IOS].size != ((size_t)h->n_inputs + h->n_outputs) * 4 || h->n_outputs == 0) {
    return bad(r, "section sizes disagree with the header counts");
  }
  g->opset = h->opset;
  zsqf_layer *layers = calloc(nl + 1, sizeof(zsqf_layer));
  if (layers == NULL) return zsq_fail(r->err, ZSQ_ERR_NOMEM, "out of memory");
  *layers_out = layers;
  *n_layers = (int)nl;
  const layer_rec *lr = (const layer_rec *)(r->p + r->sec[SEC_LAYERS].offset);
  for (size_t i = 0; i < nl; i++) {
    layer_rec rec;
    memcpy(&rec, lr + i, sizeof rec);
    const char *name = string_at(r, rec.name);
    if (name == NULL || rec.weight_tensor < 0 || (size_t)rec.weight_tensor >= nt)
      return bad(r, "a layer record");
    zsqf_layer *l = &layers[i];
    l->name = strdup(name);
    l->wbits = rec.wbits, l->abits = rec.abits, l->weight_tensor = rec.weight_tensor;
    l->in_min = rec.in_min, l->in_max = rec.in_max, l->in_scale = rec.in_scale,
    l->in_zero_point = rec.in_zero_point;
    l->weight_sqnr_db = rec.weight_sqnr_db, l->isolated_sqnr_db = rec.isolated_sqnr_db;
    l->accumulated_sqnr_db = rec.accumulated_sqnr_db;
    if (l->name == NULL) return zsq_fail(r->err, ZSQ_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < nt; i++) {
    tensor_rec tr;
    memcpy(&tr, r->p + r->sec[SEC_TENSORS].offset + i * sizeof tr, sizeof tr);
    const char *name = string_at(r, tr.name);
    if (name == NULL) return bad(r, "a tensor name is out of bounds");
    const int t = zsq_graph_add_tensor(g, name);
    if (t < 0) return zsq_fail(r->err, ZSQ_ERR_NOMEM, "out of memory");
    zsqf_layer scratch = {0}, *l = &scratch;
    for (size_t k = 0; k < nl; k++) l = layers[k].weight_tensor == t ? &layers[k] : l;
    if ((tr.kind == T_CODES || tr.kind == T_ZCODES) && l == &scratch)
      return bad(r, "weight codes without a layer");
    const zsq_status st = read_tensor(r, &tr, &g->tensors[t], l);
    free(scratch.scale);
    free(scratch.zero_point);
    if (st != ZSQ_OK) return st;
  }
  const int32_t *io = (const int32_t *)(r->p + r->sec[SEC_IOS].offset);
  g->inputs = calloc((size_t)h->n_inputs + 1, sizeof(int));
  g->outputs = calloc((size_t)h->n_outputs + 1, sizeof(int));
  if (!g->inputs || !g->outputs) return zsq_fail(r->err, ZSQ_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < (size_t)h->n_inputs + h->n_outputs; i++) {
    int32_t v;
    memcpy(&v, io + i, 4);
    if (v < 0 || (size_t)v >= nt) return bad(r, "a graph input or output is out of range");
    if (i < h->n_inputs)
      g->inputs[g->n_inputs++] = v;
    else
      g->outputs[g->n_outputs++] = v;
  }
  for (size_t i = 0; i < nn; i++) {
    node_rec nr;
    memcpy(&nr, r->p + r->sec[SEC_NODES].offset + i * sizeof nr, sizeof nr);
    const char *name = string_at(r, nr.name);
    if (name == NULL || nr.op >= ZSQ_OP_COUNT || nr.n_inputs < 1 || nr.n_inputs > ZSQ_MAX_INPUTS ||
        nr.n_outputs < 1 || nr.n_outputs > 2) {
      return bad(r, "a node record");
    }
    zsq_node n;
    memset(&n, 0, sizeof n);
    n.name = (char *)name;
    n.op = (zsq_op)nr.op;
    n.opset = nr.opset;
    n.n_inputs = nr.n_inputs;
    n.n_outputs = nr.n_outputs;
    n.act_min = nr.act_min;
    n.act_max = nr.act_max;
    for (int k = 0; k < n.n_inputs; k++) {
      if (nr.inputs[k] < -1 || nr.inputs[k] >= (int32_t)nt)
        return bad(r, "a node input is out of range");
      n.inputs[k] = nr.inputs[k];
    }
    for (int k = 0; k < n.n_outputs; k++) {
      if (nr.outputs[k] < 0 || nr.outputs[k] >= (int32_t)nt)
        return bad(r, "a node output is out of range");
      n.outputs[k] = nr.outputs[k];
    }
    attrs_in(&n, &nr);
    if (zsq_graph_add_node(g, &n) < 0) return zsq_fail(r->err, ZSQ_ERR_NOMEM, "out of memory");
  }
  g->meta = calloc((size_t)h->n_meta + 1, sizeof(zsq_meta));
  if (g->meta == NULL) return zsq_fail(r->err, ZSQ_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < h->n_meta; i++) {
    uint32_t kv[2];
    memcpy(kv, r->p + r->sec[SEC_META].offset + i * 8, 8);
    const char *k = string_at(r, kv[0]), *v = string_at(r, kv[1]);
    if (k == NULL || v == NULL) return bad(r, "a metadata entry");
    g->meta[g->n_meta].key = strdup(k);
    g->meta[g->n_meta].value = strdup(v);
    g->n_meta++;
  }
  return zsq_graph_finalize(g, r->err);
}

zsq_status zsq_file_read(const char *path, zsq_graph **g, zsqf_layer **layers, int *n_layers,
                         zsq_err *err) {
  *g = NULL;
  *layers = NULL;
  *n_layers = 0;
  zsq_file_view view;
  ZSQ_TRY(zsq_file_map(path, &view, err));
  reader r = {.p = view.data, .n = view.size, .path = path, .err = err};
  zsq_graph *gr = zsq_graph_new();
  zsq_status st =
      gr ? read_all(&r, gr, layers, n_layers) : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  zsq_file_unmap(&view);
  if (st != ZSQ_OK) {
    zsq_graph_free(gr);
    zsq_file_layers_free(*layers, *n_layers);
    *layers = NULL;
    *n_layers = 0;
    return st;
  }
  *g = gr;
  return ZSQ_OK;
}

void zsq_file_layers_free(zsqf_layer *layers, int n) {
  if (layers == NULL) return;
  for (int i = 0; i < n; i++) {
    free(layers[i].name);
    free(layers[i].scale);
    free(layers[i].zero_point);
  }
  free(layers);
}
