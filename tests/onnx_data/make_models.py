#!/usr/bin/env python3
"""make_models.py - small hand-written ONNX models for tests/test_onnx_reader.c: well-formed ones
whose structure the test checks (typed initializer fields, external data, symbolic dims, the
input-as-attribute forms, aliases, multi-output and variadic ops), and malformed ones the reader
must reject with an error (short raw_data, overflowing dims, external data outside the folder,
undefined values, cycles, attributes of the wrong type, unsupported ops and dtypes).
Byte-level damage (truncation, bit flips, wrong wire types) is done by the C test itself. The
quantized models (QDQ and dynamic, as ONNX Runtime's quantizer writes them) have numpy references.

Run: python3 tests/onnx_data/make_models.py   (needs the onnx package; writes beside itself)
"""
import os

import numpy as np
import onnx
import onnxruntime as ort

ort.set_default_logger_severity(3)
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.dirname(os.path.abspath(__file__))
F, I64 = TensorProto.FLOAT, TensorProto.INT64


def save(name, nodes, inputs, outputs, inits=(), opset=17, check=True):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="hcg-tests")
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())


def reference(name, feeds):
    """Saves <name>_<input>.npy for the feeds and onnxruntime's outputs as <name>_expected_<k>.npy."""
    sess = ort.InferenceSession(os.path.join(OUT, name + ".onnx"), providers=["CPUExecutionProvider"])
    for key, value in feeds.items():
        np.save(os.path.join(OUT, f"{name}_{key}.npy"), value)
    for k, value in enumerate(sess.run(None, feeds)):
        np.save(os.path.join(OUT, f"{name}_expected_{k}.npy"), value)


def vi(name, t, shape):
    return helper.make_tensor_value_info(name, t, shape)


def main():
    # --- well-formed ---------------------------------------------------------------------------
    # Initializers in every typed field and in raw_data; one initializer also listed as an input.
    w_float = helper.make_tensor("w_float", F, [3], [1.5, -2.0, 3.25])  # float_data
    w_int32 = helper.make_tensor("w_int32", TensorProto.INT32, [2], [7, -8])  # int32_data
    w_int64 = helper.make_tensor("w_int64", I64, [2], [1 << 40, -3])  # int64_data
    w_double = helper.make_tensor("w_double", TensorProto.DOUBLE, [2], [0.5, 1e10])  # double_data
    w_bool = helper.make_tensor("w_bool", TensorProto.BOOL, [3], [1, 0, 1])  # int32_data
    w_f16 = onnx.TensorProto(name="w_f16", data_type=TensorProto.FLOAT16, dims=[2],  # the bits, in int32_data
                             int32_data=np.array([1.0, -0.5], np.float16).view(np.uint16).tolist())
    w_raw = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w_raw")  # raw_data
    w_scalar = helper.make_tensor("w_scalar", F, [], [4.0])
    save("initializers",
         [helper.make_node("Add", ["x", "w_raw"], ["y"])],
         [vi("x", F, ["batch", 3]), vi("w_raw", F, [2, 3])], [vi("y", F, ["batch", 3])],
         [w_float, w_int32, w_int64, w_double, w_bool, w_f16, w_raw, w_scalar], check=False)

    # Symbolic dims: named (shared by two inputs) and unnamed.
    a = vi("a", F, ["batch", None, 4])
    b = vi("b", F, ["batch", None, 4])
    save("symbols", [helper.make_node("Add", ["a", "b"], ["c"])], [a, b], [vi("c", F, ["batch", None, 4])])

    # The input-as-attribute forms, with '' for an optional input in the middle, and aliases.
    nodes = [
        helper.make_node("Clip", ["x", "", "hi"], ["clipped"]),
        helper.make_node("Slice", ["clipped", "starts", "ends", "", "steps"], ["sliced"]),
        helper.make_node("Identity", ["sliced"], ["alias"]),
        helper.make_node("Max", ["alias", "x", "clipped"], ["max3"]),
        helper.make_node("Split", ["max3"], ["part0", "part1"], axis=1),
        helper.make_node("Constant", [], ["cf"], value_float=2.0),
        helper.make_node("Constant", [], ["cis"], value_ints=[1, 2, 3]),
        helper.make_node("Mul", ["part0", "cf"], ["out0"]),
        helper.make_node("Identity", ["part1"], ["out1"]),
        # A model value that looks like a name the reader would make up.
        helper.make_node("Neg", ["x"], ["clipped/min_default"]),
    ]
    inits = [numpy_helper.from_array(np.array(1.0, np.float32), "hi"),
             numpy_helper.from_array(np.array([0], np.int64), "starts"),
             numpy_helper.from_array(np.array([4], np.int64), "ends"),
             numpy_helper.from_array(np.array([1], np.int64), "steps")]
    save("forms", nodes, [vi("x", F, [2, 4])],
         [vi("out0", F, [2, 2]), vi("out1", F, [2, 2]), vi("cis", I64, [3]), vi("clipped/min_default", F, [2, 4])], inits)

    # Softmax before and after opset 13 (2-D coercion vs one axis).
    for opset in (11, 13):
        save(f"softmax{opset}", [helper.make_node("Softmax", ["x"], ["y"], axis=1)], [vi("x", F, [2, 3, 4])],
             [vi("y", F, [2, 3, 4])], opset=opset)

    # Nodes out of topological order (legal to sort).
    save("unsorted", [helper.make_node("Relu", ["t"], ["y"]), helper.make_node("Neg", ["x"], ["t"])],
         [vi("x", F, [3])], [vi("y", F, [3])], check=False)

    # External data beside the model (weights.bin: 16 bytes of padding, then 3 floats).
    ext = numpy_helper.from_array(np.array([1.0, 2.0, 3.0], np.float32), "w_ext")
    ext.ClearField("raw_data")
    ext.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "weights.bin"), ("offset", "16"), ("length", "12")):
        ext.external_data.add(key=k, value=v)
    with open(os.path.join(OUT, "weights.bin"), "wb") as f:
        f.write(b"\0" * 16 + np.array([1.0, 2.0, 3.0], np.float32).tobytes())
    save("external", [helper.make_node("Add", ["x", "w_ext"], ["y"])], [vi("x", F, [3])], [vi("y", F, [3])], [ext],
         check=False)

    # Numbers far below hcg's symbol range are values: a Slice end of INT64_MIN (reversal), a
    # ConstantOfShape filled with -3.4e38 (a mask value), in a graph that has a symbolic dim.
    big = numpy_helper.from_array(np.array([-3.4e38], np.float32), "fill_value")
    save("big_values",
         [helper.make_node("Slice", ["x", "s", "e", "a", "st"], ["reversed"]),
          helper.make_node("Shape", ["x"], ["shape"]),
          helper.make_node("ConstantOfShape", ["shape"], ["fill"], value=big)],
         [vi("x", F, ["n"])], [vi("reversed", F, ["n"]), vi("fill", F, ["n"])],
         [numpy_helper.from_array(np.array([v], np.int64), k)
          for k, v in (("s", -1), ("e", np.iinfo(np.int64).min), ("a", 0), ("st", -1))])

    # FLOAT16 compute (hcg casts to f32 and back around each op).
    H = TensorProto.FLOAT16
    w16 = numpy_helper.from_array(np.linspace(-1, 1, 12, dtype=np.float16).reshape(4, 3), "w16")
    b16 = numpy_helper.from_array(np.array([0.5, -0.25, 0.125], np.float16), "b16")
    save("half", [helper.make_node("MatMul", ["x", "w16"], ["mm"]), helper.make_node("Add", ["mm", "b16"], ["biased"]),
                  helper.make_node("Softmax", ["biased"], ["y"], axis=-1)],
         [vi("x", H, [2, 4])], [vi("y", H, [2, 3])], [w16, b16])

    # Newer opsets: axes as inputs of every reduction (18), Split's num_outputs with a smaller
    # last part (18), Gelu (20).
    save("opset18",
         [helper.make_node("ReduceMean", ["x", "axes"], ["mean"], keepdims=0),
          helper.make_node("ReduceMax", ["x"], ["max_all"], keepdims=1),
          helper.make_node("Split", ["x"], ["s0", "s1"], axis=1, num_outputs=2)],
         [vi("x", F, [2, 5])], [vi("mean", F, [2]), vi("max_all", F, [1, 1]), vi("s0", F, [2, 3]), vi("s1", F, [2, 2])],
         [numpy_helper.from_array(np.array([1], np.int64), "axes")], opset=18)
    save("gelu20", [helper.make_node("Gelu", ["x"], ["exact"]),
                    helper.make_node("Gelu", ["x"], ["tanh"], approximate="tanh")],
         [vi("x", F, [7])], [vi("exact", F, [7]), vi("tanh", F, [7])], opset=20)

    # UINT8 arithmetic wraps around (hcg computes in i32 and casts back).
    U8 = TensorProto.UINT8
    save("uint8", [helper.make_node("Add", ["x", "k"], ["sum"]), helper.make_node("Sub", ["x", "k"], ["diff"]),
                   helper.make_node("Mul", ["x", "k"], ["prod"])],
         [vi("x", U8, [6])], [vi("sum", U8, [6]), vi("diff", U8, [6]), vi("prod", U8, [6])],
         [numpy_helper.from_array(np.array([100, 200, 0, 255, 7, 128], np.uint8), "k")])

    rng = np.random.default_rng(0)
    reference("initializers", {"x": rng.standard_normal((2, 3)).astype(np.float32)})
    reference("forms", {"x": rng.standard_normal((2, 4)).astype(np.float32)})
    for opset in (11, 13):
        reference(f"softmax{opset}", {"x": rng.standard_normal((2, 3, 4)).astype(np.float32)})
    reference("opset18", {"x": rng.standard_normal((2, 5)).astype(np.float32)})
    reference("gelu20", {"x": rng.standard_normal(7).astype(np.float32) * 3})
    reference("uint8", {"x": np.array([200, 100, 0, 1, 9, 2], np.uint8)})
    reference("half", {"x": rng.standard_normal((2, 4)).astype(np.float16)})
    reference("big_values", {"x": rng.standard_normal(5).astype(np.float32)})
    reference("unsorted", {"x": rng.standard_normal(3).astype(np.float32)})
    reference("external", {"x": rng.standard_normal(3).astype(np.float32)})

    # --- malformed: each must be rejected with an error ------------------------------------------
    def bad_external(name, location, offset="0", length="12"):
        t = onnx.TensorProto()
        t.CopyFrom(ext)
        del t.external_data[:]
        for k, v in (("location", location), ("offset", offset), ("length", length)):
            t.external_data.add(key=k, value=v)
        save(name, [helper.make_node("Add", ["x", "w_ext"], ["y"])], [vi("x", F, [3])], [vi("y", F, [3])], [t],
             check=False)

    bad_external("bad_ext_parent", "../weights.bin")
    bad_external("bad_ext_absolute", "/etc/passwd")
    bad_external("bad_ext_past_end", "weights.bin", offset="20")
    bad_external("bad_ext_length", "weights.bin", length="8")
    bad_external("bad_ext_missing", "no_such_file.bin")
    bad_external("bad_ext_symlink", "link.bin")  # the test makes link.bin point outside

    short = numpy_helper.from_array(np.zeros(6, np.float32), "w")
    short.raw_data = short.raw_data[:20]
    save("bad_raw_short", [helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", F, [6])], [vi("y", F, [6])], [short],
         check=False)

    huge = onnx.TensorProto(name="w", data_type=F, dims=[1 << 40, 1 << 40], raw_data=b"\0" * 4)
    save("bad_dims_overflow", [helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", F, [1])], [vi("y", F, [1])],
         [huge], check=False)

    neg = onnx.TensorProto(name="w", data_type=F, dims=[-1])
    save("bad_dims_negative", [helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", F, [1])], [vi("y", F, [1])],
         [neg], check=False)

    typed_short = onnx.TensorProto(name="w", data_type=F, dims=[4], float_data=[1.0, 2.0])
    save("bad_typed_count", [helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", F, [4])], [vi("y", F, [4])],
         [typed_short], check=False)

    save("bad_undefined", [helper.make_node("Add", ["x", "nowhere"], ["y"])], [vi("x", F, [3])], [vi("y", F, [3])],
         check=False)

    save("bad_cycle", [helper.make_node("Add", ["x", "q"], ["p"]), helper.make_node("Relu", ["p"], ["q"])],
         [vi("x", F, [3])], [vi("p", F, [3])], check=False)

    save("bad_twice", [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Neg", ["x"], ["y"])],
         [vi("x", F, [3])], [vi("y", F, [3])], check=False)

    save("bad_output", [helper.make_node("Relu", ["x"], ["y"])], [vi("x", F, [3])], [vi("z", F, [3])], check=False)

    save("bad_output_dtype", [helper.make_node("Relu", ["x"], ["y"])], [vi("x", F, [3])], [vi("y", I64, [3])],
         check=False)

    axis_float = helper.make_node("Concat", ["x", "x"], ["y"])
    axis_float.attribute.append(helper.make_attribute("axis", 1.5))
    save("bad_attr_type", [axis_float], [vi("x", F, [3])], [vi("y", F, [6])], check=False)

    save("bad_op", [helper.make_node("FancyConv", ["x"], ["y"], name="conv1")], [vi("x", F, [3])],
         [vi("y", F, [3])], check=False)

    int16 = helper.make_tensor("w_int16", TensorProto.INT16, [2], [1, 2])
    save("bad_dtype", [helper.make_node("Add", ["x", "w_int16"], ["y"])], [vi("x", TensorProto.INT16, [2])],
         [vi("y", TensorProto.INT16, [2])], [int16], check=False)

    save("bad_opset", [helper.make_node("Relu", ["x"], ["y"])], [vi("x", F, [3])], [vi("y", F, [3])], opset=99,
         check=False)

    save("bad_rank", [helper.make_node("Relu", ["x"], ["y"])], [vi("x", F, [1] * 9)], [vi("y", F, [1] * 9)],
         check=False)


def quantized_models():
    """The two forms ONNX Runtime's quantizer writes, with numpy references (float64 from the exact
    stored values): QDQ (DequantizeLinear of int8 weights per column feeding MatMul, of a uint8
    table with one scale and zero point feeding Gather) and dynamic (DynamicQuantizeLinear of the
    activations, MatMulInteger with int8 weights, Cast, the two scales multiplied back, bias)."""
    rng = np.random.default_rng(12)
    I8, U8 = TensorProto.INT8, TensorProto.UINT8
    x = rng.standard_normal((2, 3, 8)).astype(np.float32)
    wq = rng.integers(-127, 128, size=(8, 6)).astype(np.int8)
    ws = rng.uniform(0.005, 0.02, 6).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    tq = rng.integers(0, 256, size=(10, 8)).astype(np.uint8)
    ids = np.array([[0, 9, 3], [3, 5, 1]], np.int64)
    inits = [numpy_helper.from_array(wq, "w_q"), numpy_helper.from_array(ws, "w_scale"),
             numpy_helper.from_array(np.zeros(6, np.int8), "w_zero"), numpy_helper.from_array(bias, "bias"),
             numpy_helper.from_array(tq, "t_q"), numpy_helper.from_array(np.float32(0.05), "t_scale"),
             numpy_helper.from_array(np.uint8(128), "t_zero"), numpy_helper.from_array(ids, "ids")]
    save("qdq", [helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], axis=1),
                 helper.make_node("MatMul", ["x", "w"], ["mm"]), helper.make_node("Add", ["mm", "bias"], ["y"]),
                 helper.make_node("DequantizeLinear", ["t_q", "t_scale", "t_zero"], ["table"]),
                 helper.make_node("Gather", ["table", "ids"], ["rows"], axis=0)],
         [vi("x", F, [2, 3, 8])], [vi("y", F, [2, 3, 6]), vi("rows", F, [2, 3, 8])], inits, opset=13)
    w64 = wq.astype(np.float64) * ws.astype(np.float64)
    y = (x.astype(np.float64) @ w64 + bias).astype(np.float32)
    rows = ((tq.astype(np.float64) - 128) * np.float64(np.float32(0.05)))[ids].astype(np.float32)
    numpy_reference("qdq", {"x": x}, [y, rows])

    w_scale = np.float32(0.0123)
    inits = [numpy_helper.from_array(wq, "w_q"), numpy_helper.from_array(w_scale, "w_scale"),
             numpy_helper.from_array(np.int8(0), "w_zero"), numpy_helper.from_array(bias, "bias")]
    save("dynamic", [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "x_scale", "x_zero"]),
                     helper.make_node("MatMulInteger", ["xq", "w_q", "x_zero", "w_zero"], ["acc"]),
                     helper.make_node("Cast", ["acc"], ["acc_f"], to=F),
                     helper.make_node("Mul", ["x_scale", "w_scale"], ["scale"]),
                     helper.make_node("Mul", ["acc_f", "scale"], ["mm"]), helper.make_node("Add", ["mm", "bias"], ["y"])],
         [vi("x", F, [2, 3, 8])], [vi("y", F, [2, 3, 6]), vi("xq", U8, [2, 3, 8])], inits, opset=13)
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = np.float32((np.float32(hi) - np.float32(lo)) / np.float32(255))
    zero = np.clip(np.rint(np.float32(-lo) / scale), 0, 255)
    xq = np.clip(np.rint(x / scale) + zero, 0, 255).astype(np.uint8)
    acc = (xq.astype(np.int64) - int(zero)) @ wq.astype(np.int64)
    y = (acc.astype(np.float32) * (scale * w_scale) + bias).astype(np.float32)
    numpy_reference("dynamic", {"x": x}, [y, xq])


def numpy_reference(name, feeds, outputs):
    """Saves <name>_<input>.npy for the feeds and the given outputs as <name>_expected_<k>.npy."""
    for key, value in feeds.items():
        np.save(os.path.join(OUT, f"{name}_{key}.npy"), value)
    for k, value in enumerate(outputs):
        np.save(os.path.join(OUT, f"{name}_expected_{k}.npy"), value)


if __name__ == "__main__":
    main()
    quantized_models()
