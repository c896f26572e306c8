/* conv.h — state shared by the float Conv forward (op_conv.c) and its backward (op_conv_grad.c). */
#ifndef ZSQ_FLOAT_CONV_H
#define ZSQ_FLOAT_CONV_H

#include <xnnpack.h>

#include "float/layout.h"
#include "float/ops.h"
#include "float/sconv.h"

typedef struct conv_grad {
  /* input gradient of a dense stride-1 conv on a host with sconv: the convolution of the output
   * gradient with the flipped, transposed weights w_t (see zsq_conv_prepare_backward) */
  zsq_sconv *dgrad_fast;
  xnn_operator_t dgrad;    /* otherwise: XNNPACK deconvolution with the transposed weights w_t */
  float *w_t;              /* [group][cin/g][kh][kw][cout/g]; flipped in kh, kw for dgrad_fast */
  float *gy, *dx;          /* masked output gradient (clamped convs); deconvolution output */
  const float *dgrad_from; /* the deconvolution's input now: gy, or the unmasked gradient */
  float *dgrad_to;         /* where the deconvolution writes now: dx, or a whole input gradient */
  float *col;              /* im2col rows for the weight gradient */
  int64_t col_rows;
  uint32_t adj_h, adj_w;
  int with_dgrad; /* the input gradient is wanted (else no deconvolution is built) */
} conv_grad;

typedef struct conv_state {
  zsq_sconv *fast;   /* the dense AVX-512 path (zsq_conv_uses_sconv), or NULL */
  xnn_operator_t op; /* otherwise XNNPACK's convolution */
  zsq_geom geom;
  conv_grad *grad; /* NULL until a gradient plan asks for it */
} conv_state;

/* Whether a convolution with `group` groups over `cin` input channels runs on sconv. */
int zsq_conv_uses_sconv(int64_t group, int64_t cin, int64_t cout);
zsq_status zsq_conv_prepare_backward(zsq_fnode *n, zsq_fplan *p, int need_input_grad, zsq_err *err);
void zsq_conv_backward(zsq_fnode *n, zsq_fplan *p, const float *gy, float *const *gx);
void zsq_conv_grad_release(conv_state *s);
/* Rebuilds the convolution operators after the weight or bias values changed. */
zsq_status zsq_conv_refresh(zsq_fnode *n, zsq_fplan *p, zsq_err *err);
/* Direct loops over the forward's index space: the oracle of zsq_conv_backward. */
void zsq_conv_backward_ref(zsq_fnode *n, const float *gy, float *const *gx);

#endif
