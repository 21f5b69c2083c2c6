/* compiler.h — the one place that uses compiler-specific extensions, behind portable macros. */
#ifndef HCG_COMPILER_H
#define HCG_COMPILER_H

#if defined(__GNUC__) || defined(__clang__)
#define HCG_PRINTF(fmt_index, args_index) __attribute__((format(printf, fmt_index, args_index)))
/* Whether the running processor has an instruction set ("avx512f", "avx2", "fma"). */
#define HCG_CPU_HAS(isa) __builtin_cpu_supports(isa)
#define HCG_UNUSED __attribute__((unused))
#define HCG_LIKELY(x) __builtin_expect(!!(x), 1)
#define HCG_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* Vector types (GCC / Clang vector extension): name is a vector of `bytes` bytes of elem, with
 * element-wise arithmetic and comparisons (integer masks). HCG_VEC_CONVERT converts a vector to
 * another element type of the same lane count. */
#define HCG_HAVE_VECTOR_EXT 1
#define HCG_VECTOR_TYPE(name, elem, bytes) typedef elem name __attribute__((vector_size(bytes)))
#define HCG_VEC_CONVERT(v, type) __builtin_convertvector(v, type)
#if defined(__x86_64__) || defined(__i386__)
/* Inside a spin-wait loop: tells the core (and its sibling hyperthread) that this thread waits. */
#define HCG_CPU_RELAX() __builtin_ia32_pause()
#else
#define HCG_CPU_RELAX() ((void)0)
#endif
#else
#define HCG_CPU_RELAX() ((void)0)
#define HCG_HAVE_VECTOR_EXT 0
#define HCG_PRINTF(fmt_index, args_index)
#define HCG_CPU_HAS(isa) 0
#define HCG_UNUSED
#define HCG_LIKELY(x) (x)
#define HCG_UNLIKELY(x) (x)
#endif

/* Under AddressSanitizer: LeakSanitizer's check, run now (once per process; the one at exit is
 * then skipped). The MPI layer runs it before MPI_Finalize, whose unloaded plugins leave
 * allocations LeakSanitizer can no longer attribute. Elsewhere: nothing. */
#if defined(__SANITIZE_ADDRESS__)
#define HCG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HCG_ASAN 1
#endif
#endif
#ifdef HCG_ASAN
#include <sanitizer/lsan_interface.h>
#define HCG_LEAK_CHECK_NOW() __lsan_do_leak_check()
#else
#define HCG_LEAK_CHECK_NOW() ((void)0)
#endif

/* Checked size arithmetic for untrusted sizes: return false on overflow. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
static inline bool hcg_mul_overflow_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return true;
    *out = a * b;
    return false;
}
static inline bool hcg_mul_overflow_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0) return true;
    if (a != 0 && b > INT64_MAX / a) return true;
    *out = a * b;
    return false;
}

#endif
