/* cpu_simd.h — the CPU's vectorised inner loops, one table per instruction set: the same source
 * (backend/cpu/simd/cpu_simd_impl.c) is compiled for AVX-512, for AVX2 + FMA and for the
 * baseline, and hcg_simd() picks the best table the processor supports once, at run time.
 * The loops are plain C that the compiler vectorises (branch-free polynomial exp, erf and tanh
 * instead of libm calls), so each table is the same arithmetic at another vector width. */
#ifndef HCG_CPU_SIMD_H
#define HCG_CPU_SIMD_H

#include <stdbool.h>
#include <stdint.h>

typedef struct hcg_simd_fns {
    const char *isa; /* "avx512", "avx2", "baseline" */
    void (*exp)(const float *x, float *o, int64_t n);
    void (*erf)(const float *x, float *o, int64_t n);
    void (*tanh)(const float *x, float *o, int64_t n);
    void (*gelu)(const float *x, float *o, int64_t n);      /* x * Phi(x) (erf form) */
    void (*gelu_tanh)(const float *x, float *o, int64_t n); /* the tanh approximation */
    void (*sigmoid)(const float *x, float *o, int64_t n);
    /* Softmax of one contiguous row: the maximum and the sum in one pass (online rescaling), then
     * the output (log_out: log_softmax). The sum accumulates in double. */
    void (*softmax_row)(const float *x, float *o, int64_t n, int log_out);
    /* One row of layer_norm / rms_norm: the statistics in one pass (double sums), then the output.
     * scale and bias may be NULL. */
    void (*norm_row)(const float *x, float *o, int64_t n, float eps, int rms, const float *scale, const float *bias);
    /* The fused_matmul epilogue over rows of c (ld apart): c = act(c + bias) (bias may be NULL). */
    void (*epilogue)(float *c, int64_t rows, int64_t cols, int64_t ld, const float *bias, int act);
    /* The streaming attention's softmax step on one block of scores s [rows][n] (rows ld apart):
     * adds the mask (its element for row 0, key 0, with strides between rows and between keys, 0
     * broadcasting; NULL: none), updates each row's running maximum m and sum l, turns s into the
     * block's probabilities exp(s - m) and sets corr to the factor the row's context so far must
     * be scaled by. */
    void (*attn_softmax_block)(float *s, int64_t rows, int64_t n, int64_t ld, const float *mask, int64_t mask_ld,
                               int64_t mask_cs, float *m, float *l, float *corr);
    /* Weights stored small, widened for a product: IEEE half to float (F16C's vcvtph2ps where the
     * table's ISA has it, else the same exact conversion in integer steps), and int8 times a scale,
     * one for the run (scale) or one per element (scales). */
    void (*half_to_float)(const uint16_t *h, float *o, int64_t n);
    void (*dequant_i8)(const int8_t *q, float *o, int64_t n, float scale);
    void (*dequant_i8_each)(const int8_t *q, float *o, int64_t n, const float *scales);
    /* A few rows of a product whose b is an int8 matrix laid [k][n] (ldb apart), widened in
     * registers and never written out: c[r][0..w) = alpha * sum over p of a[r][p] * b[p][j] *
     * scales[(p / block) * scale_ld + j] for r < m (rows of a lda apart, of c ldc apart; block 0:
     * one row of scales for every p). */
    void (*small_rows)(const float *a, int64_t lda, int64_t m, const int8_t *b, int64_t ldb, int64_t k, int64_t w,
                       const float *scales, int64_t block, int64_t scale_ld, float alpha, float *c, int64_t ldc);
    /* Dynamic int8 activations (cpu_qgemm.c): a row to uint8 over its range [min(x, 0), max(x, 0)]
     * in 255 steps (*scale, *zero; an all-zero row gets scale 1), rounding half to even; and a row
     * of int32 sums, stored in c's floats' place, turned into floats in place:
     * c[j] = (sum[j] - zero * colsum[j]) * rscale * wscale[j]. */
    void (*quantize_row_u8)(const float *x, int64_t k, uint8_t *q, float *scale, int32_t *zero);
    void (*int32_to_f32_row)(float *c, int64_t n, int32_t zero, const int32_t *colsum, float rscale,
                             const float *wscale);
} hcg_simd_fns;

/* Processor features the compilers' __builtin_cpu_supports does not name everywhere (clang 14 knows
 * neither "f16c" nor "avxvnni"), read from CPUID: F16C (half <-> float conversions; with AVX's OS
 * support) and AVX-VNNI (the VEX form of the int8 dot products). */
bool hcg_cpu_has_f16c(void);
bool hcg_cpu_has_avx_vnni(void);

/* The table for this processor ($HCG_SIMD=avx512|avx2|baseline picks a lower one for tests). */
const hcg_simd_fns *hcg_simd(void);

extern const hcg_simd_fns hcg_simd_avx512, hcg_simd_avx2, hcg_simd_baseline;

#endif
