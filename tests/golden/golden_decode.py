"""golden_decode.py — the golden cases of the decoding ops, which update a key/value cache (a
state tensor) in place: kv_attention and cache_write. make_golden.py calls add_cases() with its
case writers. References from numpy in float64: the cache after the write (the expected final
state) and the attention over positions 0 .. pos + t for query t. The caches start full of random
values, so a kernel that reads a position it should not (beyond pos + t) or writes outside pos ..
pos + T - 1 fails. A random generator of its own keeps these cases from moving the others' data."""
import numpy as np

rng = np.random.default_rng(20261130)


def normal(*shape):
    return rng.standard_normal(size=shape).astype(np.float32)


def kv_ref(q, k, v, kc, vc, pos, scale):
    """(out [B, T, H, Dv], k cache after, v cache after)"""
    b, t, h, d = q.shape
    kc2, vc2 = kc.copy(), vc.copy()
    kc2[:, :, pos:pos + t, :] = np.transpose(k, (0, 2, 1, 3))
    vc2[:, :, pos:pos + t, :] = np.transpose(v, (0, 2, 1, 3))
    out = np.zeros((b, t, h, v.shape[3]), np.float64)
    for i in range(t):
        keys = kc2[:, :, :pos + i + 1, :].astype(np.float64)  # [B, H, n, D]
        s = scale * np.einsum("bhd,bhnd->bhn", q[:, i].astype(np.float64), keys)
        s -= s.max(axis=-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=-1, keepdims=True)
        out[:, i] = np.einsum("bhn,bhnd->bhd", p, vc2[:, :, :pos + i + 1, :].astype(np.float64))
    return out.astype(np.float32), kc2, vc2


def add_cases(case, state_case, error_case):
    def kv_case(tag, b, t, h, d, positions, pos, dv=None, scale=0.5):
        dv = dv or d
        q, k, v = normal(b, t, h, d), normal(b, t, h, d), normal(b, t, h, dv)
        kc, vc = normal(b, h, positions, d), normal(b, h, positions, dv)
        p = np.array(pos, np.int64)
        out, kc2, vc2 = kv_ref(q, k, v, kc, vc, pos, scale)
        state_case(f"kv_attention_{tag}", "kv_attention", [q, k, v, kc, vc, p], [3, 4], out, [kc2, vc2],
                   attrs={"scale": scale}, atol=2e-6)

    kv_case("decode", 2, 1, 3, 4, 10, 6)
    kv_case("prefill", 2, 5, 2, 4, 8, 0)
    kv_case("chunk", 1, 4, 2, 8, 9, 3, scale=0.35)
    kv_case("dv_differs", 2, 3, 2, 4, 7, 2, dv=6)
    kv_case("two_row_blocks", 1, 40, 2, 8, 200, 130, scale=0.3)  # > 32 rows, > 128 keys
    kv_case("fills_cache", 1, 3, 1, 4, 6, 3)
    kv_case("first_token", 3, 1, 2, 16, 5, 0)

    q, k, v = normal(1, 2, 2, 4), normal(1, 2, 2, 4), normal(1, 2, 2, 4)
    kc, vc = normal(1, 2, 6, 4), normal(1, 2, 6, 4)
    fits = "does not fit the cache's 6 positions"
    state_case("err_kv_attention_past_end", "kv_attention", [q, k, v, kc, vc, np.array(5, np.int64)], [3, 4],
               error=fits)
    state_case("err_kv_attention_negative", "kv_attention", [q, k, v, kc, vc, np.array(-1, np.int64)], [3, 4],
               error=fits)
    error_case("err_kv_attention_not_state", "kv_attention", [q, k, v, kc, vc, np.array(0, np.int64)],
               "must be a state tensor", status="invalid graph")
    state_case("err_kv_attention_heads", "kv_attention", [q, k, v, normal(1, 3, 6, 4), vc, np.array(0, np.int64)],
               [3, 4], error="do not fit", status="shape error")
    state_case("err_kv_attention_pos_dtype", "kv_attention", [q, k, v, kc, vc, np.array(0, np.int32)], [3, 4],
               error="must be one i64 value", status="shape error")

    def cw_case(tag, cache_shape, t, axis, pos):
        cache = normal(*cache_shape)
        shape = list(cache_shape)
        shape[axis] = t
        vals = normal(*shape)
        after = cache.copy()
        idx = [slice(None)] * len(shape)
        idx[axis] = slice(pos, pos + t)
        after[tuple(idx)] = vals
        state_case(f"cache_write_{tag}", "cache_write", [cache, vals, np.array(pos, np.int64)], [0],
                   np.array(0, np.float32), [after], attrs={"axis": axis})

    cw_case("bhsd", (2, 3, 9, 4), 3, 2, 2)
    cw_case("one", (1, 2, 5, 8), 1, 2, 4)
    cw_case("axis0", (7, 5), 2, 0, 5)
    cw_case("all", (2, 4, 3), 4, 1, 0)
    cache, vals = normal(2, 3, 5, 4), normal(2, 3, 2, 4)
    state_case("err_cache_write_past_end", "cache_write", [cache, vals, np.array(4, np.int64)], [0],
               error="does not fit the cache's 5 positions", attrs={"axis": 2})
    state_case("err_cache_write_dims", "cache_write", [cache, normal(2, 2, 2, 4), np.array(0, np.int64)], [0],
               error="do not fit the cache", status="shape error", attrs={"axis": 2})
    error_case("err_cache_write_not_state", "cache_write", [cache, vals, np.array(0, np.int64)],
               "must be a state tensor", attrs={"axis": 2}, status="invalid graph")
