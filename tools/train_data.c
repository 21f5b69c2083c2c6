/* train_data.c — named npy arrays for graph inputs, batches of rows, and the seeded per-epoch
 * shuffling of `hcg train` (see train_data.h). */
#include "train_data.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


hcg_status cli_dataset_load(const hcg_graph *g, char **specs, int n_specs, const char *option, bool all_inputs,
                            cli_dataset *d)
{
    memset(d, 0, sizeof *d);
    d->n_inputs = hcg_graph_num_inputs(g);
    d->arrays = calloc((size_t)d->n_inputs + 1, sizeof(hcg_tensor *));
    d->follows = malloc(sizeof(int) * ((size_t)d->n_inputs + 1));
    if (!d->arrays || !d->follows) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    size_t plen = strlen(HCG_PIPELINE_INPUT_PREFIX);
    for (int i = 0; i < d->n_inputs; i++) {
        const char *name = hcg_graph_input_name(g, i);
        d->follows[i] = -1;
        if (strncmp(name, HCG_PIPELINE_INPUT_PREFIX, plen) != 0) continue;
        for (int j = 0; j < d->n_inputs; j++)
            if (strcmp(hcg_graph_input_name(g, j), name + plen) == 0) d->follows[i] = j;
        if (d->follows[i] < 0) return hcg_error(HCG_ERR_GRAPH, "the pipelined input '%s' follows no input", name);
        d->pipelined = true;
    }
    const char *first = NULL;
    for (int k = 0; k < n_specs; k++) {
        char *eq = strchr(specs[k], '=');
        if (!eq || eq == specs[k] || !eq[1]) return hcg_error(HCG_ERR_ARG, "%s '%s' must be NAME=FILE.npy", option, specs[k]);
        *eq = 0;
        int which = -1;
        for (int i = 0; i < d->n_inputs; i++)
            if (strcmp(hcg_graph_input_name(g, i), specs[k]) == 0) which = i;
        hcg_status st = HCG_OK;
        if (which >= 0 && d->follows[which] >= 0) which = -1; /* fed from the input it follows */
        if (which < 0) {
            char names[1024] = "";
            size_t used = 0;
            for (int i = 0; i < d->n_inputs && used < sizeof names - 1; i++) {
                int w = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", hcg_graph_input_name(g, i));
                if (w > 0) used += (size_t)w;
            }
            st = hcg_error(HCG_ERR_NOT_FOUND, "%s %s: the model has no input '%s' (inputs: %s)", option, specs[k],
                           specs[k], names);
        } else if (d->arrays[which]) {
            st = hcg_error(HCG_ERR_ARG, "%s: input '%s' is given twice", option, specs[k]);
        } else if (!(st = hcg_npy_load(eq + 1, &d->arrays[which]))) {
            const hcg_tensor *t = d->arrays[which];
            if (t->shape.rank < 1) {
                st = hcg_error(HCG_ERR_SHAPE, "%s %s=%s: the array is a scalar; its first axis must be the samples",
                               option, specs[k], eq + 1);
            } else if (!first) {
                first = specs[k];
                d->rows = t->shape.dims[0];
            } else if (t->shape.dims[0] != d->rows) {
                st = hcg_error(HCG_ERR_SHAPE, "%s: '%s' has %lld samples but '%s' has %lld", option, specs[k],
                               (long long)t->shape.dims[0], first, (long long)d->rows);
            }
        }
        *eq = '=';
        if (st) return st;
    }
    for (int i = 0; i < d->n_inputs && all_inputs; i++)
        if (!d->arrays[i] && d->follows[i] < 0)
            return hcg_error(HCG_ERR_ARG, "input '%s' has no data (use %s %s=FILE.npy)", hcg_graph_input_name(g, i),
                             option, hcg_graph_input_name(g, i));
    return HCG_OK;
}

void cli_dataset_free(cli_dataset *d)
{
    for (int i = 0; d->arrays && i < d->n_inputs; i++) hcg_tensor_free(d->arrays[i]);
    free(d->arrays);
    free(d->follows);
    memset(d, 0, sizeof *d);
}

hcg_status cli_batch_alloc(const cli_dataset *d, int64_t n, hcg_tensor **batch)
{
    for (int i = 0; i < d->n_inputs; i++) {
        batch[i] = NULL;
        const hcg_tensor *a = d->follows[i] >= 0 ? d->arrays[d->follows[i]] : d->arrays[i];
        if (!a) continue;
        hcg_shape s = a->shape;
        s.dims[0] = n;
        hcg_status st = hcg_tensor_new(a->dtype, &s, &batch[i]);
        if (st) return st;
    }
    return HCG_OK;
}

static void fill_rows(const hcg_tensor *a, int64_t total, const int64_t *rows, int64_t n, hcg_tensor *b)
{
    size_t row_bytes = total ? a->nbytes / (size_t)total : 0;
    for (int64_t r = 0; r < n; r++)
        memcpy((char *)b->data + (size_t)r * row_bytes, (const char *)a->data + (size_t)rows[r] * row_bytes, row_bytes);
}

void cli_batch_fill_next(const cli_dataset *d, const int64_t *rows, int64_t n, hcg_tensor **batch)
{
    for (int i = 0; i < d->n_inputs; i++)
        if (d->follows[i] >= 0 && batch[i]) fill_rows(d->arrays[d->follows[i]], d->rows, rows, n, batch[i]);
}

void cli_batch_fill(const cli_dataset *d, const int64_t *rows, int64_t n, hcg_tensor **batch)
{
    for (int i = 0; i < d->n_inputs; i++)
        if (d->arrays[i] && batch[i]) fill_rows(d->arrays[i], d->rows, rows, n, batch[i]);
}

/* ---------------------------------------------------------------- random numbers */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cli_rng_seed(cli_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t cli_rng_next(cli_rng *r)
{
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* A uniform integer in [0, n) without modulo bias (Lemire's method, with rejection). */
static uint64_t below(cli_rng *r, uint64_t n)
{
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = cli_rng_next(r);
        if (x >= threshold) return x % n;
    }
}

/* ---------------------------------------------------------------- batches */

hcg_status cli_sampler_init(cli_sampler *s, int64_t rows, int64_t batch, bool shuffle, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->rows = rows;
    s->batch = batch;
    s->per_epoch = batch > 0 ? rows / batch : 0;
    s->shuffle = shuffle;
    s->epoch = -1;
    cli_rng_seed(&s->rng, seed);
    s->epoch_rng = s->rng;
    if (!(s->perm = malloc(sizeof(int64_t) * (size_t)(rows + 1)))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    return HCG_OK;
}

void cli_sampler_free(cli_sampler *s)
{
    free(s->perm);
    s->perm = NULL;
}

static void draw_epoch(cli_sampler *s)
{
    s->epoch_rng = s->rng;
    for (int64_t i = 0; i < s->rows; i++) s->perm[i] = i;
    for (int64_t i = s->rows - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)below(&s->rng, (uint64_t)i + 1);
        int64_t t = s->perm[i];
        s->perm[i] = s->perm[j];
        s->perm[j] = t;
    }
    s->epoch++;
}

void cli_sampler_rows(cli_sampler *s, int64_t k, int64_t *out)
{
    int64_t epoch = k / s->per_epoch, first = (k % s->per_epoch) * s->batch;
    if (!s->shuffle) {
        for (int64_t r = 0; r < s->batch; r++) out[r] = first + r;
        return;
    }
    while (s->epoch < epoch) draw_epoch(s);
    for (int64_t r = 0; r < s->batch; r++) out[r] = s->perm[first + r];
}

void cli_sampler_save(const cli_sampler *s, char *buf, size_t n)
{
    snprintf(buf, n, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, s->epoch_rng.s[0], s->epoch_rng.s[1],
             s->epoch_rng.s[2], s->epoch_rng.s[3]);
}

bool cli_sampler_restore(cli_sampler *s, int64_t epoch, const char *hex)
{
    if (!hex || strlen(hex) != 64) return false;
    cli_rng r;
    for (int i = 0; i < 4; i++) {
        char part[17];
        memcpy(part, hex + 16 * i, 16);
        part[16] = 0;
        char *end;
        r.s[i] = strtoull(part, &end, 16);
        if (*end) return false;
    }
    /* the generator as it was before the current epoch's permutation: draw it again */
    s->rng = r;
    s->epoch_rng = r;
    s->epoch = epoch < 0 ? -1 : epoch - 1;
    if (epoch >= 0) draw_epoch(s);
    return true;
}
