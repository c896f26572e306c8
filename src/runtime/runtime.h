/* runtime.h — the integer executor: turns a simulated quantized graph (a loaded .zsq) into
 * integer convolution operators plus a few float steps, and runs it for a fixed batch. */
#ifndef ZSQ_RUNTIME_RUNTIME_H
#define ZSQ_RUNTIME_RUNTIME_H

#include <pthreadpool.h>
#include <stdint.h>

#include "graph/graph.h"
#include "io/zsq_file.h"

typedef struct zsq_rt zsq_rt;

/* g: the simulated graph (FakeQuant nodes mark the stored codes; Conv/Gemm weights are
 * Ŵ = scale·code as layers[] describe). isa: NULL for the best tier, or a tier name. The graph
 * and layers must outlive the runtime. ZSQ_ERR_UNSUPPORTED names the first node the integer
 * runtime cannot execute (for instance a Conv whose input is not quantized). */
zsq_status zsq_rt_create(const zsq_graph *g, const zsqf_layer *layers, int n_layers, int64_t batch,
                         const char *isa, pthreadpool_t tp, zsq_rt **out, zsq_err *err);
void zsq_rt_destroy(zsq_rt *rt);

/* input: batch images, NCHW float32 (normalised); output: batch × features of the first graph
 * output (NCHW order for a rank-4 output). Does not allocate. An operator's failure (none is
 * expected after create's validation) is returned, never hidden. */
zsq_status zsq_rt_run(zsq_rt *rt, const float *input, float *output, zsq_err *err);

/* Elements per image of the first graph output. */
int64_t zsq_rt_output_size(const zsq_rt *rt);
/* The name of the convolution kernel the first integer layer runs (for `inspect` and logs). */
const char *zsq_rt_kernel_name(const zsq_rt *rt);

/* The contract test (the integer runtime agrees with the simulation layer by layer) drives the
 * plan step by step: step i reads tensors *in and *in2 (-1: none) and writes *out. */
int zsq_rt_step_count(const zsq_rt *rt);
void zsq_rt_step_io(const zsq_rt *rt, int i, int *in, int *in2, int *out);
/* Runs steps [first, last) on whatever their inputs' buffers hold. */
zsq_status zsq_rt_run_steps(zsq_rt *rt, int first, int last, zsq_err *err);
/* The index (into the layers given to create) of the Conv/Gemm step i runs, or -1 for a step that
 * is no Conv/Gemm. */
int zsq_rt_step_layer(const zsq_rt *rt, int i);
/* Seconds each step of n runtimes takes (step_seconds[k][zsq_rt_step_count(rts[k])]): the median
 * over repeated runs of all the steps, each step timed in place, the runtimes taking turns run by
 * run (a change in the machine's load hits them alike): a warm-up, then enough runs for about half
 * a second in all, 11 to 201. Run each runtime once first, so that its buffers hold real
 * values. */
zsq_status zsq_rt_time_steps(zsq_rt *const *rts, int n, double *const *step_seconds, zsq_err *err);
/* The NHWC buffer of graph tensor t and its kind (0: not stored, 1: float, 2: u8 codes). */
void *zsq_rt_data(zsq_rt *rt, int t, int *kind);

#endif
