/* fused.cl - the fused ops the rewrite passes make (graph/passes.h). OpenCL C 1.2.
 *
 * epilogue_f32: fused_matmul's epilogue on the product CLBlast wrote: c = act(c + bias) over
 * [rows, cols] (one work-item per element; has_bias 0 or 1; act 0 none, 1 gelu, 2 gelu_tanh,
 * 3 relu), the same formulas as cl/unary.cl.
 * attention_f32: softmax(scale * q . k + mask) @ v with one work-item per (query row, batch and
 * head), streaming the keys with an online softmax (running maximum, rescaled sum and context), so
 * no score matrix and no expanded mask exist. Operands are read through element strides (batch,
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
    float acc[MAX_DV];
    for (int e = 0; e < dv; e++) acc[e] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int j = 0; j < sk; j++) {
        __global const float *kj = kb + j * k_s;
        float s = 0.0f;
        for (int t = 0; t < d; t++) s += qi[t] * kj[t];
        s *= scale;
        if (has_mask) s += mi[j * m_k];
        float mn = isnan(s) ? s : fmax(m, s);
        if (mn == -INFINITY) continue; /* every key so far masked out */
        float corr = exp(m - mn), p = exp(s - mn);
        l = l * corr + p;
        __global const float *vj = vb + j * v_s;
        for (int e = 0; e < dv; e++) acc[e] = acc[e] * corr + p * vj[e];
        m = mn;
    }
    __global float *oi = o + o_off + b * o_b + h * o_h + i * o_s;
    float inv = 1.0f / l;
    for (int e = 0; e < dv; e++) oi[e] = acc[e] * inv;
}
