/* fused.cl - the fused ops the rewrite passes make (graph/passes.h). OpenCL C 1.2.
 *
 * epilogue_f32: fused_matmul's epilogue on the product CLBlast wrote: c = act(c + bias) over
 * [rows, cols] (one work-item per element; has_bias 0 or 1; act 0 none, 1 gelu, 2 gelu_tanh,
 * 3 relu), the same formulas as cl/unary.cl.
 * attention_f32: softmax(scale * q . k + mask) @ v with one work-item per (query row, batch and
 * head), streaming the keys in blocks of VEC with an online softmax (running maximum, rescaled sum
 * and context), so no score matrix and no expanded mask exist; rows are read VEC floats at a time
 * (explicit vectors: a CPU implementation runs a work-item's loops as scalar code otherwise). Operands are read through element strides (batch,
 * head, row), which covers both layouts, bhsd and bshd; the mask through broadcast strides. */

float f_erf(float x) /* Abramowitz & Stegun 7.1.28 (as cl/unary.cl's gelu) */
{
    float t = fabs(x);
    float p = 1.0f + t * (0.0705230784f + t * (0.0422820123f + t * (0.0092705272f +
              t * (0.0001520143f + t * (0.0002765672f + t * 0.0000430638f)))));
    p = p * p;
    p = p * p;
    p = p * p;
    p = p * p;
    float r = 1.0f - 1.0f / p;
    return x < 0 ? -r : r;
}

float f_act(float x, int act)
{
    if (act == 1) return 0.5f * x * (1.0f + f_erf(x * 0.70710678118654752f));
    if (act == 2) {
        float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
        return x / (1.0f + exp(-2.0f * u));
    }
    if (act == 3) return x > 0 ? x : (isnan(x) ? x : 0.0f);
    return x;
}

__kernel void epilogue_f32(int rows, int cols, int has_bias, int act, __global float *c, ulong c_off,
                           __global const float *bias, ulong b_off)
{
    long i = get_global_id(0);
    if (i >= (long)rows * cols) return;
    float x = c[c_off + i];
    if (has_bias) x += bias[b_off + i % cols];
    c[c_off + i] = f_act(x, act);
}

#define MAX_DV 128

#ifndef VEC
#define VEC 4
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if VEC == 1
#define VF float
#define VLOAD(p) (*(p))
#define VSTORE(v, p) (*(p) = (v))
#else
#define VF CAT(float, VEC)
#define VLOAD(p) CAT(vload, VEC)(0, p)
#define VSTORE(v, p) CAT(vstore, VEC)(v, 0, p)
#endif
#define MAXNAN(a, v) select(a, v, isgreater(v, a) | isnan(v))

/* The lanes of v folded with + or MAXNAN (NaN wins). */
float lanes_add(VF v)
{
    float t[VEC], r = 0.0f;
    VSTORE(v, t);
    for (int i = 0; i < VEC; i++) r += t[i];
    return r;
}

float lanes_max(VF v)
{
    float t[VEC], r = -INFINITY;
    VSTORE(v, t);
    for (int i = 0; i < VEC; i++) r = MAXNAN(r, t[i]);
    return r;
}

/* a . b over n floats, VEC at a time. */
float dot_row(__global const float *a, __global const float *b, int n)
{
    VF acc = 0.0f;
    int t = 0;
    for (; t + VEC <= n; t += VEC) acc += VLOAD(a + t) * VLOAD(b + t);
    float r = lanes_add(acc);
    for (; t < n; t++) r += a[t] * b[t];
    return r;
}

/* The keys go by in blocks of VEC: a block's scores are one vector, so its maximum, its
 * exponentials and its sum are vector operations, and the context is updated VEC values of v at
 * a time; a block that raises the row's maximum rescales the sum and the context once. */
__kernel void attention_f32(__global float *o, ulong o_off, __global const float *q, ulong q_off,
                            __global const float *k, ulong k_off, __global const float *v, ulong v_off,
                            __global const float *mask, ulong m_off, int has_mask, int heads, int nbh, int sq,
                            int sk, int d, int dv, long q_b, long q_h, long q_s, long k_b, long k_h, long k_s,
                            long v_b, long v_h, long v_s, long o_b, long o_h, long o_s, long m_b, long m_h,
                            long m_q, long m_k, float scale)
{
    int i = get_global_id(0), bh = get_global_id(1);
    if (i >= sq || bh >= nbh) return;
    long b = bh / heads, h = bh % heads;
    __global const float *qi = q + q_off + b * q_b + h * q_h + i * q_s;
    __global const float *kb = k + k_off + b * k_b + h * k_h;
    __global const float *vb = v + v_off + b * v_b + h * v_h;
    __global const float *mi = mask + m_off + b * m_b + h * m_h + i * m_q;
    float acc[MAX_DV], sc[VEC];
    int dv_vec = dv / VEC * VEC;
    for (int e = 0; e < dv; e++) acc[e] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int j0 = 0; j0 < sk; j0 += VEC) {
        int n = sk - j0 < VEC ? sk - j0 : VEC;
        for (int jj = 0; jj < VEC; jj++) {
            float s = -INFINITY;
            if (jj < n) {
                s = dot_row(qi, kb + (j0 + jj) * k_s, d) * scale;
                if (has_mask) s += mi[(j0 + jj) * m_k];
            }
            sc[jj] = s;
        }
        VF sv = VLOAD(sc);
        float mn = MAXNAN(m, lanes_max(sv));
        if (mn == -INFINITY) continue; /* every key so far masked out */
        float corr = exp(m - mn);
        VF p = exp(sv - mn); /* the block's keys past sk give exp(-inf) = 0 */
        l = l * corr + lanes_add(p);
        VSTORE(p, sc);
        for (int e = 0; e < dv_vec; e += VEC) {
            VF a = VLOAD(acc + e) * corr;
            for (int jj = 0; jj < n; jj++) a += sc[jj] * VLOAD(vb + (j0 + jj) * v_s + e);
            VSTORE(a, acc + e);
        }
        for (int e = dv_vec; e < dv; e++) {
            float a = acc[e] * corr;
            for (int jj = 0; jj < n; jj++) a += sc[jj] * vb[(j0 + jj) * v_s + e];
            acc[e] = a;
        }
        m = mn;
    }
    __global float *oi = o + o_off + b * o_b + h * o_h + i * o_s;
    float inv = 1.0f / l;
    for (int e = 0; e < dv; e++) oi[e] = acc[e] * inv;
}
