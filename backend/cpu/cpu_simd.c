/* cpu_simd.c — picks the vectorised loop table (cpu_simd.h) for the processor, once. */
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "backend/cpu/cpu_simd.h"
#include "graph/compiler.h"

static const hcg_simd_fns *pick(void)
{
    const char *want = getenv("HCG_SIMD");
#if defined(__x86_64__) || defined(__i386__)
    bool avx2 = HCG_CPU_HAS("avx2") && HCG_CPU_HAS("fma") && HCG_CPU_HAS("f16c");
    bool avx512 = avx2 && HCG_CPU_HAS("avx512f") && HCG_CPU_HAS("avx512dq") && HCG_CPU_HAS("avx512vl") &&
                  HCG_CPU_HAS("avx512bw");
#else
    bool avx512 = false, avx2 = false;
#endif
    if (want && strcmp(want, "baseline") == 0) return &hcg_simd_baseline;
    if (want && strcmp(want, "avx2") == 0) return avx2 ? &hcg_simd_avx2 : &hcg_simd_baseline;
    if (avx512) return &hcg_simd_avx512;
    if (avx2) return &hcg_simd_avx2;
    return &hcg_simd_baseline;
}

const hcg_simd_fns *hcg_simd(void)
{
    static const hcg_simd_fns *_Atomic chosen;
    const hcg_simd_fns *f = chosen;
    if (!f) chosen = f = pick();
    return f;
}
