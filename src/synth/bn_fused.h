/* bn_fused.h — the batch BN-statistics losses of a synthesis step with no pass of their own: the
 * statistics recorded by the forward pass's BatchNorm, the gradient left to its backward pass. */
#ifndef ZSQ_SYNTH_BN_FUSED_H
#define ZSQ_SYNTH_BN_FUSED_H

#include "float/chstats.h"
#include "float/grad.h"
#include "synth/bn_loss.h"

typedef struct zsq_bn_fused {
  int n;
  zsq_chstats *stats; /* per hook */
  int *recorded;      /* per hook: the forward pass fills stats (else computed in the term) */
  double *mu, *sd;    /* the widest hook's channels */
  float *a, *b;
} zsq_bn_fused;

/* For hooks h[0..n) (rank-4 NHWC or rank-2 tensors of plan p). Returns 0 when a hook's layout
 * does not allow it (use zsq_bn_loss_batch then) or on allocation failure; free either way. On
 * success p's BatchNorms record into f: free f only after p is destroyed. */
int zsq_bn_fused_init(zsq_bn_fused *f, zsq_fplan *p, const zsq_bn_hook *h, int n);
void zsq_bn_fused_free(zsq_bn_fused *f);
/* Hook l's batch loss after a forward pass (on_std: L-GEN, else L-MSE, as zsq_bn_loss_batch);
 * its gradient, scaled by `scale`, joins t's gradient in g's next backward pass. */
double zsq_bn_fused_term(zsq_bn_fused *f, zsq_fplan *p, zsq_fgrad *g, const zsq_bn_hook *h, int l,
                         int on_std, float scale);

#endif
