/* sampler.c — greedy and seeded sampling of the next token from a row of logits (see sampler.h).
 *
 * Sampling, step by step (docs/generate.md states the same, tests/gen/sampler_ref.py is an
 * independent implementation of it):
 *   1. x_i = logit_i / temperature, in double;
 *   2. top-k: keep the k largest x (ties broken by the smaller token id), unless k is 0 or >= n;
 *   3. p_i = exp(x_i - max x) over the kept tokens, normalised by their sum;
 *   4. top-p: sort the kept tokens by p descending (ties: smaller id first) and keep the shortest
 *      prefix whose sum reaches top_p (at least one token), then renormalise;
 *   5. draw u from the stream (splitmix64, the top 53 bits / 2^53) and return the first kept
 *      token, in id order, where the running sum of p exceeds u * (sum of kept p); rounding that
 *      leaves u beyond the last sum returns the last kept token.
 * NaN logits are an error; -inf logits get probability 0 (and are never chosen while some token
 * has a finite logit). */
#include "backend/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

hcg_status hcg_sampler_init(hcg_sampler *s, bool greedy, double temperature, int64_t top_k, double top_p,
                            uint64_t seed)
{
    memset(s, 0, sizeof *s);
    if (!greedy) {
        if (!(temperature > 0) || !isfinite(temperature))
            return hcg_error(HCG_ERR_ARG, "the temperature must be a number > 0, got %g", temperature);
        if (top_k < 0) return hcg_error(HCG_ERR_ARG, "top-k must be >= 0 (0: every token), got %lld", (long long)top_k);
        if (!(top_p > 0 && top_p <= 1)) return hcg_error(HCG_ERR_ARG, "top-p must be in (0, 1], got %g", top_p);
    }
    s->greedy = greedy;
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->rng = seed;
    return HCG_OK;
}

void hcg_sampler_free(hcg_sampler *s)
{
    free(s->p);
    free(s->order);
    memset(s, 0, sizeof *s);
}

/* splitmix64 (Steele, Lea, Flood 2014): one 64-bit step of the stream. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

double hcg_sampler_uniform(hcg_sampler *s) { return (double)(next_u64(&s->rng) >> 11) * 0x1.0p-53; }

/* qsort has no context argument in C11: the values sorted by are set just before sorting. */
static _Thread_local const double *sort_values;

/* Larger value first; equal values: smaller id first (a total order, so the result is unique). */
static int by_value_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    if (sort_values[x] > sort_values[y]) return -1;
    if (sort_values[x] < sort_values[y]) return 1;
    return x < y ? -1 : x > y;
}

static int by_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

hcg_status hcg_sampler_pick(hcg_sampler *s, const float *logits, int64_t n, int64_t *token)
{
    if (n <= 0) return hcg_error(HCG_ERR_ARG, "no logits to choose from");
    for (int64_t i = 0; i < n; i++)
        if (isnan(logits[i])) return hcg_error(HCG_ERR_RUNTIME, "the logits hold NaN (token %lld)", (long long)i);
    if (s->greedy) {
        int64_t best = 0;
        for (int64_t i = 1; i < n; i++)
            if (logits[i] > logits[best]) best = i;
        *token = best;
        return HCG_OK;
    }
    if (n > s->cap) {
        double *p = realloc(s->p, sizeof(double) * (size_t)n);
        if (p) s->p = p;
        int64_t *o = realloc(s->order, sizeof(int64_t) * (size_t)n);
        if (o) s->order = o;
        if (!p || !o) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        s->cap = n;
    }
    double *p = s->p;
    int64_t *order = s->order, kept = n;
    for (int64_t i = 0; i < n; i++) {
        p[i] = (double)logits[i] / s->temperature;
        order[i] = i;
    }
    double u = hcg_sampler_uniform(s); /* drawn whatever follows: one number per call */
    bool sorted = false;
    if (s->top_k > 0 && s->top_k < n) {
        sort_values = p;
        qsort(order, (size_t)n, sizeof(int64_t), by_value_desc);
        sorted = true;
        kept = s->top_k;
    }
    double mx = -INFINITY;
    for (int64_t k = 0; k < kept; k++) mx = fmax(mx, p[order[k]]);
    if (mx == -INFINITY) return hcg_error(HCG_ERR_RUNTIME, "every logit is -inf: no token can be chosen");
    double sum = 0;
    for (int64_t k = 0; k < kept; k++) {
        p[order[k]] = exp(p[order[k]] - mx);
        sum += p[order[k]];
    }
    for (int64_t k = 0; k < kept; k++) p[order[k]] /= sum;
    if (s->top_p < 1) {
        sort_values = p;
        qsort(order, (size_t)kept, sizeof(int64_t), by_value_desc); /* by probability now */
        sorted = true;
        double run = 0;
        int64_t k = 0;
        while (k < kept && run < s->top_p) run += p[order[k++]];
        kept = k;
    }
    if (sorted) qsort(order, (size_t)kept, sizeof(int64_t), by_id);
    double total = 0;
    for (int64_t k = 0; k < kept; k++) total += p[order[k]];
    double target = u * total, run = 0;
    for (int64_t k = 0; k < kept; k++) {
        run += p[order[k]];
        if (run > target) {
            *token = order[k];
            return HCG_OK;
        }
    }
    *token = order[kept - 1];
    return HCG_OK;
}
