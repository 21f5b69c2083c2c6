#!/usr/bin/env python3
"""bench_workloads.py — overlap of distillation and ensembles across devices.

Two single-core OpenCL devices (POCL_DEVICES="basic basic", one core each on this 2-core machine;
the cpu device held to one thread), measured side by side, alternating (A B A B ...):

  distillation: four teachers (the digits transformer, four times) and a student (the same
    architecture), batch 256, SGD, pipelined: everything on opencl:0 against the teachers on
    opencl:0 and the student on opencl:1. Samples/s from the median step time of hcg's JSON log.
  ensemble inference: three members (the digits transformer, three times), batch 1437: all on
    opencl:0 (and all on the cpu) against one member on each of opencl:0, opencl:1 and the cpu; and two
    members on the two equal POCL devices against both on one. Median of `hcg bench`.

It writes the Chrome traces of the split runs (bench/traces/*.json) that show the overlap.
Run: /usr/bin/python3 bench/bench_workloads.py [--hcg build/hcg] [--runs 3]  (on a quiet machine)
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
D = os.path.join(ROOT, "models", "digits")
N_TEACHERS = 4
ENV = dict(os.environ, POCL_DEVICES="basic basic", HCG_CPU_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def distill(hcg, tmp, teacher_dev, student_dev, trace=None):
    log = os.path.join(tmp, "distill.jsonl")
    teachers = []
    for _ in range(N_TEACHERS):
        teachers += ["--teacher", "%s/transformer.hcg@%s" % (D, teacher_dev)]
    cmd = [hcg, "distill", "--student", "%s/transformer.hcg@%s" % (D, student_dev)] + teachers + [
        "--data", "x=%s/x_train.npy" % D, "--data", "y=%s/y_train.npy" % D, "--labels", "%s/y_train.npy" % D,
        "--temperature", "4", "--alpha", "0.7", "--optimizer", "sgd", "--lr", "0.01", "--batch", "256",
        "--steps", "12", "--devices", "opencl:0,opencl:1", "--quiet", "--log", log,
        "--save", os.path.join(tmp, "student.safetensors")]
    if trace:
        cmd += ["--trace", trace]
    subprocess.run(cmd, check=True, env=ENV)
    steps = [json.loads(line)["step_ms"] for line in open(log)][3:]
    return 256e3 / statistics.median(steps)


def ensemble(hcg, tmp, devices, trace=None):
    path = os.path.join(tmp, "ens_%s.hcg" % "_".join(d.replace(":", "") for d in devices))
    members = []
    for d in devices:
        members += ["--member", "%s/transformer.hcg@%s" % (D, d)]
    subprocess.run([hcg, "ensemble", path] + members + ["--combine", "weighted", "--softmax"], check=True, env=ENV,
                   stdout=subprocess.DEVNULL)
    out = subprocess.run([hcg, "bench", path, "--input", "x=%s/x_train.npy" % D, "--devices", "opencl:0,opencl:1,cpu",
                          "--warmup", "2", "--repeat", "10", "--json"], check=True, env=ENV, capture_output=True,
                         text=True).stdout
    if trace:
        subprocess.run([hcg, "run", path, "--input", "x=%s/x_train.npy" % D, "--devices", "opencl:0,opencl:1,cpu",
                        "--trace", trace, "--quiet"], check=True, env=ENV)
    return 1437 / (json.loads(out)["median_ms"] / 1e3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hcg", default=os.path.join(ROOT, "build", "hcg"))
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    traces = os.path.join(ROOT, "bench", "traces")
    os.makedirs(traces, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        one, two, e_one, e_three, e_cpu, p_one, p_two = [], [], [], [], [], [], []
        for r in range(a.runs):
            last = r == a.runs - 1
            one.append(distill(a.hcg, tmp, "opencl:0", "opencl:0"))
            two.append(distill(a.hcg, tmp, "opencl:0", "opencl:1",
                               os.path.join(traces, "distill_split.json") if last else None))
            e_one.append(ensemble(a.hcg, tmp, ["opencl:0"] * 3))
            e_cpu.append(ensemble(a.hcg, tmp, ["cpu"] * 3))
            p_one.append(ensemble(a.hcg, tmp, ["opencl:0"] * 2))
            p_two.append(ensemble(a.hcg, tmp, ["opencl:0", "opencl:1"]))
            e_three.append(ensemble(a.hcg, tmp, ["opencl:0", "opencl:1", "cpu"],
                                    os.path.join(traces, "ensemble_split.json") if last else None))
    m = statistics.median
    print("distillation, %d teachers + student, batch 256 (samples/s, median of %d runs):" % (N_TEACHERS, a.runs))
    print("  everything on opencl:0          %8.0f   %s" % (m(one), " ".join("%.0f" % v for v in one)))
    print("  teachers opencl:0, student :1   %8.0f   %s" % (m(two), " ".join("%.0f" % v for v in two)))
    print("  speedup %.2fx" % (m(two) / m(one)))
    print("ensemble of 3 members, batch 1437 (samples/s):")
    print("  everything on opencl:0          %8.0f   %s" % (m(e_one), " ".join("%.0f" % v for v in e_one)))
    print("  opencl:0, opencl:1, cpu         %8.0f   %s" % (m(e_three), " ".join("%.0f" % v for v in e_three)))
    print("  everything on the cpu           %8.0f   %s" % (m(e_cpu), " ".join("%.0f" % v for v in e_cpu)))
    print("  speedup %.2fx against opencl:0 alone, %.2fx against the cpu alone" % (m(e_three) / m(e_one),
                                                                                m(e_three) / m(e_cpu)))
    print("ensemble of 2 members on two equal devices (samples/s):")
    print("  both on opencl:0                %8.0f   %s" % (m(p_one), " ".join("%.0f" % v for v in p_one)))
    print("  opencl:0 and opencl:1           %8.0f   %s" % (m(p_two), " ".join("%.0f" % v for v in p_two)))
    print("  speedup %.2fx" % (m(p_two) / m(p_one)))


if __name__ == "__main__":
    main()
