/* sampler.h — choosing the next token from a row of logits, on the host: greedy (the first
 * largest logit) or seeded sampling with temperature, top-k and top-p. Sampling works in double
 * from the float logits a device returned, with a random stream that depends only on the seed, so
 * the same seed gives the same tokens on every device unless two devices' logits differ across a
 * decision boundary (a draw within about 1e-6 of a cumulative probability, or top-k/top-p ties):
 * see docs/generate.md. */
#ifndef HCG_SAMPLER_H
#define HCG_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "hcg/hcg.h"

typedef struct hcg_sampler {
    bool greedy;
    double temperature; /* > 0 */
    int64_t top_k;      /* 0: every token */
    double top_p;       /* (0, 1] */
    uint64_t rng;       /* splitmix64 state */
    /* scratch for one row */
    double *p;
    int64_t *order;
    int64_t cap;
} hcg_sampler;

/* Checks the options (temperature > 0, top_k >= 0, top_p in (0, 1]) and starts the random stream
 * at seed. */
hcg_status hcg_sampler_init(hcg_sampler *s, bool greedy, double temperature, int64_t top_k, double top_p,
                            uint64_t seed);
void hcg_sampler_free(hcg_sampler *s);
/* The next uniform double in [0, 1) of the stream (53 random bits). */
double hcg_sampler_uniform(hcg_sampler *s);
/* The token for one row of n logits. Sampling draws exactly one number from the stream per call,
 * whatever the logits, so rows and steps stay in step across devices. */
hcg_status hcg_sampler_pick(hcg_sampler *s, const float *logits, int64_t n, int64_t *token);

#endif
