/* recon_pd.c — PD-Quant's prediction-difference term: KL to the float logits through the float
 * remainder of the network, its gradient back to the reconstructed unit's output. */
#include "quant/recon_pd.h"

#include <math.h>
#include <stdlib.h>

#include "quant/blocks.h"

double zsq_pd_kl(const float *zq, const float *zf, int64_t n, int64_t k, float *g) {
  const double w = 1.0 / ((double)n * ZSQ_PD_LAMB_R);
  double loss = 0;
  for (int64_t i = 0; i < n; i++) {
    const float *a = zf + i * k, *b = zq + i * k;
    double ma = a[0], mb = b[0], sa = 0, sb = 0;
    for (int64_t c = 1; c < k; c++) ma = a[c] > ma ? a[c] : ma, mb = b[c] > mb ? b[c] : mb;
    for (int64_t c = 0; c < k; c++) {
      sa += exp((a[c] - ma) / ZSQ_PD_T);
      sb += exp((b[c] - mb) / ZSQ_PD_T);
    }
    const double la = log(sa), lb = log(sb);
    for (int64_t c = 0; c < k; c++) {
      const double lp = (a[c] - ma) / ZSQ_PD_T - la, lq = (b[c] - mb) / ZSQ_PD_T - lb;
      const double p = exp(lp);
      loss += p * (lp - lq);
      /* d/dzq of Σ p (log p − log q) = (q − p) / T */
      if (g) g[i * k + c] = (float)(w * (exp(lq) - p) / ZSQ_PD_T);
    }
  }
  return loss * w;
}

zsq_status zsq_pd_init(zsq_pd *pd, const zsq_graph *folded, int exit, const zsq_value *shape,
                       const float *zf, int64_t k, int64_t mb, pthreadpool_t tp, int *on,
                       zsq_err *err) {
  *pd = (zsq_pd){.zf = zf, .k = k, .mb = mb, .y_img = (int64_t)shape->numel / shape->dims[0]};
  *on = 0;
  if (folded->n_outputs != 1)
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED, "the PD loss needs a model with one output");
  if (exit != folded->outputs[0]) {
    const zsq_block rest = {exit, folded->outputs[0], 0, 0};
    const zsq_status st =
        zsq_block_graph(folded, &rest, shape->dims, shape->rank, &pd->g, &pd->origin, err);
    if (st == ZSQ_ERR_UNSUPPORTED) { /* not a cut: the unit goes without PD */
      if (err) zsq_err_clear(err);   /* the first failure recorded would hide later ones */
      return ZSQ_OK;
    }
    ZSQ_TRY(st);
    ZSQ_TRY(zsq_fplan_create(pd->g, mb, tp, &pd->p, err));
    ZSQ_TRY(zsq_fgrad_create(pd->p, NULL, 0, &pd->gr, err));
  } else if (pd->y_img != k) {
    return zsq_fail(err, ZSQ_ERR_INTERNAL, "the logits do not match the model output");
  }
  pd->zq = malloc((size_t)(mb * k) * sizeof(float));
  pd->gz = malloc((size_t)(mb * k) * sizeof(float));
  pd->zfb = malloc((size_t)(mb * k) * sizeof(float));
  pd->gy = malloc((size_t)(mb * pd->y_img) * sizeof(float));
  if (!pd->zq || !pd->gz || !pd->zfb || !pd->gy)
    return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  *on = 1;
  return ZSQ_OK;
}

void zsq_pd_free(zsq_pd *pd) {
  zsq_fgrad_destroy(pd->gr);
  zsq_fplan_destroy(pd->p);
  zsq_graph_free(pd->g);
  free(pd->origin), free(pd->zq), free(pd->gz), free(pd->zfb), free(pd->gy);
  *pd = (zsq_pd){0};
}

double zsq_pd_step(zsq_pd *pd, const float *y, const int64_t *idx) {
  const int64_t k = pd->k;
  for (int64_t b = 0; b < pd->mb; b++) {
    for (int64_t c = 0; c < k; c++) pd->zfb[b * k + c] = pd->zf[idx[b] * k + c];
  }
  if (pd->p == NULL) return zsq_pd_kl(y, pd->zfb, pd->mb, k, pd->gy); /* y is the logits */
  const int in = pd->g->inputs[0], out = pd->g->outputs[0];
  zsq_value *xv = zsq_fplan_value(pd->p, in);
  const zsq_value *zv = zsq_fplan_value(pd->p, out);
  zsq_value_from_logical(xv, y);
  zsq_fplan_forward(pd->p);
  zsq_value_to_logical(zv, pd->zq);
  const double loss = zsq_pd_kl(pd->zq, pd->zfb, pd->mb, k, pd->gz);
  zsq_fgrad_zero(pd->gr);
  zsq_layout_add_logical(zv, zsq_fgrad_of(pd->gr, out), pd->gz);
  zsq_fgrad_backward(pd->gr);
  zsq_layout_to_logical(xv, zsq_fgrad_of(pd->gr, in), pd->gy);
  return loss;
}
