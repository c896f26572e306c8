/* synth_quality.c — the quality figures of a synthetic set: BN distance, the teacher's
 * confidence and label agreement, class balance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "float/layout.h"
#include "float/plan.h"
#include "synth/bn_loss.h"
#include "synth/label_loss.h"
#include "synth/synth.h"

zsq_status zsq_synth_quality(const zsq_graph *g, const float *images, const int *labels,
                             int64_t count, pthreadpool_t tp, zsq_synth_report *r, zsq_err *err) {
  memset(r, 0, sizeof *r);
  const int64_t batch = count < 256 ? count : 256;
  zsq_fplan *p;
  ZSQ_TRY(zsq_fplan_create(g, batch, tp, &p, err));
  zsq_bn_hook *hooks;
  const int nh = zsq_bn_hooks_find(g, 0, &hooks);
  const zsq_value *in = zsq_fplan_value(p, g->inputs[0]), *out = zsq_fplan_value(p, g->outputs[0]);
  const int64_t img = (int64_t)in->numel / batch, classes = (int64_t)out->numel / batch;
  double **sum = calloc((size_t)(nh > 0 ? nh : 1), sizeof(double *)),
         **sq = calloc((size_t)(nh > 0 ? nh : 1), sizeof(double *));
  int64_t *hist = calloc((size_t)classes, sizeof(int64_t));
  double *prob = malloc((size_t)classes * sizeof(double));
  zsq_status st = (nh < 0 || !sum || !sq || !hist || !prob)
                      ? zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory")
                      : ZSQ_OK;
  for (int l = 0; st == ZSQ_OK && l < nh; l++) {
    sum[l] = calloc((size_t)hooks[l].channels, sizeof(double));
    sq[l] = calloc((size_t)hooks[l].channels, sizeof(double));
    if (!sum[l] || !sq[l]) st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  int64_t seen = 0, agree = 0;
  double conf = 0.0;
  for (int64_t first = 0; st == ZSQ_OK && first < count; first += batch) {
    const int64_t n = count - first < batch ? count - first : batch;
    float *x = in->data;
    memset(x, 0, in->numel * sizeof(float));
    for (int64_t i = 0; i < n; i++)
      zsq_nchw_to_nhwc(images + (first + i) * img, x + i * img, 1, in->dims[1],
                       in->dims[2] * in->dims[3]);
    zsq_fplan_forward(p);
    for (int l = 0; l < nh; l++) {
      const zsq_value *v = zsq_fplan_value(p, hooks[l].tensor);
      const int64_t C = hooks[l].channels, rows = (int64_t)v->numel / (batch * C) * n;
      const float *xv = v->data;
      for (int64_t rr = 0; rr < rows; rr++) {
        for (int64_t c = 0; c < C; c++) {
          sum[l][c] += xv[rr * C + c];
          sq[l][c] += (double)xv[rr * C + c] * xv[rr * C + c];
        }
      }
    }
    const float *z = out->data;
    for (int64_t i = 0; i < n; i++) {
      zsq_softmax_row(z + i * classes, classes, prob);
      int64_t best = 0;
      for (int64_t k = 1; k < classes; k++) best = prob[k] > prob[best] ? k : best;
      conf += prob[best];
      agree += best == labels[first + i];
      hist[best]++;
    }
    seen += n;
  }
  if (st == ZSQ_OK) {
    for (int l = 0; l < nh; l++) {
      const int64_t C = hooks[l].channels;
      const zsq_value *v = zsq_fplan_value(p, hooks[l].tensor);
      const double rows = (double)((int64_t)v->numel / (batch * C)) * (double)seen;
      double d = 0.0;
      for (int64_t c = 0; c < C; c++) {
        const double mu = sum[l][c] / rows, var = sq[l][c] / rows - mu * mu;
        const double sd = sqrt(var > 0 ? var : 0);
        d += ((mu - hooks[l].mean[c]) * (mu - hooks[l].mean[c]) +
              (sd - hooks[l].std[c]) * (sd - hooks[l].std[c])) /
             C;
      }
      r->bn_distance += d / nh;
    }
    r->bn_layers = nh;
    r->mean_confidence = conf / (double)seen;
    r->label_agreement = (double)agree / (double)seen;
    r->min_class = r->max_class = hist[0];
    double ent = 0.0;
    for (int64_t k = 0; k < classes; k++) {
      r->min_class = hist[k] < r->min_class ? hist[k] : r->min_class;
      r->max_class = hist[k] > r->max_class ? hist[k] : r->max_class;
      const double q = (double)hist[k] / (double)seen;
      if (q > 0) ent -= q * log(q);
    }
    r->class_entropy = classes > 1 ? ent / log((double)classes) : 1.0;
  }
  for (int l = 0; l < nh && sum && sq; l++) {
    free(sum[l]);
    free(sq[l]);
  }
  free(sum);
  free(sq);
  free(hist);
  free(prob);
  zsq_bn_hooks_free(hooks, nh);
  zsq_fplan_destroy(p);
  return st;
}
