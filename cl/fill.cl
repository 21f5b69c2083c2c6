/* fill.cl - generators and masks: fill (constant_of_shape; also zeroing), trilu and causal_mask.
 * OpenCL C 1.2, no extensions.
 *
 * fill_<size>(n, out, out_off, bits): every element becomes the low <size> bytes of bits (the host
 * converts the value to the output dtype, as the CPU does). trilu_<size> and causal_mask_f32 see
 * the tensor as [batch, rows, cols]: NDRange dimension 0 runs over columns, 1 over rows, 2 over
 * the batch. trilu keeps column j of row i where j - i >= k (upper) or j - i <= k (lower) and
 * zeroes the rest; causal_mask writes value where j > i + (cols - rows) (a causal mask that also
 * fits a KV cache) and copies the rest. Both may run in place (out == in). */

#define FILL(NAME, T)                                                                              \
    __kernel void NAME(int n, __global T *out, ulong out_off, ulong bits)                          \
    {                                                                                              \
        int i = get_global_id(0);                                                                  \
        out += out_off;                                                                            \
        if (i < n) out[i] = (T)bits;                                                               \
    }

FILL(fill_1, uchar)
FILL(fill_2, ushort)
FILL(fill_4, uint)
FILL(fill_8, ulong)

#define TRILU(NAME, T)                                                                             \
    __kernel void NAME(int rows, int cols, long k, int upper, __global T *out, ulong out_off,      \
                       __global const T *in, ulong in_off)                                         \
    {                                                                                              \
        int j = get_global_id(0), i = get_global_id(1), b = get_global_id(2);                      \
        out += (long)out_off + (long)b * rows * cols;                                              \
        in += (long)in_off + (long)b * rows * cols;                                                \
        if (j >= cols || i >= rows) return;                                                        \
        long diag = (long)j - (long)i;                                                             \
        bool keep = upper ? diag >= k : diag <= k;                                                 \
        out[i * cols + j] = keep ? in[i * cols + j] : (T)0;                                        \
    }

TRILU(trilu_1, uchar)
TRILU(trilu_2, ushort)
TRILU(trilu_4, uint)
TRILU(trilu_8, ulong)

__kernel void causal_mask_f32(int rows, int cols, float value, __global float *out, ulong out_off,
                              __global const float *in, ulong in_off)
{
    int j = get_global_id(0), i = get_global_id(1), b = get_global_id(2);
    out += (long)out_off + (long)b * rows * cols;
    in += (long)in_off + (long)b * rows * cols;
    if (j >= cols || i >= rows) return;
    out[i * cols + j] = j > i + (cols - rows) ? value : in[i * cols + j];
}
