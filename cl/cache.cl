/* cache.cl — the decoding ops on OpenCL devices: key/value caches (state tensors) written in
 * place at a position read from device memory (the i64 `pos` input, so a plan serves every step).
 * OpenCL C 1.2.
 *
 * cache_write_f32: values [outer, t, inner] into cache [outer, positions, inner] at pos along the
 * middle axis; one work-item per value.
 * kv_store_f32: rows of [B, T, H, w] into a cache [B, H, P, w] at pos (kv_attention's write); one
 * work-item per element.
 * kv_attention_f32: one work-item per (query row t, batch and head): softmax(scale * q . k) v over
 * cache positions 0 .. pos + t with an online softmax (running maximum, rescaled sum and context),
 * as attention_f32 in fused.cl does over all keys.
 * A position that does not fit the cache records tag, t and pos in err[0..3] (see layout.cl's
 * gather) and writes nothing. */

__kernel void cache_write_f32(int outer, int t, int inner, int positions, __global float *cache, ulong c_off,
                              __global const float *v, ulong v_off, __global const long *pos, ulong p_off,
                              __global float *out, ulong o_off, __global int *err, int tag)
{
    long i = get_global_id(0);
    long p = pos[p_off];
    if (i == 0) {
        out[o_off] = 0.0f;
        if (p < 0 || p > positions - t) report(err, tag, t, p);
    }
    if (i >= (long)outer * t * inner || p < 0 || p > positions - t) return;
    long o = i / ((long)t * inner), j = i % ((long)t * inner);
    cache[c_off + (o * positions + p) * inner + j] = v[v_off + i];
}

__kernel void kv_store_f32(int batch, int t, int heads, int width, int positions, __global float *cache,
                           ulong c_off, __global const float *src, ulong s_off, __global const long *pos, ulong p_off,
                           __global int *err, int tag)
{
    long i = get_global_id(0);
    long p = pos[p_off];
    if (i == 0 && (p < 0 || p > positions - t)) report(err, tag, t, p);
    if (i >= (long)batch * t * heads * width || p < 0 || p > positions - t) return;
    long e = i % width, r = i / width;
    long h = r % heads, bt = r / heads;
    long tt = bt % t, b = bt / t;
    cache[c_off + ((b * heads + h) * positions + p + tt) * width + e] = src[s_off + i];
}

#define MAX_DV 128

__kernel void kv_attention_f32(__global float *o, ulong o_off, __global const float *q, ulong q_off,
                               __global const float *kc, ulong k_off, __global const float *vc, ulong v_off,
                               __global const long *pos, ulong p_off, int heads, int nbh, int t, int d, int dv,
                               int positions, float scale)
{
    int i = get_global_id(0), bh = get_global_id(1);
    if (i >= t || bh >= nbh) return;
    long p = pos[p_off];
    if (p < 0 || p > positions - t) return; /* reported by kv_store_f32 */
    long b = bh / heads, h = bh % heads;
    __global const float *qi = q + q_off + ((b * t + i) * heads + h) * d;
    __global const float *kb = kc + k_off + (long)bh * positions * d;
    __global const float *vb = vc + v_off + (long)bh * positions * dv;
    float acc[MAX_DV];
    for (int e = 0; e < dv; e++) acc[e] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    long keys = p + i + 1;
    for (long j = 0; j < keys; j++) {
        __global const float *kj = kb + j * d;
        float s = 0.0f;
        for (int e = 0; e < d; e++) s += qi[e] * kj[e];
        s *= scale;
        float mn = isnan(s) ? s : fmax(m, s);
        if (mn == -INFINITY) continue; /* every key so far gave -inf */
        float corr = exp(m - mn), pr = exp(s - mn);
        l = l * corr + pr;
        __global const float *vj = vb + j * dv;
        for (int e = 0; e < dv; e++) acc[e] = acc[e] * corr + pr * vj[e];
        m = mn;
    }
    __global float *oi = o + o_off + ((b * t + i) * heads + h) * dv;
    float inv = 1.0f / l;
    for (int e = 0; e < dv; e++) oi[e] = acc[e] * inv;
}
