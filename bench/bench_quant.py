#!/usr/bin/env python3
"""bench_quant.py - the real all-MiniLM-L6-v2 with small weights: hcg's f32 model against the same
model after `hcg quantize` (int8 weights, f16 weights, int8 weights with int8 activations) on the cpu
and on POCL (opencl:0), and against ONNX Runtime (2 intra-op threads, all graph optimisations) on
its f32 export and on the export quantized by its own quantize_dynamic (int8 weights and dynamic
uint8 activations, the form ORT recommends for transformers on CPUs); hcg also runs ORT's quantized
file. Interleaved A B C ... per round; per shape the median over rounds of each round's median
(hcg bench --json, or REPEAT timed ORT calls) and the min, and the ratios within the same run.
First: model file sizes and each variant's worst sentence cosine against PyTorch's f32 embeddings
(models/minilm/data/expected_embeddings.npy), and the machine's load before and after.

Run: /usr/bin/python3 bench/bench_quant.py BUILD_DIR [ROUNDS] [SHAPES] [CL_SHAPES]
     (after models/minilm/export.sh BUILD_DIR; ONNX Runtime and the onnx its quantizer needs from PyPI,
     without numpy, next to Debian's: pip install --target BUILD_DIR/minilm/ort --no-deps onnxruntime
     coloredlogs humanfriendly flatbuffers protobuf sympy mpmath packaging 'onnx==1.17.0'
     'ml_dtypes==0.4.1'; SHAPES default 1x128,8x128,1x32, CL_SHAPES (POCL) default 1x32,1x128;
     HCG_BENCH_OPENCL=0 skips POCL)
"""
import json, os, statistics, subprocess, sys, time

build = os.path.abspath(sys.argv[1])
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
shapes = sys.argv[3].split(",") if len(sys.argv) > 3 else ["1x128", "8x128", "1x32"]
cl_shapes = sys.argv[4].split(",") if len(sys.argv) > 4 else ["1x32", "1x128"]
sys.path[:0] = [os.path.join(build, "minilm", "ort")]
import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "models", "minilm", "data")
hcg = os.path.join(build, "hcg")
f32_hcg = os.path.join(build, "minilm", "hcg", "minilm.hcg")
f32_onnx = os.path.join(build, "minilm", "minilm.onnx")
out = os.path.join(build, "minilm", "quant")
os.makedirs(out, exist_ok=True)
REPEAT = 10
env = dict(os.environ, POCL_DEVICES=os.environ.get("POCL_DEVICES", "pthread"))
ort.set_default_logger_severity(3)


def load():
    return os.getloadavg()[0]


def mib(path):
    size = os.path.getsize(path)
    if path.endswith(".hcg"):  # and its weights file
        weights = path[:-4] + ".safetensors"
        size += os.path.getsize(weights if os.path.exists(weights) else os.path.join(os.path.dirname(path),
                                                                                     "model.safetensors"))
    return size / 2**20


# ------------------------------------------------------------------ the models
variants = {"int8": ["--weights", "int8"], "f16": ["--weights", "f16"],
            "int8a": ["--weights", "int8", "--activations", "int8"]}
models = {"f32": f32_hcg}
for name, args in variants.items():
    path = os.path.join(out, f"minilm_{name}.hcg")
    subprocess.run([hcg, "quantize", f32_hcg, path, *args], check=True, capture_output=True)
    models[name] = path
ort_int8 = os.path.join(out, "minilm_ort_int8.onnx")
quantize_dynamic(f32_onnx, ort_int8, weight_type=QuantType.QInt8)
so = ort.SessionOptions()
so.intra_op_num_threads = 2
so.inter_op_num_threads = 1
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sessions = {"ort f32": ort.InferenceSession(f32_onnx, so, providers=["CPUExecutionProvider"]),
            "ort int8": ort.InferenceSession(ort_int8, so, providers=["CPUExecutionProvider"])}

print(f"load before: {load():.2f} (2 cores); ORT {ort.__version__} (CPUExecutionProvider, 2 threads)")
for d in json.loads(subprocess.run([hcg, "devices", "--json"], capture_output=True, text=True, env=env).stdout):
    print(f"{d['name']}: {d['device']} ({d['version']}); features {d.get('features')}")
print("files: " + ", ".join(f"{k} {mib(v):.1f} MiB" for k, v in models.items()) +
      f", ORT f32 {mib(f32_onnx):.1f} MiB, ORT int8 {mib(ort_int8):.1f} MiB")

# ------------------------------------------------------------------ accuracy
want = np.load(os.path.join(data, "expected_embeddings.npy"))
feeds0 = {"input_ids": np.load(os.path.join(data, "input_ids.npy")),
          "attention_mask": np.load(os.path.join(data, "attention_mask.npy"))}


def worst_cosine(got):
    return float(((got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)).min())


def hcg_embeddings(model, devices):
    d = os.path.join(out, "run")
    subprocess.run([hcg, "run", model, "--devices", devices, "--quiet", "--output-dir", d,
                    "--input", f"input_ids={os.path.join(data, 'input_ids.npy')}",
                    "--input", f"attention_mask={os.path.join(data, 'attention_mask.npy')}"],
                   check=True, env=env)
    return np.load(os.path.join(d, "embeddings.npy"))


acc = [f"hcg {k} cpu {worst_cosine(hcg_embeddings(v, 'cpu')):.5f}" for k, v in models.items()]
acc.append(f"hcg on ORT int8 cpu {worst_cosine(hcg_embeddings(ort_int8, 'cpu')):.5f}")
acc += [f"{k} {worst_cosine(s.run(None, feeds0)[0]):.5f}" for k, s in sessions.items()]
if os.environ.get("HCG_BENCH_OPENCL", "1") != "0":
    acc += [f"hcg {k} opencl:0 {worst_cosine(hcg_embeddings(models[k], 'opencl:0')):.5f}" for k in ("int8", "f16")]
print("worst cosine with PyTorch's f32 embeddings: " + ", ".join(acc), flush=True)

# ------------------------------------------------------------------ timing


def hcg_bench(model, shape, devices, repeat=REPEAT):
    ids, mask = (os.path.join(data, f"bench_{n}_{shape}.npy") for n in ("input_ids", "attention_mask"))
    r = subprocess.run([hcg, "bench", model, "--devices", devices, "--input", f"input_ids={ids}", "--input",
                        f"attention_mask={mask}", "--repeat", str(repeat), "--json"],
                       capture_output=True, text=True, check=True, env=env)
    return json.loads(r.stdout)["median_ms"]


def ort_bench(sess, shape):
    feeds = {n: np.load(os.path.join(data, f"bench_{n}_{shape}.npy")) for n in ("input_ids", "attention_mask")}
    sess.run(None, feeds)
    ts = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        sess.run(None, feeds)
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def summary(v):
    return f"{statistics.median(v):.2f} (min {min(v):.2f})"


for shape in shapes:
    r = {k: [] for k in [*models, "on ORT int8", *sessions]}
    for _ in range(rounds):  # A B C ... per round
        for k, m in models.items():
            r[k].append(hcg_bench(m, shape, "cpu"))
        r["on ORT int8"].append(hcg_bench(ort_int8, shape, "cpu"))
        for k, s in sessions.items():
            r[k].append(ort_bench(s, shape))
    m = {k: statistics.median(v) for k, v in r.items()}
    print(f"{shape} cpu: " + ", ".join(f"hcg {k} {summary(r[k])}" for k in models) +
          f", hcg on ORT's int8 {summary(r['on ORT int8'])}, " + ", ".join(f"{k} {summary(r[k])}" for k in sessions) +
          " ms", flush=True)
    print(f"{shape} cpu ratios (medians): hcg int8/f32 {m['int8'] / m['f32']:.2f}, f16/f32 {m['f16'] / m['f32']:.2f}, "
          f"int8a/f32 {m['int8a'] / m['f32']:.2f}; ORT int8/ORT f32 {m['ort int8'] / m['ort f32']:.2f}; "
          f"hcg int8a/ORT int8 {m['int8a'] / m['ort int8']:.2f}, hcg int8/ORT int8 {m['int8'] / m['ort int8']:.2f}, "
          f"hcg f32/ORT f32 {m['f32'] / m['ort f32']:.2f}", flush=True)

if os.environ.get("HCG_BENCH_OPENCL", "1") != "0":
    for shape in cl_shapes:
        r = {k: [] for k in ("f32", "int8", "f16")}
        for _ in range(max(1, rounds // 2)):
            for k in r:
                r[k].append(hcg_bench(models[k], shape, "opencl:0", repeat=5))
        m = {k: statistics.median(v) for k, v in r.items()}
        print(f"{shape} opencl:0 (POCL): " + ", ".join(f"hcg {k} {summary(r[k])}" for k in r) +
              f" ms; int8/f32 {m['int8'] / m['f32']:.2f}, f16/f32 {m['f16'] / m['f32']:.2f}", flush=True)

print(f"load after: {load():.2f}")
