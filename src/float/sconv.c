/* sconv.c — the dense f32 convolution operator: packs once, tiles output rows x column blocks over
 * pthreadpool, and picks its microkernel once from cpuinfo. */
#include "float/sconv.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#if defined(__x86_64__)
#include <cpuinfo.h>
#endif

struct zsq_sconv {
  const zsq_sconv_config *cfg;
  zsq_geom g;
  size_t cin, cout, ks;
  float *packed;
  size_t block_floats; /* one NR-column block */
  int32_t *ind;        /* [out_h·out_w][ks] */
  float *zero;         /* cin zeros */
  float lo, hi;
};

static const zsq_sconv_config scalar = {"zsq_f32_igemm_minmax_ukernel_1x16__scalar", 1, 16,
                                        zsq_f32_igemm_minmax_ukernel_1x16__scalar};
#if defined(__x86_64__)
static const zsq_sconv_config avx512 = {"zsq_f32_igemm_minmax_ukernel_14x32__avx512f", 14, 32,
                                        zsq_f32_igemm_minmax_ukernel_14x32__avx512f};
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const zsq_sconv_config *best = NULL;

static void choose(void) {
#if defined(__x86_64__)
  if (cpuinfo_initialize() && cpuinfo_has_x86_avx512f()) best = &avx512;
#endif
}

const zsq_sconv_config *zsq_sconv_config_scalar(void) {
  return &scalar;
}

const zsq_sconv_config *zsq_sconv_config_best(void) {
  pthread_once(&once, choose);
  return best;
}

zsq_status zsq_sconv_create(const zsq_geom *g, size_t cin, size_t cout, const float *w,
                            const float *bias, float lo, float hi, const zsq_sconv_config *cfg,
                            zsq_sconv **out, zsq_err *err) {
  *out = NULL;
  if (cfg == NULL) cfg = zsq_sconv_config_best();
  if (cfg == NULL) return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "sconv: no fast kernel on this host");
  if ((double)g->in_h * (double)g->in_w * (double)cin >= 2147483647.0) {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "sconv: an input image exceeds 2^31 floats");
  }
  zsq_sconv *op = calloc(1, sizeof *op);
  if (op == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "sconv: out of memory");
  op->cfg = cfg;
  op->g = *g;
  op->cin = cin;
  op->cout = cout;
  op->ks = (size_t)(g->kh * g->kw);
  op->lo = lo;
  op->hi = hi;
  op->block_floats = zsq_sconv_packed_floats(cfg->nr, op->ks, cin, cfg->nr);
  op->packed = zsq_aligned_alloc(zsq_sconv_packed_floats(cout, op->ks, cin, cfg->nr) * 4);
  op->ind = zsq_aligned_alloc((size_t)(g->out_h * g->out_w) * op->ks * sizeof(int32_t));
  op->zero = zsq_aligned_calloc(cin * sizeof(float));
  if (op->packed == NULL || op->ind == NULL || op->zero == NULL) {
    zsq_sconv_destroy(op);
    return zsq_fail(err, ZSQ_ERR_NOMEM, "sconv: out of memory for %zu x %zu weights", cout,
                    op->ks * cin);
  }
  zsq_sconv_pack(cout, op->ks, cin, cfg->nr, w, bias, op->packed);
  zsq_sconv_offsets(g, cin, op->ind);
  *out = op;
  return ZSQ_OK;
}

void zsq_sconv_destroy(zsq_sconv *op) {
  if (op == NULL) return;
  zsq_aligned_free(op->packed);
  zsq_aligned_free(op->ind);
  zsq_aligned_free(op->zero);
  free(op);
}

const char *zsq_sconv_name(const zsq_sconv *op) {
  return op->cfg->name;
}

typedef struct run_ctx {
  const zsq_sconv *op;
  zsq_sconv_src src;
  float *y;
} run_ctx;

/* Output rows [m0, m0 + mc) x columns [n0, n0 + nc) (n0 a multiple of NR), MR rows per call. */
static void run_tile(void *arg, size_t m0, size_t n0, size_t mc, size_t nc) {
  const run_ctx *c = arg;
  const zsq_sconv *op = c->op;
  const size_t mr = op->cfg->mr;
  const float *w = op->packed + n0 / op->cfg->nr * op->block_floats;
  for (size_t m = m0; m < m0 + mc; m += mr) {
    const size_t rows = m0 + mc - m < mr ? m0 + mc - m : mr;
    op->cfg->ukernel(rows, nc, m, &c->src, w, c->y + m * op->cout + n0, op->cout, op->lo, op->hi);
  }
}

/* run_tile with columns as the outer dimension of the pool's iteration. */
static void run_tile_columns_outer(void *arg, size_t n0, size_t m0, size_t nc, size_t mc) {
  run_tile(arg, m0, n0, mc, nc);
}

void zsq_sconv_run(const zsq_sconv *op, size_t batch, const float *x, float *y, pthreadpool_t tp) {
  const zsq_geom *g = &op->g;
  const size_t pixels = (size_t)(g->out_h * g->out_w), rows = batch * pixels;
  const size_t mr = op->cfg->mr, nr = op->cfg->nr;
  run_ctx c = {
      op,
      {x, op->ind, op->zero, op->cin, op->ks, pixels, (size_t)(g->in_h * g->in_w) * op->cin},
      y};
  /* Packed weights that fit in L2 beside the rows (< 1 MiB): tasks of rows x up to 128 columns,
   * rows outer, so a tile's A rows stay in L1 across the column blocks. Larger ones (ResNet-18
   * layer3/4): one column block per task, columns outer, so each block is read from memory once
   * and serves every row tile. Row tasks: MR·r rows, r up to 8 so that a task holds about a
   * megaflop (the pool's per-task cost stays negligible). */
  const int columns_outer =
      zsq_sconv_packed_floats(op->cout, op->ks, op->cin, nr) * sizeof(float) > ((size_t)1 << 20);
  const size_t nc = columns_outer ? nr : op->cout <= 128 ? op->cout : 128 / nr * nr;
  const size_t flops = 2 * mr * nc * op->ks * op->cin;
  size_t r = ((size_t)1 << 20) / (flops ? flops : 1);
  r = r < 1 ? 1 : r > 8 ? 8 : r;
  if (columns_outer) {
    pthreadpool_parallelize_2d_tile_2d(tp, run_tile_columns_outer, &c, op->cout, rows, nc, mr * r,
                                       0);
  } else {
    pthreadpool_parallelize_2d_tile_2d(tp, run_tile, &c, rows, op->cout, mr * r, nc, 0);
  }
}
