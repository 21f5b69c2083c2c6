/* cpu_dnnl.h — how the CPU kernels call oneDNN (cpu_matmul.c, cpu_qgemm.c): its header when hcg is
 * built with it, DNNL_TILES where oneDNN can be held to the calling thread (hcg's pool then runs
 * the tiles of a product; see cpu_matmul.c for why), and the guard around each call that holds an
 * OpenMP oneDNN to one thread. Internal to backend/cpu/. */
#ifndef HCG_CPU_DNNL_H
#define HCG_CPU_DNNL_H

#ifdef HCG_HAVE_DNNL
#include <dnnl.h>
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#ifdef HCG_HAVE_OPENMP
#include <omp.h>
#define DNNL_TILES 1 /* oneDNN can be held to the calling thread: the pool runs its tiles */
#endif
#else
#define DNNL_TILES 1 /* a sequential or threadpool oneDNN: nothing to hold back */
#endif
#endif

/* Before a oneDNN call on a pool thread: its OpenMP team held to this thread; returns what to
 * restore. */
static inline int hcg_dnnl_single_begin(void)
{
#if defined(DNNL_TILES) && defined(HCG_HAVE_OPENMP)
    int saved = omp_get_max_threads();
    if (saved != 1) omp_set_num_threads(1);
    return saved;
#else
    return 1;
#endif
}

static inline void hcg_dnnl_single_end(int saved)
{
#if defined(DNNL_TILES) && defined(HCG_HAVE_OPENMP)
    if (saved != 1) omp_set_num_threads(saved);
#else
    (void)saved;
#endif
}

#endif
