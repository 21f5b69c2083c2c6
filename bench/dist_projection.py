#!/usr/bin/env python3
"""dist_projection.py — data-parallel scaling from bench_dist's measurements (bench/bench_dist.sh).

Reads the JSON lines of bench_dist runs (1 and 2 ranks, interleaved, several repetitions) and of
--sweep runs (the median of each row count is used), and prints (markdown):
  1. measured: samples/s on 1 and 2 ranks per global batch (medians over repetitions, and the
     median of the per-repetition 2-rank/1-rank ratios), the step's communication cost
     (step - local compute on the same rows) and a lone all-reduce of every gradient;
  2. a simulated projection for R = 8..64 ranks: a ring all-reduce (Open MPI's algorithm for large
     vectors) costs T(R) = 2 (R - 1) a + 2 (R - 1) / R * n * b, with the per-message latency a and
     the time per byte b fitted to the 2-rank measurements (T(2) = 2a + n b, T(1 float) = 2a); a
     step costs compute(rows per rank) from the sweep plus the part of T(R) the backward pass does
     not hide, that part taken as measured on 2 ranks (comm / lone all-reduce) and, as a bound,
     all of it. Strong scaling keeps the global batch; weak scaling keeps 128 rows per rank.
--latency-us and --gbps replace the fitted a and b (to project onto another network).
"""
import argparse
import json
import statistics as st


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip().startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs")
    ap.add_argument("sweep")
    ap.add_argument("--latency-us", type=float)
    ap.add_argument("--gbps", type=float)
    a = ap.parse_args()
    runs, sweeps = load(a.runs), load(a.sweep)
    sweep = dict(sweeps[0])
    sweep["local_rows_ms"] = {k: st.median(s["local_rows_ms"][k] for s in sweeps) for k in sweeps[0]["local_rows_ms"]}
    batches = sorted({r["batch"] for r in runs})
    print("| global batch | 1 rank samples/s | 2 ranks samples/s | 2 / 1 (median of pairs) | step 2 ranks ms | "
          "local compute ms | communication ms/step | lone all-reduce ms |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    two = {}
    for b in batches:
        one = [r for r in runs if r["batch"] == b and r["ranks"] == 1]
        dup = [r for r in runs if r["batch"] == b and r["ranks"] == 2]
        ratios = [d["samples_per_s"] / o["samples_per_s"] for o, d in zip(one, dup)]
        med = lambda xs, k: st.median(x[k] for x in xs)
        two[b] = {k: med(dup, k) for k in ("step_ms", "local_ms", "comm_ms", "allreduce_ms", "latency_us")}
        print("| %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
            b, med(one, "samples_per_s"), med(dup, "samples_per_s"), st.median(ratios), two[b]["step_ms"],
            two[b]["local_ms"], two[b]["comm_ms"], two[b]["allreduce_ms"]))
    n = sweep["param_bytes"]
    b = max(batches)
    m = two[b]
    alpha = (a.latency_us * 1e-3) if a.latency_us else m["latency_us"] * 1e-3 / 2  # ms
    beta = (1.0 / (a.gbps * 1e6)) if a.gbps else max(m["allreduce_ms"] - 2 * alpha, 0) / n  # ms per byte
    hidden = min(max(1 - m["comm_ms"] / m["allreduce_ms"], 0), 1) if m["allreduce_ms"] > 0 else 0
    compute = {int(k): v for k, v in sweep["local_rows_ms"].items()}
    one_rank = compute[b]

    def ring(r):
        return 2 * (r - 1) * alpha + 2 * (r - 1) / r * n * beta

    print()
    print("Projection (%s): %d B of gradients, latency a = %.1f us, %.2f GB/s (b = %.3g ms/B); %.0f%% of the "
          "all-reduce hidden by the backward pass on 2 ranks" % (
              "given network" if a.latency_us or a.gbps else "fitted to this machine's 2-rank figures", n,
              alpha * 1e3, 1e-6 / beta if beta > 0 else float("inf"), beta, 100 * hidden))
    print()
    print("| ranks | rows per rank | compute ms | ring all-reduce ms | step ms (hidden as measured) | "
          "strong scaling speedup | speedup, nothing hidden | weak scaling (128 rows/rank) efficiency |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in (2, 4, 8, 16, 32, 64):
        rows = b // r
        c = compute.get(rows)
        if c is None:
            continue
        t = ring(r)
        step = c + (1 - hidden) * t
        weak_c = compute[128] if 128 in compute else c
        weak = weak_c / (weak_c + (1 - hidden) * t)
        print("| %d | %d | %.2f | %.2f | %.2f | %.1f | %.1f | %.0f%% |" % (
            r, rows, c, t, step, one_rank / step, one_rank / (c + t), 100 * weak))


if __name__ == "__main__":
    main()
