/* decoder_impl.h — the decoder object's insides, shared by backend/decoder.c (the public API and
 * the generation loop) and backend/decoder_graph.c (what a graph is as a decoder: its kind, its
 * inputs, the step graph of ONNX decoders with explicit caches, the positions it has, and the
 * pipeline layers). */
#ifndef HCG_DECODER_IMPL_H
#define HCG_DECODER_IMPL_H

#include "backend/session_impl.h"

/* Inputs the decoder feeds, by role. */
typedef enum dec_role {
    DEC_IDS,       /* token ids [B, T] */
    DEC_POS,       /* kind 3: the position of ids[:, 0] (i64 scalar); kind 2: where cache_write writes */
    DEC_MASK,      /* attention_mask [B, T] (kind 1), or its new part (kind 2) */
    DEC_PAST_MASK, /* kind 2: the mask of the cached positions [B, L] (L binds the cache length) */
    DEC_POSITIONS, /* position_ids [B, T] */
    DEC_ROLES
} dec_role;

#define DEC_MAX_CACHES 256

struct hcg_decoder {
    const hcg_graph *g;     /* the model (the caller's) */
    hcg_graph *step;        /* kind 2: the step graph built from g (owned); else NULL */
    hcg_decoder_kind kind;
    hcg_decoder_options opt;
    char *devices, *passes; /* copies of the option strings */
    int input_of[DEC_ROLES]; /* the session graph's input index of each role, -1 if absent */
    hcg_dtype ids_dtype, mask_dtype, positions_dtype;
    int64_t max_positions;  /* from the graph: the position table's rows, the caches' length; -1 unknown */
    /* kind 2: the caches, their sequence axis and the layer each belongs to (pipelines) */
    int n_caches;
    int64_t capacity;       /* kind 2: the positions the cache states hold (the step graph's) */
    int64_t built_batch;    /* the batch size the session's states have (-1: none yet) */
    hcg_session *session;
    /* the last generation's step times: [0] the prompt, then one per new token */
    double *step_s;
    int64_t n_steps, cap_steps;
};

/* decoder_graph.c */

/* Finds what g is as a decoder: kind, the inputs' roles, max_positions. */
hcg_status hcg_decoder_inspect(hcg_decoder *d);
/* Kind 2: builds d->step for caches of `capacity` positions (see decoder_graph.c). */
hcg_status hcg_decoder_build_step(hcg_decoder *d, int64_t capacity);
/* The session transform of a pipelined decoder: pins each layer's caches, their updates and the
 * nodes after them to one device of the session, layers in order over the devices. */
hcg_status hcg_decoder_pipeline(void *ctx, hcg_graph *bound);

#endif
