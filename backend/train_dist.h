/* train_dist.h — data-parallel training's part of the training step (backend/train_dist.c). */
#ifndef HCG_TRAIN_DIST_H
#define HCG_TRAIN_DIST_H

#include "graph/graph.h"

/* In bound step graph b: replaces every gradient grads[k] >= 0 (of wrt[k]) by its mean over the
 * ranks of the MPI job, computed in buckets of about bucket_bytes (<= 0: 1 MiB) that start as
 * soon as their gradients exist. */
hcg_status hcg_train_reduce_gradients(hcg_graph *b, const hcg_id *wrt, hcg_id *grads, int n, int64_t bucket_bytes);
/* Copies values[0..n) (named names[i]) from rank 0 to every rank. */
hcg_status hcg_train_broadcast_values(const char *const *names, hcg_tensor **values, int n);

#endif
