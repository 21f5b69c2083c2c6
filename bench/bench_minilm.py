#!/usr/bin/env python3
"""bench_minilm.py - the real all-MiniLM-L6-v2: hcg (`hcg bench --json`), ONNX Runtime (2 intra-op
threads, all graph optimisations) and PyTorch (2 threads) on the same export and weights,
interleaved A B C A B C, at batch 1 x 128, 8 x 128 and 1 x 32; prints, per shape, the min and the
median over rounds of each round's median (REPEAT warm runs per round) and the ratios ORT / hcg
and torch / hcg of the medians; then hcg on opencl:0 and on auto against hcg on the cpu, also
interleaved. The first lines say which kernels ran (`hcg devices --json`).

Run: python3 bench/bench_minilm.py BUILD_DIR [ROUNDS] [SHAPES]   (after models/minilm/export.sh
     BUILD_DIR; onnxruntime from PyPI: pip install --target BUILD_DIR/minilm/ort onnxruntime;
     SHAPES a comma list, default 1x128,8x128,1x32; HCG_BENCH_OPENCL=0 skips opencl:0 and auto)
"""
import json, os, statistics, subprocess, sys, time

build = os.path.abspath(sys.argv[1])
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
shapes = sys.argv[3].split(",") if len(sys.argv) > 3 else ["1x128", "8x128", "1x32"]
sys.path[:0] = [os.path.join(build, "minilm", "py"), os.path.join(build, "minilm", "ort")]
os.environ["HF_HUB_OFFLINE"] = "1"
import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "minilm"))
import export_minilm

onnx_path = os.path.join(build, "minilm", "minilm.onnx")
data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "minilm", "data")
hcg = os.path.join(build, "hcg")
REPEAT = 10
env = dict(os.environ, POCL_DEVICES=os.environ.get("POCL_DEVICES", "pthread"))
torch.set_num_threads(2)
so = ort.SessionOptions()
so.intra_op_num_threads = 2
so.inter_op_num_threads = 1
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
_, model = export_minilm.load()

for d in json.loads(subprocess.run([hcg, "devices", "--json"], capture_output=True, text=True, env=env).stdout):
    print(f"{d['name']}: {d['device']} ({d['version']}); cost {d['cost']}")
print(f"ORT {ort.__version__} (CPUExecutionProvider, 2 threads), torch {torch.__version__} (2 threads), "
      f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')}", flush=True)


def timed(fn):
    fn()
    ts = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def hcg_bench(shape, devices):
    ids, mask = (os.path.join(data, f"bench_{n}_{shape}.npy") for n in ("input_ids", "attention_mask"))
    out = subprocess.run([hcg, "bench", onnx_path, "--devices", devices, "--input", f"input_ids={ids}",
                          "--input", f"attention_mask={mask}", "--repeat", str(REPEAT), "--json"],
                         capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)["median_ms"]


def summary(v):
    return f"{statistics.median(v):.2f} (min {min(v):.2f})"


for shape in shapes:
    ids = np.load(os.path.join(data, f"bench_input_ids_{shape}.npy"))
    mask = np.load(os.path.join(data, f"bench_attention_mask_{shape}.npy"))
    feeds = {"input_ids": ids, "attention_mask": mask}
    ti, tm = torch.from_numpy(ids), torch.from_numpy(mask)
    r = {"hcg": [], "ort": [], "torch": []}
    for _ in range(rounds):  # A B C A B C
        r["hcg"].append(hcg_bench(shape, "cpu"))
        r["ort"].append(timed(lambda: sess.run(None, feeds)))
        with torch.no_grad():
            r["torch"].append(timed(lambda: model(ti, tm)))
    m = {k: statistics.median(v) for k, v in r.items()}
    print(f"{shape}: hcg cpu {summary(r['hcg'])} ms, ORT {summary(r['ort'])} ms, torch {summary(r['torch'])} ms; "
          f"ORT/hcg {m['ort'] / m['hcg']:.2f} (of the mins {min(r['ort']) / min(r['hcg']):.2f}), "
          f"torch/hcg {m['torch'] / m['hcg']:.2f}", flush=True)
    if os.environ.get("HCG_BENCH_OPENCL", "1") == "0":
        continue
    d = {"cpu": [], "opencl:0": [], "auto": []}
    for _ in range(max(1, rounds // 2)):
        for dev in d:
            d[dev].append(hcg_bench(shape, dev))
    dm = {k: statistics.median(v) for k, v in d.items()}
    print(f"{shape}: hcg opencl:0 {summary(d['opencl:0'])} ms ({dm['opencl:0'] / dm['cpu']:.2f}x cpu), "
          f"auto {summary(d['auto'])} ms, cpu {summary(d['cpu'])} ms (auto/cpu {dm['auto'] / dm['cpu']:.3f})",
          flush=True)
