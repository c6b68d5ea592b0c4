/* Seeded pseudo-random numbers (xoshiro256**, seeded through splitmix64). The whole state is
 * this plain struct, so checkpoints save and restore it bit for bit. */
#ifndef LB_BASE_RNG_H
#define LB_BASE_RNG_H
#include <stdint.h>

typedef struct lb_rng {
    uint64_t s[4];
} lb_rng;

void lb_rng_seed(lb_rng *r, uint64_t seed);
/* An independent stream derived from (seed, stream id), e.g. one per purpose. */
void lb_rng_seed_stream(lb_rng *r, uint64_t seed, uint64_t stream);
uint64_t lb_rng_u64(lb_rng *r);
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
float lb_rng_uniform(lb_rng *r);
/* Uniform integer in [0, n), unbiased. */
uint64_t lb_rng_below(lb_rng *r, uint64_t n);
/* Standard normal (Box-Muller, double precision). */
double lb_rng_normal(lb_rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void lb_rng_shuffle(lb_rng *r, int32_t *idx, int64_t n);

#endif
