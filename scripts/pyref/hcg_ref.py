"""hcg_ref.py — what the scripts that make hcg's reference data and run its benchmarks share:
reading and writing safetensors files (the format hcg's weights and references use) with numpy.

Import it with:  sys.path.insert(0, os.path.join(<repository>, "scripts", "pyref")); import hcg_ref
"""
import json
import struct

import numpy as np

_DTYPES = {np.float32: "F32", np.int64: "I64", np.bool_: "BOOL"}
_NUMPY = {"F32": np.float32, "I64": np.int64, "BOOL": np.bool_}


def save_safetensors(path, tensors):
    """Writes {name: array} (float32, int64 or bool) with the names sorted and the header padded to
    a multiple of 8 bytes, as the safetensors package lays files out."""
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        b = a.tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype.type], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load_safetensors(path):
    """{name: array} of a safetensors file (F32, I64, BOOL)."""
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                             dtype=_NUMPY[v["dtype"]]).reshape(v["shape"]).copy()
            for k, v in h.items() if k != "__metadata__"}
