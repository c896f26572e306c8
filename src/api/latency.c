/* latency.c — the layer timer of a latency budget: integer runtimes of simulated graphs for one
 * image on this machine, every step timed in place, summed per layer and for the rest. */
#include <stdlib.h>

#include "api/internal.h"
#include "quant/quant.h"
#include "runtime/runtime.h"

typedef struct timed_model {
  zsqf_layer *layers; /* the records the runtime was built from */
  int n_layers;
  zsq_rt *rt;
} timed_model;

static void release(void *ctx, void *instance) {
  (void)ctx;
  timed_model *t = instance;
  zsq_rt_destroy(t->rt);
  zsq_file_layers_free(t->layers, t->n_layers);
  free(t);
}

/* The runtime of sim for one image, run once on a zero image (its buffers then hold real values).
 */
static zsq_status prepare(void *ctx, const zsq_qresult *r, const zsq_graph *sim, void **instance,
                          zsq_err *err) {
  *instance = NULL;
  timed_model *t = calloc(1, sizeof *t);
  if (t == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  t->n_layers = r->n_layers;
  zsq_status st = zsq_file_layers_of(r, &t->layers, err);
  if (st == ZSQ_OK)
    st = zsq_rt_create(sim, t->layers, t->n_layers, 1, NULL, (pthreadpool_t)ctx, &t->rt, err);
  float *x = NULL, *y = NULL;
  if (st == ZSQ_OK) {
    const int64_t *d = sim->tensors[sim->inputs[0]].dims; /* N×C×H×W, checked by create */
    x = calloc((size_t)(d[1] * d[2] * d[3]), sizeof(float));
    y = malloc((size_t)zsq_rt_output_size(t->rt) * sizeof(float));
    st = x && y ? zsq_rt_run(t->rt, x, y, err) : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  free(x);
  free(y);
  if (st != ZSQ_OK) {
    release(ctx, t);
    return st;
  }
  *instance = t;
  return ZSQ_OK;
}

/* Sums one runtime's step times per layer (each layer owns exactly one step) and for the rest. */
static zsq_status per_layer(const timed_model *t, const double *step_seconds, double *layer_seconds,
                            double *other_seconds, zsq_err *err) {
  int *steps_of = calloc((size_t)t->n_layers + 1, sizeof(int));
  if (steps_of == NULL) return zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  *other_seconds = 0.0;
  for (int i = 0; i < t->n_layers; i++) layer_seconds[i] = 0.0;
  for (int s = 0; s < zsq_rt_step_count(t->rt); s++) {
    const int l = zsq_rt_step_layer(t->rt, s);
    if (l >= 0) {
      layer_seconds[l] += step_seconds[s];
      steps_of[l]++;
    } else {
      *other_seconds += step_seconds[s];
    }
  }
  zsq_status st = ZSQ_OK;
  for (int i = 0; st == ZSQ_OK && i < t->n_layers; i++)
    if (steps_of[i] != 1)
      st = zsq_fail(err, ZSQ_ERR_INTERNAL, "layer '%s' runs in %d runtime steps, not one",
                    t->layers[i].name, steps_of[i]);
  free(steps_of);
  return st;
}

static zsq_status time_models(void *ctx, void *const *instances, int n, int n_layers,
                              double *layer_seconds, double *other_seconds, zsq_err *err) {
  (void)ctx;
  zsq_rt **rts = malloc(((size_t)n + 1) * sizeof *rts);
  double **steps = calloc((size_t)n + 1, sizeof *steps);
  zsq_status st = rts && steps ? ZSQ_OK : zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  for (int k = 0; st == ZSQ_OK && k < n; k++) {
    const timed_model *t = instances[k];
    if (t->n_layers != n_layers)
      st = zsq_fail(err, ZSQ_ERR_INTERNAL, "timed model %d has %d layers, not %d", k, t->n_layers,
                    n_layers);
    rts[k] = t->rt;
    steps[k] = malloc(((size_t)zsq_rt_step_count(t->rt) + 1) * sizeof(double));
    if (st == ZSQ_OK && steps[k] == NULL) st = zsq_fail(err, ZSQ_ERR_NOMEM, "out of memory");
  }
  if (st == ZSQ_OK) st = zsq_rt_time_steps(rts, n, steps, err);
  for (int k = 0; st == ZSQ_OK && k < n; k++)
    st = per_layer(instances[k], steps[k], layer_seconds + (size_t)k * (size_t)n_layers,
                   &other_seconds[k], err);
  for (int k = 0; steps && k < n; k++) free(steps[k]);
  free(steps);
  free(rts);
  return st;
}

zsq_layer_timer zsq_runtime_timer(pthreadpool_t tp) {
  return (zsq_layer_timer){tp, prepare, time_models, release};
}
