/* cpu.h — the CPU backend's internal interface: the kernel table (one kernel per op, the
 * reference semantics of hcg), the thread pool for large loops, and node
 * evaluation on host tensors (used by constant folding). */
#ifndef HCG_CPU_H
#define HCG_CPU_H

#include "backend/backend.h"

/* A kernel computes en->out from en->in. Tensors are dense row-major in host memory
 * (hcg_dev_tensor_ptr). Attributes come from en->node (hcg_attr_int, ...); en->g is the bound
 * graph. A kernel returns an hcg_status and reports bad data (an index out of range, an integer
 * division by zero) through hcg_node_error, never by crashing. */
typedef hcg_status (*hcg_cpu_kernel)(hcg_exec_node *en);

/* The table, indexed by op (backend/cpu/cpu_kernels.c). NULL: the CPU cannot run the op. */
extern const hcg_cpu_kernel hcg_cpu_kernels[HCG_OP_COUNT];

/* Runs fn over [0, n) split into chunks of at least grain items on the pool's threads (the
 * caller's thread takes part). Small n runs inline. fn must be safe to call concurrently. */
typedef void (*hcg_range_fn)(void *ctx, int64_t begin, int64_t end);
void hcg_parallel_for(int64_t n, int64_t grain, hcg_range_fn fn, void *ctx);
/* Threads in the pool (including the caller): $HCG_CPU_THREADS, else the number of cores. */
int hcg_cpu_threads(void);
/* Stops the pool's threads (the cpu device's destroy, at hcg_shutdown); the next parallel loop
 * starts them again. */
void hcg_cpu_pool_stop(void);
/* The calling thread's scratch buffer of at least bytes (64-byte aligned), valid until its next
 * call on this thread; NULL when out of memory. */
void *hcg_cpu_scratch(size_t bytes);

/* C[m, n] = alpha * op(A) @ op(B) + beta * C, row-major with leading dims, as the matmul kernels
 * compute it (oneDNN, else OpenBLAS, else a loop). parallel: over the pool (from a thread outside
 * a parallel loop); else on the calling thread alone (inside a parallel loop's chunk). */
void hcg_cpu_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                   const float *b, int64_t ldb, float beta, float *c, int64_t ldc, bool parallel);

/* f16 <-> f32 conversion is graph/half.h's. */

/* Evaluates bound node n (every input has a value, or the op needs only shapes) on host
 * tensors; *out is a new tensor. */
hcg_status hcg_cpu_eval(const hcg_graph *g, const hcg_node *n, hcg_tensor **out);

/* Registers the CPU device. */
hcg_status hcg_cpu_register(void);

#endif
