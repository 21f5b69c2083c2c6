/* train_data.h — the data side of `hcg train` (and the commands built on it): named npy arrays
 * for graph inputs whose first axis is the sample axis, batches taken in order or through a
 * seeded permutation per epoch, and the random generator whose state checkpoints carry. */
#ifndef HCG_TRAIN_DATA_H
#define HCG_TRAIN_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "hcg/hcg.h"

/* Arrays for some or all of a graph's inputs. */
typedef struct cli_dataset {
    int n_inputs;         /* the graph's inputs */
    hcg_tensor **arrays;  /* per graph input: its whole array, or NULL if not given */
    int64_t rows;         /* samples (every array's first dim) */
    /* per graph input: for an input named HCG_PIPELINE_INPUT_PREFIX + NAME (a pipelined teacher's),
     * the input NAME whose array it reads one batch ahead; else -1 */
    int *follows;
    bool pipelined;       /* some input follows another */
} cli_dataset;

/* Loads NAME=FILE.npy specs (option is the flag, for messages). Every name must be a graph input,
 * given once; every array needs rank >= 1 and the same first dim. With all_inputs, every graph
 * input must be given. */
hcg_status cli_dataset_load(const hcg_graph *g, char **specs, int n_specs, const char *option, bool all_inputs,
                            cli_dataset *d);
void cli_dataset_free(cli_dataset *d);
/* Batch tensors of n rows for each given input (NULL for the others). */
hcg_status cli_batch_alloc(const cli_dataset *d, int64_t n, hcg_tensor **batch);
/* Copies rows[0..n) of every array into the batch. */
void cli_batch_fill(const cli_dataset *d, const int64_t *rows, int64_t n, hcg_tensor **batch);
/* Copies rows[0..n) of the arrays that following inputs read into their batch tensors. */
void cli_batch_fill_next(const cli_dataset *d, const int64_t *rows, int64_t n, hcg_tensor **batch);

/* xoshiro256**, seeded with splitmix64. */
typedef struct cli_rng {
    uint64_t s[4];
} cli_rng;
void cli_rng_seed(cli_rng *r, uint64_t seed);
uint64_t cli_rng_next(cli_rng *r);

/* Which rows each step reads: step k takes batch (k mod P) of its epoch, P = rows div batch (a
 * trailing partial batch is dropped); rows in order, or, with shuffle, through a permutation drawn
 * at the start of each epoch. */
typedef struct cli_sampler {
    int64_t rows, batch, per_epoch;
    bool shuffle;
    cli_rng epoch_rng; /* the generator as it was when the current epoch's permutation was drawn */
    cli_rng rng;       /* ... and after */
    int64_t epoch;     /* the epoch whose permutation perm holds (-1: none yet) */
    int64_t *perm;
} cli_sampler;

hcg_status cli_sampler_init(cli_sampler *s, int64_t rows, int64_t batch, bool shuffle, uint64_t seed);
void cli_sampler_free(cli_sampler *s);
/* The rows of step k (from 0) into out[batch]. Steps must not go back to an earlier epoch. */
void cli_sampler_rows(cli_sampler *s, int64_t k, int64_t *out);
/* The sampler's state for a checkpoint (JSON fields) and back. */
void cli_sampler_save(const cli_sampler *s, char *buf, size_t n);
bool cli_sampler_restore(cli_sampler *s, int64_t epoch, const char *state_hex);

#endif
