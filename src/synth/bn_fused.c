/* bn_fused.c — batch BN-statistics losses on recorded statistics and a deferred affine gradient
 * (see bn_fused.h); zsq_bn_loss_batch is the unfused reference. */
#include "synth/bn_fused.h"

#include <stdlib.h>
#include <string.h>

int zsq_bn_fused_init(zsq_bn_fused *f, zsq_fplan *p, const zsq_bn_hook *h, int n) {
  memset(f, 0, sizeof *f);
  int64_t widest = 1;
  for (int l = 0; l < n; l++) {
    const zsq_value *v = zsq_fplan_value(p, h[l].tensor);
    if ((v->rank != 4 && v->rank != 2) || v->dims[1] != h[l].channels) return 0;
    widest = h[l].channels > widest ? h[l].channels : widest;
  }
  f->stats = calloc((size_t)n + 1, sizeof *f->stats);
  f->recorded = calloc((size_t)n + 1, sizeof *f->recorded);
  f->mu = malloc((size_t)widest * sizeof(double));
  f->sd = malloc((size_t)widest * sizeof(double));
  f->a = malloc((size_t)widest * sizeof(float));
  f->b = malloc((size_t)widest * sizeof(float));
  if (!f->stats || !f->recorded || !f->mu || !f->sd || !f->a || !f->b) return 0;
  f->n = n;
  for (int l = 0; l < n; l++) {
    const zsq_value *v = zsq_fplan_value(p, h[l].tensor);
    if (!zsq_chstats_init(&f->stats[l], (int64_t)v->numel / h[l].channels, h[l].channels)) return 0;
  }
  /* only once nothing can fail: the plan keeps these pointers */
  for (int l = 0; l < n; l++) f->recorded[l] = zsq_fplan_record_stats(p, h[l].tensor, &f->stats[l]);
  return 1;
}

void zsq_bn_fused_free(zsq_bn_fused *f) {
  for (int l = 0; f->stats != NULL && l < f->n; l++) zsq_chstats_free(&f->stats[l]);
  free(f->stats);
  free(f->recorded);
  free(f->mu);
  free(f->sd);
  free(f->a);
  free(f->b);
  memset(f, 0, sizeof *f);
}

double zsq_bn_fused_term(zsq_bn_fused *f, zsq_fplan *p, zsq_fgrad *g, const zsq_bn_hook *h, int l,
                         int on_std, float scale) {
  zsq_chstats *st = &f->stats[l];
  const int t = h[l].tensor;
  if (!f->recorded[l]) zsq_chstats_compute(st, zsq_fplan_value(p, t)->data, p->threadpool);
  zsq_chstats_result(st, f->mu, f->sd);
  const double loss =
      zsq_bn_loss_batch_coef(&h[l], f->mu, f->sd, st->rows, on_std, scale, f->a, f->b);
  zsq_fgrad_add_affine(g, t, f->a, f->b, NULL); /* the layouts were checked in init */
  return loss;
}
