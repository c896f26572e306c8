/* op_conv_grad.c — Conv backward: input gradient of a dense stride-1 conv as a convolution on
 * sconv (flipped, transposed weights), else through XNNPACK's deconvolution (the adjoint of the
 * convolution); weight gradient as im2col · AᵀB GEMM; direct loops as the reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "float/conv.h"
#include "float/parallel.h"
#include "float/sgemm.h"

#define COL_ROWS 512

/* Points the deconvolution at its input `from` and output `to`. */
static enum xnn_status setup_dgrad(const zsq_fnode *n, zsq_fplan *p, conv_grad *cg,
                                   const float *from, float *to) {
  const zsq_geom *g = &((const conv_state *)n->state)->geom;
  cg->dgrad_from = from;
  cg->dgrad_to = to;
  return xnn_setup_deconvolution2d_nhwc_f32(cg->dgrad, (size_t)n->in[0]->dims[0], (size_t)g->out_h,
                                            (size_t)g->out_w, cg->adj_h, cg->adj_w, from, to,
                                            p->threadpool);
}

zsq_status zsq_conv_prepare_backward(zsq_fnode *n, zsq_fplan *p, int need_input_grad,
                                     zsq_err *err) {
  conv_state *s = n->state;
  if (s->grad != NULL) return ZSQ_OK;
  const zsq_geom *g = &s->geom;
  const zsq_value *xv = n->in[0], *wv = n->in[1];
  const int64_t cin = xv->dims[1], cout = wv->dims[0], group = n->node->a.conv.group;
  const int64_t cig = cin / group, cog = cout / group, kk = g->kh * g->kw;
  conv_grad *cg = calloc(1, sizeof *cg);
  if (cg == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  s->grad = cg;
  cg->w_t = zsq_aligned_alloc((size_t)(cout * cig * kk) * sizeof(float));
  cg->gy = zsq_aligned_alloc(n->out[0]->numel * sizeof(float) + 64);
  cg->dx = zsq_aligned_alloc(xv->numel * sizeof(float) + 64);
  cg->col_rows = COL_ROWS;
  cg->col = zsq_aligned_alloc((size_t)(COL_ROWS * kk * cig) * sizeof(float));
  if (!cg->w_t || !cg->gy || !cg->dx || !cg->col)
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  /* OHWI [g][co][kh][kw][ci] -> [g][ci][kh][kw][co], flipped in kh and kw for sconv */
  const int fast =
      need_input_grad && g->sh == 1 && g->sw == 1 && zsq_conv_uses_sconv(group, cout, cin);
  const float *w = wv->data;
  for (int64_t gi = 0; gi < group; gi++) {
    for (int64_t co = 0; co < cog; co++) {
      for (int64_t k = 0; k < kk; k++) {
        const int64_t kt = fast ? kk - 1 - k : k; /* (kh-1-y)·kw + (kw-1-x) = kk-1-(y·kw+x) */
        for (int64_t ci = 0; ci < cig; ci++) {
          cg->w_t[((gi * cig + ci) * kk + kt) * cog + co] =
              w[((gi * cog + co) * kk + k) * cig + ci];
        }
      }
    }
  }
  cg->with_dgrad = need_input_grad;
  if (fast) {
    /* dx[iy][ix][ci] = Σ gy[oy][ox][co]·w[co][ky][kx][ci] over oy = iy + pad_top - ky·dh (and the
     * same in x): a stride-1 convolution of gy with the flipped taps ky' = kh-1-ky, padding
     * dh·(kh-1) - pad_top (negative pads crop), giving the in_h × in_w input. */
    zsq_geom t = *g;
    t.in_h = g->out_h, t.in_w = g->out_w, t.out_h = g->in_h, t.out_w = g->in_w;
    t.pad_top = g->dh * (g->kh - 1) - g->pad_top;
    t.pad_left = g->dw * (g->kw - 1) - g->pad_left;
    t.pad_bottom = g->dh * (g->kh - 1) - g->pad_bottom;
    t.pad_right = g->dw * (g->kw - 1) - g->pad_right;
    return zsq_sconv_create(&t, (size_t)cout, (size_t)cin, cg->w_t, NULL, -INFINITY, INFINITY, NULL,
                            &cg->dgrad_fast, err);
  }
  /* The deconvolution of an OH×OW map gives s·(OH-1) + d·(k-1) + 1 - pads + adj rows. */
  const int64_t rem_h =
      g->in_h + g->pad_top + g->pad_bottom - (g->dh * (g->kh - 1) + 1) - g->sh * (g->out_h - 1);
  const int64_t rem_w =
      g->in_w + g->pad_left + g->pad_right - (g->dw * (g->kw - 1) + 1) - g->sw * (g->out_w - 1);
  cg->adj_h = (uint32_t)rem_h;
  cg->adj_w = (uint32_t)rem_w;
  if (!need_input_grad) return ZSQ_OK;
  enum xnn_status xs = xnn_create_deconvolution2d_nhwc_f32(
      (uint32_t)g->pad_top, (uint32_t)g->pad_right, (uint32_t)g->pad_bottom, (uint32_t)g->pad_left,
      (uint32_t)g->kh, (uint32_t)g->kw, (uint32_t)g->sh, (uint32_t)g->sw, (uint32_t)g->dh,
      (uint32_t)g->dw, (uint32_t)group, (size_t)cog, (size_t)cig, (size_t)cout, (size_t)cin,
      cg->w_t, NULL, -INFINITY, INFINITY, 0, &cg->dgrad);
  if (xs == xnn_status_success) xs = setup_dgrad(n, p, cg, cg->gy, cg->dx);
  if (xs != xnn_status_success) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_UNSUPPORTED,
                          "XNNPACK refused the input-gradient deconvolution (status %d)", (int)xs);
  }
  return ZSQ_OK;
}

void zsq_conv_grad_release(conv_state *s) {
  conv_grad *cg = s->grad;
  if (cg == NULL) return;
  zsq_sconv_destroy(cg->dgrad_fast);
  if (cg->dgrad) xnn_delete_operator(cg->dgrad);
  zsq_aligned_free(cg->w_t);
  zsq_aligned_free(cg->gy);
  zsq_aligned_free(cg->dx);
  zsq_aligned_free(cg->col);
  free(cg);
  s->grad = NULL;
}

/* rows [m0, m0+rows) of im2col for group gi: col[r][kh][kw][ci], zeros in the padding. */
static void im2col(const zsq_fnode *n, const conv_state *s, int64_t gi, int64_t m0, int64_t rows,
                   float *col) {
  const zsq_geom *g = &s->geom;
  const int64_t cin = n->in[0]->dims[1], cig = cin / n->node->a.conv.group;
  const float *x = n->in[0]->data;
  const int64_t per_img = g->out_h * g->out_w;
  for (int64_t r = 0; r < rows; r++) {
    const int64_t m = m0 + r, b = m / per_img, oh = (m % per_img) / g->out_w, ow = m % g->out_w;
    float *dst = col + r * g->kh * g->kw * cig;
    for (int64_t kh = 0; kh < g->kh; kh++) {
      const int64_t ih = oh * g->sh - g->pad_top + kh * g->dh;
      for (int64_t kw = 0; kw < g->kw; kw++, dst += cig) {
        const int64_t iw = ow * g->sw - g->pad_left + kw * g->dw;
        if (ih < 0 || ih >= g->in_h || iw < 0 || iw >= g->in_w) {
          memset(dst, 0, (size_t)cig * sizeof(float));
        } else {
          memcpy(dst, x + ((b * g->in_h + ih) * g->in_w + iw) * cin + gi * cig,
                 (size_t)cig * sizeof(float));
        }
      }
    }
  }
}

/* gy where the fused clamp was inactive, 0 elsewhere, into cg->gy (an unclamped conv uses gy). */
typedef struct mask_ctx {
  const float *gy, *y;
  float *out;
  float lo, hi;
} mask_ctx;

static void mask_range(void *ctx, size_t begin, size_t end) {
  const mask_ctx *c = ctx;
  for (size_t i = begin; i < end; i++) {
    const float v = c->gy[i];
    c->out[i] = ((c->y[i] > c->lo) & (c->y[i] < c->hi)) ? v : 0.0f;
  }
}

typedef struct add_ctx {
  const float *src;
  float *dst;
} add_ctx;

static void add_range(void *ctx, size_t begin, size_t end) {
  const add_ctx *c = ctx;
  for (size_t i = begin; i < end; i++) c->dst[i] += c->src[i];
}

void zsq_conv_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx) {
  conv_state *s = n->state;
  conv_grad *cg = s->grad;
  const zsq_value *wv = n->in[1];
  const int64_t cout = wv->dims[0], group = n->node->a.conv.group, cog = cout / group;
  const int64_t cig = n->in[0]->dims[1] / group, kdim = s->geom.kh * s->geom.kw * cig;
  const int64_t M = (int64_t)(n->out[0]->numel / (size_t)cout);
  float *gxi = gx[0], *gw = gx[1], *gb = n->n_inputs > 2 ? gx[2] : NULL;
  const float lo = n->node->act_min, hi = n->node->act_max, *y = n->out[0]->data;
  const int clamped = lo != -INFINITY || hi != INFINITY;
  if (clamped) {
    mask_ctx mc = {gy, y, cg->gy, lo, hi};
    zsq_parallel_for(p->threadpool, n->out[0]->numel, 16384, mask_range, &mc);
  }
  const float *gm = clamped ? cg->gy : gy;
  if (gxi != NULL) {
    /* a gradient this conv writes first is the deconvolution's output itself; else add dx */
    float *to = (n->grad_write & 1u) ? gxi : cg->dx;
    if (cg->dgrad_fast != NULL) {
      zsq_sconv_run(cg->dgrad_fast, (size_t)n->in[0]->dims[0], gm, to, p->threadpool);
    } else {
      if (gm != cg->dgrad_from || to != cg->dgrad_to) /* same shapes: it cannot fail */
        setup_dgrad(n, p, cg, gm, to);
      xnn_run_operator(cg->dgrad, p->threadpool);
    }
    if (to == cg->dx) {
      add_ctx ac = {cg->dx, gxi};
      zsq_parallel_for(p->threadpool, n->in[0]->numel, 16384, add_range, &ac);
    }
  }
  if (gw != NULL) {
    for (int64_t gi = 0; gi < group; gi++) {
      for (int64_t m0 = 0; m0 < M; m0 += cg->col_rows) {
        const int64_t rows = M - m0 < cg->col_rows ? M - m0 : cg->col_rows;
        im2col(n, s, gi, m0, rows, cg->col);
        zsq_sgemm_atb(cog, kdim, rows, gm + m0 * cout + gi * cog, cout, cg->col, kdim,
                      gw + gi * cog * kdim, kdim);
      }
    }
  }
  if (gb != NULL) {
    for (int64_t m = 0; m < M; m++) {
      for (int64_t co = 0; co < cout; co++) gb[co] += gm[m * cout + co];
    }
  }
}

/* Reference backward (NHWC input, OHWI weights as stored): dX, dW and db by direct loops over
 * the forward's index space. gy is masked where a fused clamp was active. */
void zsq_conv_backward_ref(zsq_fnode *n, const float *gy, float *const *gx) {
  const conv_state *s = n->state;
  const zsq_geom *g = &s->geom;
  const zsq_value *xv = n->in[0], *wv = n->in[1];
  const int64_t N = xv->dims[0], cin = xv->dims[1], cout = wv->dims[0],
                group = n->node->a.conv.group;
  const int64_t cig = cin / group, cog = cout / group;
  const float *x = xv->data, *w = wv->data, *y = n->out[0]->data;
  float *gxi = gx[0], *gw = gx[1], *gb = n->n_inputs > 2 ? gx[2] : NULL;
  const float lo = n->node->act_min, hi = n->node->act_max;
  const int clamped = lo != -INFINITY || hi != INFINITY;
  for (int64_t b = 0; b < N; b++) {
    for (int64_t oh = 0; oh < g->out_h; oh++) {
      for (int64_t ow = 0; ow < g->out_w; ow++) {
        const int64_t yo = ((b * g->out_h + oh) * g->out_w + ow) * cout;
        for (int64_t kh = 0; kh < g->kh; kh++) {
          const int64_t ih = oh * g->sh - g->pad_top + kh * g->dh;
          if (ih < 0 || ih >= g->in_h) continue;
          for (int64_t kw = 0; kw < g->kw; kw++) {
            const int64_t iw = ow * g->sw - g->pad_left + kw * g->dw;
            if (iw < 0 || iw >= g->in_w) continue;
            const int64_t xo = ((b * g->in_h + ih) * g->in_w + iw) * cin;
            for (int64_t co = 0; co < cout; co++) {
              float gv = gy[yo + co];
              if (clamped && !(y[yo + co] > lo && y[yo + co] < hi)) gv = 0.0f;
              if (gv == 0.0f) continue;
              const int64_t ci0 = (co / cog) * cig, wo = ((co * g->kh + kh) * g->kw + kw) * cig;
              for (int64_t ci = 0; ci < cig; ci++) {
                if (gxi) gxi[xo + ci0 + ci] += w[wo + ci] * gv;
                if (gw) gw[wo + ci] += x[xo + ci0 + ci] * gv;
              }
            }
          }
        }
        if (gb) {
          for (int64_t co = 0; co < cout; co++) {
            if (!clamped || (y[yo + co] > lo && y[yo + co] < hi)) gb[co] += gy[yo + co];
          }
        }
      }
    }
  }
}
