/* cpu_simd.c — picks the vectorised loop table (cpu_simd.h) for the processor, once. */
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "backend/cpu/cpu_simd.h"
#include "graph/compiler.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

bool hcg_cpu_has_f16c(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    return HCG_CPU_HAS("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
#else
    return false;
#endif
}

bool hcg_cpu_has_avx_vnni(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    return HCG_CPU_HAS("avx2") && __get_cpuid_max(0, NULL) >= 7 && __get_cpuid_count(7, 1, &a, &b, &c, &d) &&
           (a & (1u << 4));
#else
    return false;
#endif
}

static const hcg_simd_fns *pick(void)
{
    const char *want = getenv("HCG_SIMD");
#if defined(__x86_64__) || defined(__i386__)
    bool avx2 = HCG_CPU_HAS("avx2") && HCG_CPU_HAS("fma") && hcg_cpu_has_f16c();
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
