/* session.c — public inference session: the integer runtime for a quantized model, else a float
 * plan of the (optionally BN-folded) graph. */
#include <stdio.h>
#include <stdlib.h>

#include "api/internal.h"
#include "float/plan.h"
#include "graph/passes.h"
#include "runtime/runtime.h"

struct zsq_session {
  zsq_graph *graph; /* the planned graph (a rewritten copy when folding) */
  zsq_fplan *plan;
  zsq_rt *rt; /* the integer runtime instead of plan */
  char engine[160];
  pthreadpool_t own_pool;
  void **outs; /* one slot per graph output; only the first is returned */
  zsq_err err;
};

zsq_status zsq_session_create(zsq_model *m, const zsq_session_options *opt, zsq_session **out) {
  if (m == NULL || opt == NULL || out == NULL) return ZSQ_ERR_INVALID_ARG;
  *out = NULL;
  zsq_err_clear(&m->err);
  if (m->graph == NULL) return zsq_fail(&m->err, ZSQ_ERR_INVALID_ARG, "no model loaded");
  if (m->graph->n_inputs != 1) {
    return zsq_fail(&m->err, ZSQ_ERR_UNSUPPORTED,
                    "sessions need a model with exactly one input (it has %zu)",
                    m->graph->n_inputs);
  }
  zsq_session *s = calloc(1, sizeof *s);
  if (s == NULL) return zsq_fail(&m->err, ZSQ_ERR_NOMEM, "out of memory");
  s->graph = zsq_graph_clone(m->graph);
  zsq_status st = s->graph ? ZSQ_OK : zsq_fail(&m->err, ZSQ_ERR_NOMEM, "out of memory");
  const int integer = m->quantized && !opt->simulate;
  if (st == ZSQ_OK && opt->fold_batchnorm && !integer) {
    st = zsq_graph_fold_batchnorm(s->graph, &m->err);
    if (st == ZSQ_OK) st = zsq_graph_fuse_activations(s->graph, &m->err);
  }
  if (st == ZSQ_OK) {
    s->outs = calloc(s->graph->n_outputs, sizeof(void *));
    if (s->outs == NULL) st = zsq_fail(&m->err, ZSQ_ERR_NOMEM, "out of memory");
  }
  pthreadpool_t pool = (pthreadpool_t)opt->threadpool;
  if (st == ZSQ_OK && pool == NULL && opt->threads > 1) {
    s->own_pool = pthreadpool_create((size_t)opt->threads);
    if (s->own_pool == NULL)
      st = zsq_fail(&m->err, ZSQ_ERR_NOMEM, "cannot create %d threads", opt->threads);
    pool = s->own_pool;
  }
  if (st == ZSQ_OK && integer) {
    st = zsq_rt_create(s->graph, m->qlayers, m->n_qlayers, opt->batch, opt->isa, pool, &s->rt,
                       &m->err);
    if (st == ZSQ_OK)
      snprintf(s->engine, sizeof s->engine, "integer runtime (%s)", zsq_rt_kernel_name(s->rt));
  } else if (st == ZSQ_OK) {
    st = zsq_fplan_create(s->graph, opt->batch, pool, &s->plan, &m->err);
    snprintf(s->engine, sizeof s->engine, "%s", m->quantized ? "float simulation" : "float");
  }
  if (st != ZSQ_OK) {
    zsq_session_destroy(s);
    return st;
  }
  *out = s;
  return ZSQ_OK;
}

void zsq_session_destroy(zsq_session *s) {
  if (s == NULL) return;
  zsq_fplan_destroy(s->plan);
  zsq_rt_destroy(s->rt);
  zsq_graph_free(s->graph);
  if (s->own_pool) pthreadpool_destroy(s->own_pool);
  free(s->outs);
  free(s);
}

const char *zsq_session_last_error(const zsq_session *s) {
  return s ? s->err.msg : "no session";
}

zsq_status zsq_session_run(zsq_session *s, const float *input, float *output) {
  if (s == NULL || input == NULL || output == NULL) return ZSQ_ERR_INVALID_ARG;
  if (s->rt) {
    zsq_err_clear(&s->err);
    return zsq_rt_run(s->rt, input, output, &s->err);
  }
  const void *in[1] = {input};
  s->outs[0] = output;
  zsq_fplan_run(s->plan, in, s->outs);
  return ZSQ_OK;
}

const char *zsq_session_engine(const zsq_session *s) {
  return s ? s->engine : "none";
}
