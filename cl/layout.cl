/* layout.cl - data movement by element size, for every dtype: a strided copy (transpose, slice,
 * split, expand, concat, gemm's bias broadcast, view copies) and gather. OpenCL C 1.2, no
 * extensions.
 *
 * copy_<size>: out[offset_0(x, y, z)] = in[offset_1(x, y, z)] over an nd_t index space - the
 * collapsed description binary.cl uses (its innermost three dims; the host loops any others),
 * with operand 0 the output and 1 the input; strides may be 0 (broadcast) or negative (a slice
 * with a negative step: the host folds the start into in_off).
 *
 * transpose_<size>: the same copy when it transposes: the output's innermost dim (x) is read with a
 * stride and dim y is the input's contiguous one. A work-group moves one TILE x TILE tile
 * through local memory: it reads the tile along the input's rows, then writes it
 * along the output's, so both sides go through memory in order (a plain strided copy reads one
 * element per input row and walks the whole input between neighbouring outputs).
 *
 * gather_<size>_<index dtype>: data seen as [outer, axis_dim, inner], out as [outer, n_idx, inner];
 * NDRange dimension 0 runs over inner, 1 over the indices, 2 over outer. Negative indices count
 * from the end once; an index still out of range writes zeros and records tag, the position and
 * the index in err[0..3] (the first failing node of a segment wins); the host reads err after the
 * segment and reports it.
 *
 * As in binary.cl, 64-bit offsets and the dimension-2 term go into the pointers first and the rest
 * is indexed with 32-bit ints, which keeps accesses contiguous for vectorising implementations. */

typedef struct nd_t {
    int X, Y, Z;
    int sx[4], sy[4], sz[4];
} nd_t;

#define COPY(NAME, T)                                                                              \
    __kernel void NAME(const nd_t s, __global T *out, ulong out_off, __global const T *in,         \
                       ulong in_off)                                                               \
    {                                                                                              \
        int x = get_global_id(0), y = get_global_id(1), z = get_global_id(2);                      \
        out += (long)out_off + (long)z * s.sz[0];                                                  \
        in += (long)in_off + (long)z * s.sz[1];                                                    \
        if (x >= s.X || y >= s.Y) return;                                                          \
        out[x * s.sx[0] + y * s.sy[0]] = in[x * s.sx[1] + y * s.sy[1]];                            \
    }

COPY(copy_1, uchar)
COPY(copy_2, ushort)
COPY(copy_4, uint)
COPY(copy_8, ulong)

/* A tile is TILE x TILE elements moved by TILE_ITEMS x TILE_ITEMS items (each item moves
 * (TILE / TILE_ITEMS)^2 of them): large tiles keep the per-group cost of CPU implementations small. */
#ifndef TILE
#define TILE 64
#endif
#define TILE_ITEMS 16

#define TRANSPOSE(NAME, T)                                                                         \
    __kernel __attribute__((reqd_work_group_size(TILE_ITEMS, TILE_ITEMS, 1))) void NAME(           \
        const nd_t s, __global T *out, ulong out_off, __global const T *in, ulong in_off)          \
    {                                                                                              \
        __local T tile[TILE][TILE + 1];                                                            \
        int x0 = get_group_id(0) * TILE, y0 = get_group_id(1) * TILE, z = get_global_id(2);        \
        int lx = get_local_id(0), ly = get_local_id(1);                                            \
        out += (long)out_off + (long)z * s.sz[0];                                                  \
        in += (long)in_off + (long)z * s.sz[1];                                                    \
        /* item (lx, ly) reads x = x0 + i, y = y0 + j: neighbours in lx read neighbours in y */    \
        for (int i = ly; i < TILE; i += TILE_ITEMS)                                                \
            for (int j = lx; j < TILE; j += TILE_ITEMS)                                            \
                if (x0 + i < s.X && y0 + j < s.Y) tile[i][j] = in[(x0 + i) * s.sx[1] + (y0 + j) * s.sy[1]]; \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
        /* and writes x = x0 + j, y = y0 + i: neighbours in lx write neighbours in x */            \
        for (int i = ly; i < TILE; i += TILE_ITEMS)                                                \
            for (int j = lx; j < TILE; j += TILE_ITEMS)                                            \
                if (x0 + j < s.X && y0 + i < s.Y) out[(x0 + j) * s.sx[0] + (y0 + i) * s.sy[0]] = tile[j][i]; \
    }

TRANSPOSE(transpose_1, uchar)
TRANSPOSE(transpose_2, ushort)
TRANSPOSE(transpose_4, uint)
TRANSPOSE(transpose_8, ulong)

#define GATHER(NAME, T, TI)                                                                        \
    __kernel void NAME(int n_idx, int inner, int axis_dim, __global T *out, ulong out_off,         \
                       __global const T *data, ulong data_off, __global const TI *idx,             \
                       ulong idx_off, __global int *err, int tag)                                  \
    {                                                                                              \
        int x = get_global_id(0), y = get_global_id(1), z = get_global_id(2);                      \
        out += (long)out_off + (long)z * n_idx * inner;                                            \
        data += (long)data_off + (long)z * axis_dim * inner;                                       \
        if (x >= inner || y >= n_idx) return;                                                      \
        long v = idx[idx_off + y];                                                                 \
        long w = v < 0 ? v + axis_dim : v;                                                         \
        T val = 0;                                                                                 \
        if (w < 0 || w >= axis_dim) report(err, tag, y, v);                                        \
        else val = data[(int)w * inner + x];                                                       \
        out[y * inner + x] = val;                                                                  \
    }

#define GATHER_SIZES(TI, SUF)                                                                      \
    GATHER(gather_1_##SUF, uchar, TI)                                                              \
    GATHER(gather_2_##SUF, ushort, TI)                                                             \
    GATHER(gather_4_##SUF, uint, TI)                                                               \
    GATHER(gather_8_##SUF, ulong, TI)

GATHER_SIZES(int, i32)
GATHER_SIZES(long, i64)
