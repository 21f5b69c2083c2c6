"""Tests of the Python package against independent references: the bundled attention model's
PyTorch output, a linear model's SGD step computed here with NumPy, the trained GPT's greedy tokens
from PyTorch (tests/gen/greedy_b2_80.npy), and hcg's own error messages. Run from anywhere:
python -m unittest discover -s python/tests (HCG_SOURCE_DIR names the repository, default: the
folder above python/)."""

import json
import os
import struct
import tempfile
import unittest

import numpy as np

import hcg

ROOT = os.environ.get("HCG_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def src(rel):
    return os.path.join(ROOT, rel)


def write_safetensors(path, tensors):
    """A safetensors file of f32 arrays (the format: 8-byte header length, JSON header, data)."""
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype=np.float32)
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class Basics(unittest.TestCase):
    def test_version_and_devices(self):
        self.assertTrue(hcg.version().startswith("0.2."), hcg.version())
        devs = hcg.devices()
        names = [d["name"] for d in devs]
        self.assertIn("cpu", names)
        self.assertTrue(all({"name", "type", "backend", "cost"} <= set(d) for d in devs), devs)

    def test_graph(self):
        g = hcg.Graph(src("models/attention/attention.hcg"))
        dtype, shape = g.inputs["x"]
        self.assertEqual(dtype, np.float32)
        self.assertEqual(len(shape), 3)
        self.assertEqual(g.outputs, ["y"])

    def test_errors_carry_hcgs_message(self):
        with self.assertRaises(hcg.Error) as e:
            hcg.Session(src("models/does_not_exist.hcg"))
        self.assertIn("does_not_exist.hcg", str(e.exception))
        self.assertEqual(e.exception.status, "I/O error")
        s = hcg.Session(src("models/attention/attention.hcg"), devices="cpu")
        with self.assertRaises(hcg.Error) as e:
            s.run({})
        self.assertIn("input 'x' is not given", str(e.exception))
        with self.assertRaises(hcg.Error) as e:
            s.run({"x": np.zeros((2, 16, 63), np.float32)})  # the model's width is 64
        self.assertEqual(e.exception.status, "shape error")
        with self.assertRaises(hcg.Error) as e:
            hcg.Session(src("models/attention/attention.hcg"), devices="no_such_device")
        self.assertIn("unknown device 'no_such_device'", str(e.exception))


class Running(unittest.TestCase):
    def setUp(self):
        self.x = np.load(src("models/attention/x.npy"))
        self.want = np.load(src("models/attention/expected_x.npy"))

    def test_attention_against_pytorch(self):
        for devices in ("cpu", "auto"):
            with hcg.Session(src("models/attention/attention.hcg"), devices=devices) as s:
                out = s.run({"x": self.x})
                self.assertEqual(set(out), {"y"})
                y = out["y"]
                self.assertEqual(y.dtype, np.float32)
                self.assertEqual(y.shape, self.want.shape)
                np.testing.assert_allclose(y, self.want, rtol=1e-5, atol=1e-6, err_msg=devices)

    def test_outputs_share_hcgs_memory(self):
        s = hcg.Session(src("models/attention/attention.hcg"), devices="cpu")
        y = s.run({"x": self.x})["y"]
        self.assertFalse(y.flags.owndata)  # a view of the tensor hcg filled, not a copy
        self.assertIsInstance(y.base, hcg._Owned)
        del s
        np.testing.assert_allclose(y, self.want, rtol=1e-5, atol=1e-6)  # outlives its session

    def test_inputs_of_other_layouts_and_dtypes(self):
        s = hcg.Session(src("models/attention/attention.hcg"), devices="cpu")
        wide = np.zeros((self.x.shape[0], self.x.shape[1], 2 * self.x.shape[2]), np.float64)
        wide[:, :, ::2] = self.x  # a strided float64 view: converted (copied) on the way in
        y = s.run({"x": wide[:, :, ::2]})["y"]
        np.testing.assert_allclose(y, self.want, rtol=1e-5, atol=1e-6)

    def test_plan_and_explain(self):
        s = hcg.Session(src("models/attention/attention.hcg"), devices="cpu", profile=True)
        s.run({"x": self.x})
        plan = s.plan()
        self.assertGreater(len(plan["nodes"]), 0)
        self.assertTrue(all(r["device"] == "cpu" for r in plan["nodes"]))
        self.assertTrue(plan["measured"])
        self.assertTrue(all(r["measured_seconds"] >= 0 for r in plan["nodes"]))
        self.assertEqual([d["name"] for d in plan["devices"]], ["cpu"])
        self.assertEqual(sum(d["nodes"] for d in plan["devices"]), len(plan["nodes"]))
        text = s.explain()
        self.assertIn("predicted makespan", text)
        for r in plan["nodes"]:
            self.assertIn(r["name"][:28], text)
        self.assertEqual(s.node_device(plan["nodes"][-1]["name"]), "cpu")
        self.assertIsNone(s.node_device("x"))  # an input does not run
        with tempfile.TemporaryDirectory() as d:
            s.write_trace(os.path.join(d, "trace.json"))
            with open(os.path.join(d, "trace.json")) as f:
                self.assertIn("traceEvents", json.load(f))
        s.prepare({"x": (1, 5, 64)})  # a new shape: planned, not run
        self.assertFalse(s.plan()["measured"])


def read_safetensors(path):
    """{name: array} of a safetensors file (F32 and I8 only), read with NumPy alone."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    types = {"F32": np.float32, "I8": np.int8}
    return {name: np.frombuffer(blob[8 + n + h["data_offsets"][0]:8 + n + h["data_offsets"][1]],
                                dtype=types[h["dtype"]]).reshape(h["shape"])
            for name, h in header.items() if name != "__metadata__"}


class Quantization(unittest.TestCase):
    def test_int8_weights_against_numpy(self):
        """hcg.quantize on the attention block: the stored int8 values and scales are those NumPy
        computes from the f32 weights (symmetric, a scale per output row: max |w| / 127), and the
        quantized model's output is the f32 model's with NumPy's dequantized weights put in."""
        with tempfile.TemporaryDirectory() as tmp:
            report = hcg.quantize(src("models/attention/attention.hcg"), os.path.join(tmp, "q.hcg"), weights="int8")
            done = {w["name"]: w for w in report["weights"] if w["quantized"]}
            self.assertEqual(sorted(done), ["w_out", "w_qkv"])
            self.assertEqual(done["w_qkv"]["bytes_after"], 192 * 64 + 192 * 4)
            f32 = read_safetensors(src("models/attention/attention.safetensors"))
            small = read_safetensors(os.path.join(tmp, "q.safetensors"))
            wide = dict(f32)
            for name in ("w_qkv", "w_out"):
                w = f32[name].astype(np.float64)
                scale = np.abs(w).max(axis=1) / 127
                q = np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int8)
                np.testing.assert_allclose(small[name + ".scale"], scale.astype(np.float32), rtol=1e-7)
                # a value exactly halfway may round either way in float32: at most one step apart
                self.assertLessEqual(int(np.abs(small[name + ".int8"].astype(int) - q.astype(int)).max()), 1)
                wide[name] = small[name + ".int8"].astype(np.float32) * small[name + ".scale"][:, None]
            write_safetensors(os.path.join(tmp, "attention.safetensors"), wide)
            with open(src("models/attention/attention.hcg")) as f, open(os.path.join(tmp, "f32.hcg"), "w") as g:
                g.write(f.read())
            x = np.load(src("models/attention/x.npy"))
            for devices in ["cpu"] + (["opencl:0"] if any(d["name"] == "opencl:0" for d in hcg.devices()) else []):
                got = hcg.Session(os.path.join(tmp, "q.hcg"), devices=devices).run({"x": x})["y"]
                want = hcg.Session(os.path.join(tmp, "f32.hcg"), devices=devices).run({"x": x})["y"]
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=devices)

    def test_bad_group(self):
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(hcg.Error) as e:
                hcg.quantize(src("models/attention/attention.hcg"), os.path.join(tmp, "q.hcg"), weights="int8",
                             group=5)
            self.assertIn("does not divide", str(e.exception))
            self.assertFalse(os.path.exists(os.path.join(tmp, "q.hcg")))


class Training(unittest.TestCase):
    def test_sgd_step_against_numpy(self):
        rng = np.random.default_rng(3)
        w0 = rng.standard_normal((4, 3)).astype(np.float32)
        x = rng.standard_normal((8, 4)).astype(np.float32)
        t = rng.standard_normal((8, 3)).astype(np.float32)
        with tempfile.TemporaryDirectory() as d:
            write_safetensors(os.path.join(d, "lin.safetensors"), {"w": w0})
            with open(os.path.join(d, "lin.hcg"), "w") as f:
                f.write('weights "lin.safetensors"\ninput x: f32[N, 4]\ninput t: f32[N, 3]\nparam w: f32[4, 3]\n'
                        "y = matmul(x, w)\nloss = mse_loss(y, t)\noutput loss, y\n")
            tr = hcg.TrainSession(os.path.join(d, "lin.hcg"), loss="loss", optimizer="sgd", lr=0.1, devices="cpu")
            self.assertEqual(tr.params, ["w"])
            loss = tr.step({"x": x, "t": t})
            y = x @ w0
            self.assertAlmostEqual(loss, float(np.mean((y - t) ** 2)), places=5)
            grad = x.T @ (2 * (y - t) / y.size)
            np.testing.assert_allclose(tr.get_param("w"), w0 - 0.1 * grad, rtol=1e-5, atol=1e-6)
            self.assertEqual(tr.steps_done, 1)
            out = tr.eval({"x": x, "t": t})
            np.testing.assert_allclose(out["y"], x @ (w0 - 0.1 * grad), rtol=1e-5, atol=1e-5)
            tr.save(os.path.join(d, "trained.safetensors"))
            self.assertTrue(os.path.getsize(os.path.join(d, "trained.safetensors")) > 48)


class Generation(unittest.TestCase):
    def test_greedy_tokens_against_pytorch(self):
        prompt = np.load(src("tests/gen/prompt_b2.npy"))
        want = np.load(src("tests/gen/greedy_b2_80.npy"))
        d = hcg.Decoder(src("models/gpt/gpt.hcg"), devices="cpu")
        self.assertEqual(d.kind, "state_kv")
        seen = []
        got = d.generate(prompt, max_new_tokens=want.shape[1] - prompt.shape[1],
                         on_step=lambda k, toks: seen.append(toks))
        np.testing.assert_array_equal(got, want)
        self.assertEqual(len(seen), want.shape[1] - prompt.shape[1])
        np.testing.assert_array_equal(seen[0], want[:, prompt.shape[1]])
        self.assertEqual(len(d.step_seconds), want.shape[1] - prompt.shape[1])

    def test_on_step_exception_stops(self):
        d = hcg.Decoder(src("models/gpt/gpt.hcg"), devices="cpu")

        def stop(k, toks):
            if k == 2:
                raise KeyboardInterrupt("enough")

        with self.assertRaises(KeyboardInterrupt):
            d.generate(np.load(src("tests/gen/prompt_b2.npy")), max_new_tokens=10, on_step=stop)


if __name__ == "__main__":
    unittest.main()
