/* dist.h — hcg's MPI layer, internal side (the public calls hcg_dist_* are in hcg.h): gradient
 * all-reduces handed to a communication thread (started by one node, completed by a later one, so
 * compute runs in between), point-to-point messages between ranks for graphs split across
 * processes, and the few collectives the training loop needs. Every wait has a time limit
 * ($HCG_DIST_TIMEOUT seconds, default 300): a rank that died or stalled makes the others fail with
 * a message instead of waiting forever. dist_mpi.c implements it with MPI; dist_none.c, built when
 * hcg has no MPI, fails every call with HCG_ERR_UNSUPPORTED. */
#ifndef HCG_DIST_H
#define HCG_DIST_H

#include <stddef.h>

#include "hcg/hcg.h"

/* Whether hcg_dist_init has run (and the job has more than zero ranks). */
bool hcg_dist_active(void);

/* Starts summing n floats at buf over every rank, in place, on the communication thread. Jobs start
 * in the order they are given, which must be the same on every rank (MPI's rule for collectives).
 * buf must stay untouched until hcg_dist_allreduce_wait(buf) returns. what names it in messages. */
hcg_status hcg_dist_allreduce_start(float *buf, size_t n, const char *what);
/* Waits until the all-reduce on buf is done (or the time limit passes: an error). */
hcg_status hcg_dist_allreduce_wait(const float *buf, const char *what);

/* Point-to-point messages between ranks (graph parts on different ranks): blocking, with the time
 * limit. Messages are matched by sender and tag. */
hcg_status hcg_dist_send(const void *buf, size_t bytes, int to, int tag, const char *what);
hcg_status hcg_dist_recv(void *buf, size_t bytes, int from, int tag, const char *what);

/* Collectives called from the caller's thread, in the same order on every rank, with the limit
 * (hcg_dist_sum and hcg_dist_gather are public: hcg.h). */
/* bytes at buf copied from rank root to every rank. */
hcg_status hcg_dist_bcast(void *buf, size_t bytes, int root, const char *what);
/* Makes every rank return the same status: st if all are OK, else the first failed rank's status
 * and message ("rank N: ..."), on every rank. */
hcg_status hcg_dist_agree(hcg_status st, const char *what);

/* Predicted seconds of an all-reduce of bytes over the job's ranks (measured at hcg_dist_init;
 * 0 in a job of one). */
double hcg_dist_allreduce_estimate(size_t bytes);
/* The measured latency (seconds) and time per byte of an all-reduce, for reports. */
void hcg_dist_allreduce_model(double *latency_s, double *seconds_per_byte);
/* The time limit of every wait, seconds. */
double hcg_dist_timeout(void);

#endif
