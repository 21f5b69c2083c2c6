#!/usr/bin/env python3
"""Writes the .npy and .safetensors files tests/test_npy.c, tests/test_safetensors.c and
tests/test_text_format.c read: good files made by numpy and by the `safetensors` package (the
independent references), and bad files made byte by byte. The outputs are committed; rerun
this script (python3 tests/data/formats/make_format_files.py) only to change them.

The values are simple formulas the C tests recompute, e.g. f32_2x3 = arange(6) * 0.5 - 1.25.
"""
import io
import json
import os
import struct

import numpy as np
import numpy.lib.format as npf
import safetensors.numpy as stnp

HERE = os.path.dirname(os.path.abspath(__file__))
NPY = os.path.join(HERE, "npy")
ST = os.path.join(HERE, "safetensors")
TEXT = os.path.join(HERE, "text")


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def npy_bytes(a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a)
    else:
        npf.write_array(b, a, version=version)
    return b.getvalue()


def npy_with_header(header, data=b"", major=1):
    """A .npy file with a hand-written header dict (padded like numpy pads it)."""
    h = header.encode("latin1")
    pre = 10 if major == 1 else 12
    pad = (-(pre + len(h) + 1)) % 64
    h = h + b" " * pad + b"\n"
    ln = struct.pack("<H", len(h)) if major == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([major, 0]) + ln + h + data


def make_npy():
    os.makedirs(NPY, exist_ok=True)
    good = {
        "f32_2x3": np.arange(6, dtype=np.float32).reshape(2, 3) * np.float32(0.5) - np.float32(1.25),
        "f16_5": np.array([0.0, 1.0, -2.5, 65504.0, 2.0 ** -14], dtype=np.float16),
        "i32_3x1x2": (np.arange(6, dtype=np.int32) - 3).reshape(3, 1, 2),
        "i64_4": np.array([-(2 ** 62), -1, 0, 2 ** 62 + 3], dtype=np.int64),
        "u8_2x2": np.array([[0, 1], [254, 255]], dtype=np.uint8),
        "bool_3": np.array([True, False, True]),
        "scalar_f32": np.array(3.5, dtype=np.float32),
        "empty_0x3_f32": np.zeros((0, 3), dtype=np.float32),
    }
    for name, a in good.items():
        write(os.path.join(NPY, name + ".npy"), npy_bytes(a))
    write(os.path.join(NPY, "v2_f32_4.npy"), npy_bytes(np.arange(4, dtype=np.float32), version=(2, 0)))
    write(os.path.join(NPY, "v3_i32_3.npy"), npy_bytes(np.arange(3, dtype=np.int32) * 7, version=(3, 0)))

    f32 = npy_bytes(good["f32_2x3"])
    bad = {
        "bad_magic": b"\x93NUMPX" + f32[6:],
        "truncated_preamble": f32[:7],
        "truncated_header": f32[:40],
        "header_past_end": f32[:8] + struct.pack("<H", 5000) + f32[10:],
        "truncated_data": f32[:-4],
        "trailing_data": f32 + b"\0\0\0\0",
        "fortran": npy_bytes(np.asfortranarray(good["f32_2x3"])),
        "big_endian": npy_bytes(good["f32_2x3"].astype(">f4")),
        "f64": npy_bytes(np.zeros(2, dtype=np.float64)),
        "overflow_shape": npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"),
        "huge_dim": npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, ), }"),
        "garbage_dict": npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), garbage }", f32[128:]),
        "missing_key": npy_with_header("{'descr': '<f4', 'shape': (2, 3), }", f32[128:]),
        "extra_key": npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", f32[128:]),
        "not_tuple": npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", f32[128:]),
        "negative_dim": npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 6), }", f32[128:]),
        "bad_bool": npy_with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", b"\x01\x02\x00"),
        "version_4": b"\x93NUMPY\x04\x00" + f32[8:],
        "structured": npy_bytes(np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")])),
    }
    for name, data in bad.items():
        write(os.path.join(NPY, "bad_" + name + ".npy"), data)


def st_file(header, data=b"", header_len=None, pad=True):
    """A safetensors file from a header (dict or raw string) and data bytes."""
    h = (json.dumps(header, separators=(",", ":")) if not isinstance(header, str) else header).encode()
    if pad:
        h += b" " * ((-len(h)) % 8)
    n = len(h) if header_len is None else header_len
    return struct.pack("<Q", n) + h + data


def good_tensors():
    return {
        "w_f32": (np.arange(6, dtype=np.float32).reshape(2, 3) * np.float32(0.25)),
        "h_f16": np.array([1.0, -0.5, 65504.0, 0.0], dtype=np.float16),
        "idx_i32": np.array([7, -8, 9], dtype=np.int32),
        "big_i64": np.array([2 ** 40 + 1, -5], dtype=np.int64),
        "bytes_u8": np.array([0, 128, 255, 1, 2], dtype=np.uint8),
        "mask_bool": np.array([True, False, True]),
        "scalar": np.array(-2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def make_safetensors():
    os.makedirs(ST, exist_ok=True)
    stnp.save_file(good_tensors(), os.path.join(ST, "good.safetensors"), metadata={"format": "np", "note": "hcg test"})
    # The same tensors without metadata: hcg_st_save must write exactly these bytes.
    stnp.save_file(good_tensors(), os.path.join(ST, "good_nometa.safetensors"))
    stnp.save_file({"d": np.zeros(2, dtype=np.float64)}, os.path.join(ST, "bad_f64.safetensors"))

    good = open(os.path.join(ST, "good.safetensors"), "rb").read()
    f2 = struct.pack("<2f", 1.0, 2.0)
    t = {"dtype": "F32", "shape": [2]}
    bad = {
        "truncated": good[:-10],
        "short": good[:5],
        "header_too_long": st_file({"a": dict(t, data_offsets=[0, 8])}, f2, header_len=10 ** 6),
        "offsets_out_of_range": st_file({"a": dict(t, data_offsets=[4, 12])}, f2),
        "begin_after_end": st_file({"a": dict(t, data_offsets=[8, 0])}, f2),
        "size_mismatch": st_file({"a": dict(t, data_offsets=[0, 4])}, f2),
        "overlap": st_file({"a": dict(t, data_offsets=[0, 8]), "b": dict(t, data_offsets=[4, 12])}, f2 + f2),
        "bad_json": st_file('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]', f2),
        "not_object": st_file("[1, 2]", f2),
        "trailing_garbage": st_file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} xx', f2),
        "bf16": st_file({"a": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}, f2),
        "dup_name": st_file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                            '"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', f2 + f2),
        "huge_shape": st_file({"a": {"dtype": "F32", "shape": [2 ** 40, 2 ** 40], "data_offsets": [0, 8]}}, f2),
        "fraction_dim": st_file({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 8]}}, f2),
        "missing_offsets": st_file({"a": {"dtype": "F32", "shape": [2]}}, f2),
        "bad_bool": st_file({"m": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]}}, b"\x01\x02\x00"),
        "nul_in_header": st_file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}\0', f2, pad=True),
    }
    for name, data in bad.items():
        write(os.path.join(ST, "bad_" + name + ".safetensors"), data)
    # Valid but unaligned: a one-byte tensor first puts the f32 tensor at an odd address.
    write(os.path.join(ST, "misaligned.safetensors"),
          st_file({"u": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                   "f": {"dtype": "F32", "shape": [2], "data_offsets": [1, 9]}}, b"\x07" + struct.pack("<2f", 1.5, -3.0)))


def make_text_weights():
    """Weights for the .hcg reader tests: w1 = arange(32).reshape(4, 8) / 8, b1 = -arange(8),
    emb (i64 ids), and a truncated copy."""
    os.makedirs(TEXT, exist_ok=True)
    tensors = {
        "w1": np.arange(32, dtype=np.float32).reshape(4, 8) / np.float32(8),
        "b1": -np.arange(8, dtype=np.float32),
        "enc.layer0.scale": np.full(8, 2.0, dtype=np.float32),
        "ids": np.array([3, 1, 2], dtype=np.int64),
        "table": np.arange(300, dtype=np.float32) * np.float32(0.5),
    }
    stnp.save_file(tensors, os.path.join(TEXT, "weights.safetensors"))
    stnp.save_file({"w2": np.ones((8, 2), dtype=np.float16)}, os.path.join(TEXT, "other.safetensors"))
    good = open(os.path.join(TEXT, "weights.safetensors"), "rb").read()
    write(os.path.join(TEXT, "truncated.safetensors"), good[:-100])


if __name__ == "__main__":
    make_npy()
    make_safetensors()
    make_text_weights()
    for d in (NPY, ST, TEXT):  # the safetensors package writes 0600 files
        for name in os.listdir(d):
            os.chmod(os.path.join(d, name), 0o644)
