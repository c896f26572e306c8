/* op_conv.c — float Conv (2-D, groups, dilations, fused clamp): dense convolutions on zsq's own
 * AVX-512 indirect GEMM (sconv.h) where the host has it, the rest on XNNPACK's NHWC convolution. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#include "core/alloc.h"
#include "float/conv.h"

static pthread_once_t xnn_once = PTHREAD_ONCE_INIT;
static enum xnn_status xnn_init_status = xnn_status_uninitialized;
static void xnn_init(void) {
  xnn_init_status = xnn_initialize(NULL);
}

zsq_status zsq_xnnpack_init(zsq_err *err) {
  pthread_once(&xnn_once, xnn_init);
  if (xnn_init_status != xnn_status_success) {
    return zsq_fail(err, ZSQ_ERR_INTERNAL, "XNNPACK failed to initialise (status %d)",
                    (int)xnn_init_status);
  }
  return ZSQ_OK;
}

/* Dense convolutions go to sconv on hosts with its fast build (chosen once from cpuinfo), unless
 * the input has fewer than 4 channels (a 1-channel stem: one k-step per tap) or the output 16 or
 * fewer (half of the 14x32 tile idle): XNNPACK's kernels measured faster there (BENCHMARKS.md,
 * "f32 convolution kernel"). */
int zsq_conv_uses_sconv(int64_t group, int64_t cin, int64_t cout) {
  return group == 1 && cin >= 4 && cout > 16 && zsq_sconv_config_best() != NULL;
}

/* The operator over the plan's current weight and bias values (OHWI = the weight value's NHWC
 * storage of O,I,H,W). */
static zsq_status create_op(zsq_fnode *n, zsq_err *err) {
  conv_state *s = n->state;
  const zsq_value *x = n->in[0], *w = n->in[1], *b = n->n_inputs > 2 ? n->in[2] : NULL;
  const zsq_node *gn = n->node;
  const int64_t group = gn->a.conv.group, cin = x->dims[1], cout = w->dims[0];
  const int64_t kh = w->dims[2], kw = w->dims[3];
  const float *kernel = w->data;
  const float *bias = b ? b->data : NULL;
  float lo = gn->act_min, hi = gn->act_max;
  if (zsq_conv_uses_sconv(group, cin, cout)) {
    return zsq_sconv_create(&s->geom, (size_t)cin, (size_t)cout, kernel, bias, lo, hi, NULL,
                            &s->fast, err);
  }
  enum xnn_status xs = xnn_create_convolution2d_nhwc_f32(
      (uint32_t)s->geom.pad_top, (uint32_t)s->geom.pad_right, (uint32_t)s->geom.pad_bottom,
      (uint32_t)s->geom.pad_left, (uint32_t)kh, (uint32_t)kw, (uint32_t)s->geom.sh,
      (uint32_t)s->geom.sw, (uint32_t)s->geom.dh, (uint32_t)s->geom.dw, (uint32_t)group,
      (size_t)(cin / group), (size_t)(cout / group), (size_t)cin, (size_t)cout, kernel, bias, lo,
      hi, 0, &s->op);
  if (xs != xnn_status_success) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_UNSUPPORTED,
                          "XNNPACK refused the convolution (status %d)", (int)xs);
  }
  return ZSQ_OK;
}

static zsq_status conv_prepare(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  (void)p;
  const zsq_value *x = n->in[0], *w = n->in[1], *b = n->n_inputs > 2 ? n->in[2] : NULL;
  const zsq_node *gn = n->node;
  if (x->rank != 4 || w->rank != 4) {
    return zsq_fnode_fail(
        n, err, ZSQ_ERR_UNSUPPORTED,
        "only 2-D convolution (rank-4 input and weight) is supported; got ranks %d and %d", x->rank,
        w->rank);
  }
  int64_t group = gn->a.conv.group, cin = x->dims[1], cout = w->dims[0];
  if (cin % group != 0 || cout % group != 0 || w->dims[1] * group != cin) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT,
                          "weight [%lld,%lld,..] does not match %lld input channels in %lld groups",
                          (long long)cout, (long long)w->dims[1], (long long)cin, (long long)group);
  }
  int64_t kh = w->dims[2], kw = w->dims[3];
  const zsq_window *win = &gn->a.conv.win;
  if ((win->kernel[0] >= 0 && win->kernel[0] != kh) ||
      (win->kernel[1] >= 0 && win->kernel[1] != kw)) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "kernel_shape disagrees with the weight shape");
  }
  if (b != NULL && (b->rank != 1 || b->dims[0] != cout)) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "bias must have shape [%lld]", (long long)cout);
  }
  conv_state *s = calloc(1, sizeof *s);
  if (s == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  n->state = s;
  if (!zsq_window_resolve(win, x->dims[2], x->dims[3], kh, kw, 0, &s->geom)) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_FORMAT, "the kernel does not fit the %lldx%lld input",
                          (long long)x->dims[2], (long long)x->dims[3]);
  }
  zsq_value *y = n->out[0];
  y->rank = 4;
  y->dims[0] = x->dims[0];
  y->dims[1] = cout;
  y->dims[2] = s->geom.out_h;
  y->dims[3] = s->geom.out_w;
  ZSQ_TRY(zsq_xnnpack_init(err));
  /* XNNPACK wants [groups * group_out, kh, kw, group_in]: OIHW -> OHWI. The const value of a
   * rank-4 weight is stored NHWC, which is exactly O,H,W,I. */
  return create_op(n, err);
}

static zsq_status conv_setup(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  conv_state *s = n->state;
  if (s->fast != NULL) return ZSQ_OK; /* conv_forward reads the buffers of the values */
  enum xnn_status xs = xnn_setup_convolution2d_nhwc_f32(
      s->op, (size_t)n->in[0]->dims[0], (size_t)s->geom.in_h, (size_t)s->geom.in_w, n->in[0]->data,
      n->out[0]->data, p->threadpool);
  if (xs != xnn_status_success) {
    return zsq_fnode_fail(n, err, ZSQ_ERR_INTERNAL, "XNNPACK setup failed (status %d)", (int)xs);
  }
  return ZSQ_OK;
}

static void conv_forward(zsq_fnode *n, zsq_fplan *p) {
  conv_state *s = n->state;
  if (s->fast != NULL) {
    zsq_sconv_run(s->fast, (size_t)n->in[0]->dims[0], n->in[0]->data, n->out[0]->data,
                  p->threadpool);
    return;
  }
  xnn_run_operator(s->op, p->threadpool);
}

zsq_status zsq_conv_refresh(zsq_fnode *n, zsq_fplan *p, zsq_err *err) {
  conv_state *s = n->state;
  zsq_sconv_destroy(s->fast);
  s->fast = NULL;
  if (s->op) xnn_delete_operator(s->op);
  s->op = NULL;
  ZSQ_TRY(create_op(n, err));
  ZSQ_TRY(conv_setup(n, p, err));
  if (s->grad == NULL) return ZSQ_OK;
  const int with_dgrad = s->grad->with_dgrad;
  zsq_conv_grad_release(s);
  return zsq_conv_prepare_backward(n, p, with_dgrad, err);
}

static void conv_release(zsq_fnode *n) {
  conv_state *s = n->state;
  if (s == NULL) return;
  zsq_sconv_destroy(s->fast);
  if (s->op) xnn_delete_operator(s->op);
  zsq_conv_grad_release(s);
  free(s);
  n->state = NULL;
}

const zsq_fop zsq_fop_conv = {.prepare = conv_prepare,
                              .setup = conv_setup,
                              .forward = conv_forward,
                              .release = conv_release,
                              .backward = zsq_conv_backward,
                              .prepare_backward = zsq_conv_prepare_backward,
                              .refresh = zsq_conv_refresh,
                              .backward_writes = 1u};
