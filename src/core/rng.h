/* rng.h — a small seeded PRNG (xoshiro256**) with uniform and Gaussian draws; no global state. */
#ifndef ZSQ_CORE_RNG_H
#define ZSQ_CORE_RNG_H

#include <stdint.h>

typedef struct zsq_rng {
  uint64_t s[4];
} zsq_rng;

void zsq_rng_seed(zsq_rng *r, uint64_t seed);
uint64_t zsq_rng_next(zsq_rng *r);
/* Uniform in [0, 1). */
double zsq_rng_uniform(zsq_rng *r);
/* Uniform integer in [0, n). */
uint32_t zsq_rng_below(zsq_rng *r, uint32_t n);
/* Standard normal (Box–Muller). */
double zsq_rng_normal(zsq_rng *r);

#endif
