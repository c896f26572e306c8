/* qconv.c — the dense integer convolution operator (groups == 1): weight packing, igemm row
 * pointers or im2col, pthreadpool tiling and the folded or two-stage epilogue; depthwise descs go
 * to qdwconv. */
#include "ops/qconv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/configs/gemm-config.h"
#include "kernels/gemm/a-rows.h"
#include "ops/qconv-check.h"
#include "ops/qdwconv.h"

_Static_assert(ZSQ_REQUANT2_RES_NONE == (int)ZSQ_QRES_NONE &&
                   ZSQ_REQUANT2_RES_U8 == (int)ZSQ_QRES_CODES &&
                   ZSQ_REQUANT2_RES_F32 == (int)ZSQ_QRES_F32 &&
                   ZSQ_REQUANT2_OUT_U8 == (int)ZSQ_QOUT_CODES &&
                   ZSQ_REQUANT2_OUT_F32 == (int)ZSQ_QOUT_F32,
               "requant2.h kinds mirror qconv.h");

/* The int32 tile between the gemm_acc kernel and the two-stage epilogue lives on the task's stack
 * (16 x 64 x 4 B = 4 KiB): this pthreadpool gives a task no thread index to address a per-thread
 * slice of the caller's scratch with. */
#define ACC_ROWS 16
#define ACC_COLS 64
/* Rows of a task or im2col panel: the largest multiple of the kernel's MR up to 16. */
#define TASK_ROWS 16
/* Columns of a task on the 1x1 path (a multiple of every NR). */
#define TASK_COLS 128
/* im2col scratch slots (see im2col_slot): enough tasks to balance a few threads on a shared
 * machine, and a scratch size that does not depend on the thread count. */
#define MAX_SLOTS 32

struct zsq_qconv {
  zsq_qdwconv *dw;  /* depthwise: every call is forwarded */
  zsq_qconv_desc d; /* the desc's values; its array pointers are cleared */
  size_t k;         /* kh·kw·cin, the GEMM's K */
  int direct;       /* 1x1, stride 1, no padding: the NHWC input rows are A, no copy */
  int indirect;     /* otherwise, the igemm kernels on row pointers (no copy) where the tier has
                       them (see create_dense); im2col rows otherwise */
  int folded;       /* stage 2 folded into the requant ukernel (out == CODES, no residual) */
  const zsq_gemm_config *cfg;
  void *packed;
  size_t block_bytes; /* packed bytes of NR output columns */
  int32_t *bias;      /* [cout] −za·Σ_k w[n][k]: padding with code za adds nothing */
  /* [cout] each, one block; folded: mult·qmult and fmaf(offset, qmult, qoffset) */
  float *mult, *offset, *qmult, *qoffset;
  char name[192];
};

/* Whether stage 2 may be folded into the GEMM epilogue within 1 code of the reference, for every
 * channel: qmult > 0, the act clamp implied by the code clamp (evaluated with the reference's own
 * fmaf: codes of y <= act_min are all qmin, of y >= act_max all qmax), and the two roundings of
 * the reference against the folded ones differ by less than one. With P = max|acc|·mult·qmult,
 * Q = |offset|·qmult, R = |qoffset| and u = 2^-24 both forms lie within 4u(P + Q + R) of the exact
 * value (first order), so P + Q + R <= 2^20 keeps |v_ref − v_folded| <= 0.5. */
static int foldable(const zsq_qconv_desc *d, const int8_t *wk, size_t k) {
  if (d->out != ZSQ_QOUT_CODES || d->residual != ZSQ_QRES_NONE) return 0;
  const int32_t za = d->in_zero_point, amax = (1 << d->abits) - 1;
  const double a_dev = za > amax - za ? za : amax - za;
  for (int64_t n = 0; n < d->cout; n++) {
    const float qm = d->qmult[n], qo = d->qoffset[n];
    if (!(qm > 0.0f)) return 0;
    if (!(fmaf(d->act_min, qm, qo) < (float)(d->qmin + 1))) return 0;
    if (!(fmaf(d->act_max, qm, qo) >= (float)d->qmax)) return 0;
    double wabs = 0.0;
    for (size_t i = 0; i < k; i++) wabs += abs(wk[(size_t)n * k + i]);
    const double p = wabs * a_dev * fabs((double)d->mult[n]) * qm;
    const double q = fabs((double)d->offset[n]) * qm, r = fabs((double)qo);
    if (!(p + q + r <= 0x1p20)) return 0;
    if (!isfinite(d->mult[n] * qm) || !isfinite(fmaf(d->offset[n], qm, qo))) return 0;
  }
  return 1;
}

static zsq_status pick_config(const zsq_qconv_desc *d, zsq_gemm_wt wt, const zsq_gemm_config **cfg,
                              zsq_err *err) {
  if (d->isa == NULL) {
    *cfg = zsq_gemm_config_best(wt);
    return ZSQ_OK;
  }
  const zsq_status s = zsq_gemm_config_for_isa(d->isa, wt, cfg);
  if (s == ZSQ_ERR_UNSUPPORTED) {
    return zsq_fail(err, s, "qconv: this host or build lacks isa \"%s\"", d->isa);
  }
  if (s != ZSQ_OK) return zsq_fail(err, s, "qconv: unknown isa \"%s\"", d->isa);
  return ZSQ_OK;
}

/* The epilogue arrays: bias from the reordered weights wk[cout][k], then mult and offset (folded
 * or as given) and, for two-stage code output, qmult and qoffset. */
static void fill_epilogue(zsq_qconv *op, const zsq_qconv_desc *d, const int8_t *wk) {
  for (int64_t n = 0; n < d->cout; n++) {
    int32_t wsum = 0;
    for (size_t i = 0; i < op->k; i++) wsum += wk[(size_t)n * op->k + i];
    op->bias[n] = -d->in_zero_point * wsum;
    op->mult[n] = op->folded ? d->mult[n] * d->qmult[n] : d->mult[n];
    op->offset[n] = op->folded ? fmaf(d->offset[n], d->qmult[n], d->qoffset[n]) : d->offset[n];
    if (d->out == ZSQ_QOUT_CODES) {
      op->qmult[n] = d->qmult[n];
      op->qoffset[n] = d->qoffset[n];
    }
  }
}

static zsq_status create_dense(zsq_qconv *op, const zsq_qconv_desc *d, zsq_err *err) {
  const zsq_gemm_wt wt = d->wbits == 8 ? ZSQ_GEMM_QC8W : ZSQ_GEMM_QC4W;
  ZSQ_TRY(pick_config(d, wt, &op->cfg, err));
  if (op->cfg->mr > ACC_ROWS) {
    return zsq_fail(err, ZSQ_ERR_INTERNAL, "qconv: %s has MR > %d", op->cfg->name, ACC_ROWS);
  }
  const size_t cin = (size_t)d->cin, cout = (size_t)d->cout;
  const size_t kh = (size_t)d->kernel[0], kw = (size_t)d->kernel[1];
  op->k = kh * kw * cin;
  op->direct = kh == 1 && kw == 1 && d->stride[0] == 1 && d->stride[1] == 1 && d->pads[0] == 0 &&
               d->pads[1] == 0 && d->pads[2] == 0 && d->pads[3] == 0;
  /* ONNX [cout][cin][kh][kw] to [cout][K] with K = (ky, kx, c), the order of an NHWC im2col row. */
  int8_t *wk = malloc(cout * op->k);
  op->bias = malloc(cout * sizeof(int32_t));
  op->mult = malloc(4 * cout * sizeof(float));
  if (wk == NULL || op->bias == NULL || op->mult == NULL) {
    free(wk);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "qconv: out of memory for %zu x %zu weights", cout, op->k);
  }
  for (size_t n = 0; n < cout; n++) {
    for (size_t c = 0; c < cin; c++) {
      for (size_t t = 0; t < kh * kw; t++)
        wk[n * op->k + t * cin + c] = d->weights[(n * cin + c) * kh * kw + t];
    }
  }
  op->offset = op->mult + cout;
  op->qmult = op->offset + cout;
  op->qoffset = op->qmult + cout;
  op->folded = foldable(d, wk, op->k);
  /* A tier without a gemm_acc kernel runs the two-stage path on the scalar tier. */
  if (!op->folded && op->cfg->acc == NULL) ZSQ_TRY(zsq_gemm_config_for_isa("scalar", wt, &op->cfg));
  /* At most 16 output channels: the tier's 16-column tile does half the 32-column one's work. */
  if (cout <= 16 && op->cfg->narrow != NULL) op->cfg = op->cfg->narrow;
  fill_epilogue(op, d, wk);
  const zsq_gemm_config *cfg = op->cfg;
  /* igemm wherever the tier has it, but for cin % 4 != 0 on a KR = 1 tier (the scalar oracle):
   * that keeps the im2col path exercised on every host. With cin % KR != 0 the igemm reads whole
   * k-steps per tap, so its weights are padded per tap (a 1-channel stem: 9 k-steps for 3, still
   * far cheaper than its 1-byte im2col runs); otherwise both paths share one packing. */
  op->indirect = !op->direct && (cin % 4 == 0 || cfg->kr > 1) &&
                 (op->folded ? (void *)cfg->igemm : (void *)cfg->igemm_acc) != NULL;
  const size_t kcp = op->indirect ? zsq_round_up(cin, (size_t)cfg->kr) : cin, kpack = kh * kw * kcp;
  int8_t *wp = kcp == cin ? wk : calloc(cout * kpack, 1);
  const size_t packed_bytes = zsq_gemm_packed_size(cout, kpack, cfg->nr, cfg->kr, cfg->wbits);
  op->block_bytes = zsq_gemm_packed_size((size_t)cfg->nr, kpack, cfg->nr, cfg->kr, cfg->wbits);
  op->packed = malloc(packed_bytes);
  if (op->packed == NULL || wp == NULL) {
    if (wp != wk) free(wp);
    free(wk);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "qconv: out of memory for %zu packed bytes", packed_bytes);
  }
  if (wp != wk) {
    for (size_t n = 0; n < cout; n++) {
      for (size_t t = 0; t < kh * kw; t++)
        memcpy(wp + n * kpack + t * kcp, wk + n * op->k + t * cin, cin);
    }
  }
  cfg->pack(cout, kpack, cfg->nr, cfg->kr, wp, kpack, op->packed);
  if (wp != wk) free(wp);
  free(wk);
  if (op->folded) {
    snprintf(op->name, sizeof op->name, "%s", op->indirect ? cfg->igemm_name : cfg->name);
  } else {
    snprintf(op->name, sizeof op->name, "%s+%s", op->indirect ? cfg->igemm_acc_name : cfg->acc_name,
             cfg->requant2_name);
  }
  return ZSQ_OK;
}

zsq_status zsq_qconv_create(const zsq_qconv_desc *d, zsq_qconv **out, zsq_err *err) {
  if (out == NULL) return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: out is NULL");
  *out = NULL;
  ZSQ_TRY(zsq_qconv_validate(d, err));
  zsq_qconv *op = calloc(1, sizeof *op);
  if (op == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "qconv: out of memory");
  op->d = *d;
  op->d.weights = NULL;
  op->d.mult = op->d.offset = op->d.qmult = op->d.qoffset = NULL;
  op->d.isa = NULL;
  const zsq_status s =
      d->groups != 1 ? zsq_qdwconv_create(d, &op->dw, err) : create_dense(op, d, err);
  if (s != ZSQ_OK) {
    zsq_qconv_destroy(op);
    return s;
  }
  *out = op;
  return ZSQ_OK;
}

void zsq_qconv_destroy(zsq_qconv *op) {
  if (op == NULL) return;
  zsq_qdwconv_destroy(op->dw);
  free(op->packed);
  free(op->bias);
  free(op->mult);
  free(op);
}

void zsq_qconv_output_size(const zsq_qconv *op, int64_t h, int64_t w, int64_t *oh, int64_t *ow) {
  zsq_conv_geom g;
  zsq_conv_geom_init(&op->d, h, w, &g);
  *oh = g.oh;
  *ow = g.ow;
}

static size_t panel_rows(const zsq_qconv *op) {
  return (size_t)op->cfg->mr * (TASK_ROWS / (size_t)op->cfg->mr);
}

static size_t slot_count(const zsq_qconv *op, size_t pixels) {
  const size_t panels = (pixels + panel_rows(op) - 1) / panel_rows(op);
  return panels < MAX_SLOTS ? panels : MAX_SLOTS;
}

/* The igemm's scratch: one image's row pointers (output pixel-major, kh·kw taps each) after an
 * alignment pad, then the zero row (cin codes of za) the padding taps point at. */
static size_t indirection_count(const zsq_conv_geom *g) {
  return (size_t)(g->oh * g->ow * g->kh * g->kw);
}

static const uint8_t **indirection_at(void *scratch) {
  const uintptr_t a = (uintptr_t)scratch, align = sizeof(const uint8_t *);
  return (const uint8_t **)(a + (align - a % align) % align);
}

size_t zsq_qconv_scratch_size(const zsq_qconv *op, int64_t n, int64_t h, int64_t w,
                              size_t threads) {
  if (op->dw != NULL) return zsq_qdwconv_scratch_size(op->dw, n, h, w, threads);
  /* Dense: one panel of im2col rows per slot, whatever the thread count (see im2col_slot). */
  if (op->direct) return 0;
  zsq_conv_geom g;
  zsq_conv_geom_init(&op->d, h, w, &g);
  if (op->indirect) {
    return sizeof(const uint8_t *) * (indirection_count(&g) + 1) + (size_t)op->d.cin;
  }
  const int64_t dims[3] = {n, g.oh, g.ow};
  const int64_t pixels = zsq_dims_product(dims, 3);
  if (pixels < 0) return SIZE_MAX;
  const size_t rows = panel_rows(op), slots = slot_count(op, (size_t)pixels);
  return slots * rows * op->k;
}

const char *zsq_qconv_kernel_name(const zsq_qconv *op) {
  return op->dw != NULL ? zsq_qdwconv_kernel_name(op->dw) : op->name;
}

typedef struct run_ctx {
  const zsq_qconv *op;
  zsq_conv_geom g;
  const uint8_t *in;
  const void *res;
  void *out;
  uint8_t *col;                     /* im2col path: slots x panel_rows x K bytes of scratch */
  const uint8_t *const *ind;        /* igemm path: image 0's row pointers, in the scratch */
  const uint8_t *zero;              /* igemm path: the padding row, in the scratch */
  size_t pixels, panel_rows, slots; /* M, rows per panel, scratch slots */
} run_ctx;

/* The packed weights from output column n, a multiple of NR (tasks split N at multiples of 64). */
static const uint8_t *packed_columns(const zsq_qconv *op, size_t n) {
  return (const uint8_t *)op->packed + n / (size_t)op->cfg->nr * op->block_bytes;
}

/* The A rows from row m of src on (strided rows or row pointers). */
static zsq_a_rows rows_from(const zsq_a_rows *src, size_t m) {
  zsq_a_rows s = *src;
  if (s.ind != NULL) {
    s.ind += m * s.ks;
  } else {
    s.a += m * s.a_stride;
  }
  return s;
}

static void folded_rows(const zsq_qconv *op, size_t mc, size_t nc, size_t n0, const zsq_a_rows *src,
                        uint8_t *out) {
  const zsq_gemm_config *cfg = op->cfg;
  const size_t cout = (size_t)op->d.cout, mr = (size_t)cfg->mr;
  const zsq_gemm_requant_params p = {op->bias + n0, op->mult + n0, op->offset + n0, NULL,
                                     NULL,          op->d.qmin,    op->d.qmax};
  const uint8_t *w = packed_columns(op, n0);
  for (size_t m = 0; m < mc; m += mr) {
    const size_t rows = mc - m < mr ? mc - m : mr;
    const zsq_a_rows s = rows_from(src, m);
    if (s.ind != NULL) {
      cfg->igemm(rows, nc, (size_t)op->d.cin, s.ks, s.ind, s.a_offset, s.zero, w, out + m * cout,
                 cout, &p);
    } else {
      cfg->ukernel(rows, nc, op->k, s.a, s.a_stride, w, out + m * cout, cout, &p);
    }
  }
}

static void two_stage_rows(const zsq_qconv *op, size_t mc, size_t nc, size_t n0,
                           const zsq_a_rows *src, const uint8_t *res, uint8_t *out) {
  const zsq_gemm_config *cfg = op->cfg;
  const size_t cout = (size_t)op->d.cout, mr = (size_t)cfg->mr;
  const size_t res_bytes = op->d.residual == ZSQ_QRES_F32 ? sizeof(float) : 1;
  const size_t out_bytes = op->d.out == ZSQ_QOUT_F32 ? sizeof(float) : 1;
  int32_t acc[ACC_ROWS * ACC_COLS];
  zsq_requant2_params p = {
      .act_min = op->d.act_min,
      .act_max = op->d.act_max,
      .res_kind = (int)op->d.residual,
      .res_scale = op->d.res_scale,
      .res_zero_point = op->d.res_zero_point,
      .out_kind = (int)op->d.out,
      .qmin = op->d.qmin,
      .qmax = op->d.qmax,
  };
  for (size_t m = 0; m < mc; m += mr) {
    const size_t rows = mc - m < mr ? mc - m : mr;
    const zsq_a_rows s = rows_from(src, m);
    for (size_t j = 0; j < nc; j += ACC_COLS) {
      const size_t cols = nc - j < ACC_COLS ? nc - j : ACC_COLS, n = n0 + j;
      if (s.ind != NULL) {
        cfg->igemm_acc(rows, cols, (size_t)op->d.cin, s.ks, s.ind, s.a_offset, s.zero,
                       packed_columns(op, n), acc, ACC_COLS * sizeof(int32_t));
      } else {
        cfg->acc(rows, cols, op->k, s.a, s.a_stride, packed_columns(op, n), acc,
                 ACC_COLS * sizeof(int32_t));
      }
      p.bias = op->bias + n;
      p.mult = op->mult + n;
      p.offset = op->offset + n;
      p.qmult = op->qmult + n;
      p.qoffset = op->qoffset + n;
      const size_t at = m * cout + j;
      cfg->requant2(rows, cols, acc, ACC_COLS * sizeof(int32_t),
                    res != NULL ? res + at * res_bytes : NULL, cout * res_bytes,
                    out + at * out_bytes, cout * out_bytes, &p);
    }
  }
}

/* Output pixels [m0, m0 + mc) x channels [n0, n0 + nc) from the mc A rows of src. */
static void gemm_rows(const run_ctx *c, size_t m0, size_t mc, size_t n0, size_t nc,
                      const zsq_a_rows *src) {
  const zsq_qconv *op = c->op;
  const size_t cout = (size_t)op->d.cout;
  const size_t out_bytes = op->d.out == ZSQ_QOUT_F32 ? sizeof(float) : 1;
  uint8_t *out = (uint8_t *)c->out + (m0 * cout + n0) * out_bytes;
  if (op->folded) {
    folded_rows(op, mc, nc, n0, src, out);
    return;
  }
  const size_t res_bytes = op->d.residual == ZSQ_QRES_F32 ? sizeof(float) : 1;
  const uint8_t *res =
      c->res != NULL ? (const uint8_t *)c->res + (m0 * cout + n0) * res_bytes : NULL;
  two_stage_rows(op, mc, nc, n0, src, res, out);
}

/* 1x1 path: a tile of output pixels x channels, A read in place from the NHWC input. */
static void direct_tile(void *arg, size_t m0, size_t n0, size_t mc, size_t nc) {
  const run_ctx *c = arg;
  const size_t cin = (size_t)c->op->d.cin;
  const zsq_a_rows src = zsq_a_rows_gemm(c->in + m0 * cin, cin);
  gemm_rows(c, m0, mc, n0, nc, &src);
}

/* Image 0's row pointers: output pixel p, tap (ky, kx) at ind[p·kh·kw + ky·kw + kx], the zero
 * row where the tap lies in the padding. Another image's rows are these moved by its offset. */
static void build_indirection(const zsq_conv_geom *g, const uint8_t *in, const uint8_t *zero,
                              const uint8_t **ind) {
  const size_t cin = (size_t)g->cin;
  for (int64_t oy = 0; oy < g->oh; oy++) {
    for (int64_t ox = 0; ox < g->ow; ox++) {
      for (int64_t ky = 0; ky < g->kh; ky++) {
        const int64_t iy = oy * g->sh - g->pt + ky * g->dh;
        for (int64_t kx = 0; kx < g->kw; kx++, ind++) {
          const int64_t ix = ox * g->sw - g->pl + kx * g->dw;
          const int inside = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
          *ind = inside ? in + (size_t)(iy * g->w + ix) * cin : zero;
        }
      }
    }
  }
}

/* igemm path: a tile of one image's output pixels [p0, p0 + pc) x channels [n0, n0 + nc). */
static void igemm_tile(void *arg, size_t img, size_t p0, size_t n0, size_t pc, size_t nc) {
  const run_ctx *c = arg;
  const size_t ks = (size_t)(c->g.kh * c->g.kw), opix = (size_t)(c->g.oh * c->g.ow);
  const size_t image_bytes = (size_t)(c->g.h * c->g.w * c->g.cin);
  const zsq_a_rows src = zsq_a_rows_igemm(c->ind + p0 * ks, ks, img * image_bytes, c->zero);
  gemm_rows(c, img * opix + p0, pc, n0, nc, &src);
}

/* im2col path: slot s of the scratch owns a panel_rows x K buffer and a contiguous run of row
 * panels; each panel's im2col rows are built there and consumed at once by the GEMM over all of
 * N (hot in L1/L2, and no thread index needed: pthreadpool runs each slot once). The path of
 * tiers without igemm kernels, and of the scalar tier for cin % 4 != 0. */
static void im2col_slot(void *arg, size_t s) {
  const run_ctx *c = arg;
  const zsq_qconv *op = c->op;
  const size_t panels = (c->pixels + c->panel_rows - 1) / c->panel_rows;
  uint8_t *buf = c->col + s * c->panel_rows * op->k;
  for (size_t p = s * panels / c->slots; p < (s + 1) * panels / c->slots; p++) {
    const size_t m0 = p * c->panel_rows;
    const size_t mc = c->pixels - m0 < c->panel_rows ? c->pixels - m0 : c->panel_rows;
    zsq_im2col_rows(&c->g, c->in, (uint8_t)op->d.in_zero_point, m0, mc, buf);
    const zsq_a_rows src = zsq_a_rows_gemm(buf, op->k);
    gemm_rows(c, m0, mc, 0, (size_t)op->d.cout, &src);
  }
}

zsq_status zsq_qconv_run(const zsq_qconv *op, int64_t n, int64_t h, int64_t w, const uint8_t *in,
                         const void *residual, void *out, void *scratch, pthreadpool_t tp,
                         zsq_err *err) {
  if (op == NULL) return zsq_fail(err, ZSQ_ERR_INVALID_ARG, "qconv: operator is NULL");
  if (op->dw != NULL) return zsq_qdwconv_run(op->dw, n, h, w, in, residual, out, scratch, tp, err);
  run_ctx c = {.op = op, .in = in, .out = out, .col = scratch, .panel_rows = panel_rows(op)};
  c.res = op->d.residual != ZSQ_QRES_NONE ? residual : NULL;
  zsq_conv_geom_init(&op->d, h, w, &c.g);
  int64_t pixels = 0;
  ZSQ_TRY(zsq_qconv_check_run(&op->d, &c.g, n, in, residual, out, &pixels, err));
  if (pixels == 0) return ZSQ_OK;
  if (!op->direct && scratch == NULL) {
    return zsq_fail(err, ZSQ_ERR_INVALID_ARG,
                    "qconv: scratch is NULL (zsq_qconv_scratch_size asks for %zu bytes)",
                    zsq_qconv_scratch_size(op, n, h, w, 1));
  }
  c.pixels = (size_t)pixels;
  if (op->direct) {
    pthreadpool_parallelize_2d_tile_2d(tp, direct_tile, &c, c.pixels, (size_t)op->d.cout,
                                       c.panel_rows, TASK_COLS, 0);
  } else if (op->indirect) {
    /* Built once per call (the input shape is known only here; run() stays const and
     * reentrant), for one image: oh·ow·kh·kw pointers against the GEMM's oh·ow·K·cout MACs. */
    const uint8_t **ind = indirection_at(scratch);
    uint8_t *zero = (uint8_t *)(ind + indirection_count(&c.g));
    memset(zero, op->d.in_zero_point, (size_t)op->d.cin);
    build_indirection(&c.g, in, zero, ind);
    c.ind = ind;
    c.zero = zero;
    pthreadpool_parallelize_3d_tile_2d(tp, igemm_tile, &c, (size_t)n, (size_t)(c.g.oh * c.g.ow),
                                       (size_t)op->d.cout, c.panel_rows, TASK_COLS, 0);
  } else {
    c.slots = slot_count(op, c.pixels);
    pthreadpool_parallelize_1d(tp, im2col_slot, &c, c.slots, 0);
  }
  return ZSQ_OK;
}
