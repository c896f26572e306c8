/* synth_cfg.c — each synthesis method's defaults (the papers' settings). */
#include <string.h>

#include "synth/synth.h"

zsq_status zsq_synth_cfg_for(const char *method, zsq_synth_cfg *c, zsq_err *err) {
  const int64_t count = c->count;
  const uint64_t seed = c->seed;
  memset(c, 0, sizeof *c);
  c->count = count;
  c->seed = seed;
  c->optimise = 1;
  c->hast_beta = 0.1f;
  c->hast_gamma = 0.5f;
  c->target_lo = 1.0f;
  c->mdc_upper = 2.0f;
  if (strcmp(method, "noise") == 0) {
    c->optimise = 0;
    c->batch = 256;
  } else if (strcmp(method, "zeroq") ==
             0) { /* ZeroQ: per-sample L-ZQ, Adam 0.5, 500 steps, batch 32 */
    c->bn = ZSQ_BN_PER_SAMPLE;
    c->init_uniform = 1;
    c->lr = 0.5f;
    c->batch = 32;
    c->iters = 500;
    c->patience = 100;
  } else if (strcmp(method, "dsg") ==
             0) { /* DSG: ZeroQ + slack (ε = 0.9) + LSE, Adam 0.9, patience 260 */
    c->bn = ZSQ_BN_PER_SAMPLE;
    c->init_uniform = 1;
    c->lr = 0.9f;
    c->batch = 40;
    c->iters = 500;
    c->patience = 260;
    c->dsg_eps = 0.9f;
    c->dsg_lse = 1;
  } else if (strcmp(method, "intraq") == 0 || strcmp(method, "hast") == 0 ||
             strcmp(method, "centres") == 0 || strcmp(method, "gzsq") == 0) {
    /* IntraQ: batch L-MSE + target loss + LOR (RRC 0.5–1, p 0.5), Adam 0.5, patience 50, 1000
     * steps, batch 256, and its CIFAR-10 script's soft targets U(0.95, 1) and MDC margins
     * 0.05 / 0.8. HAST: focal CE instead, RRC 0.4–1, no MDC, hard targets. centres: IntraQ's
     * pipeline (hard targets, no MDC) + class centres. gzsq: CE, targets from the weights. */
    const int hast = method[0] == 'h';
    if (method[0] == 'i') {
      c->target_lo = 0.95f;
      c->mdc_lower = 0.05f;
      c->mdc_upper = 0.8f;
    } else if (method[0] == 'c') {
      c->centre_weight = 0.2f;
      c->centre_sep = 0.2f;
      c->centre_ratio = 0.5f;
      c->centre_decay = 0.2f;
    }
    c->weight_stats = method[0] == 'g';
    c->bn = ZSQ_BN_BATCH;
    c->label = hast ? ZSQ_LABEL_HAST : c->weight_stats ? ZSQ_LABEL_CE : ZSQ_LABEL_TARGET;
    c->lr = 0.5f;
    c->batch = 256;
    c->iters = 1000;
    c->patience = 50;
    c->lor_p = 0.5f;
    c->lor_scale_lo = hast ? 0.4f : 0.5f;
  } else if (strcmp(method, "genie") == 0) {
    /* GENIE-D: L-GEN, no label loss; latents Adam 0.1 with plateau patience 100, generator Adam
     * 0.01 ×0.95 every 100 steps; 4000 steps, batch 128; widths scaled to 28×28 images. */
    c->bn = ZSQ_BN_GENIE;
    c->genie = 1;
    c->swing = 1;
    c->lr = 0.1f;
    c->gen_lr = 0.01f;
    c->gen_latent = 256;
    c->gen_c0 = 64;
    c->gen_c1 = 32;
    c->batch = 128;
    c->iters = 4000;
    c->patience = 100;
  } else {
    return zsq_fail(err, ZSQ_ERR_UNSUPPORTED,
                    "unknown synthesis method '%s' (implemented: noise, zeroq, dsg, intraq, hast, "
                    "centres, gzsq, genie)",
                    method);
  }
  return ZSQ_OK;
}
