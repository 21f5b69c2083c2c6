#!/usr/bin/env python3
"""make_workload_golden.py — PyTorch references for hcg's ensemble and distillation tests
(tests/test_workloads.c).

Three teachers, MLPs of different sizes (16 -> 32 / 24 / 48 -> 5, GELU), exported to ONNX (output:
logits), and a student MLP (16 -> 12 -> 5) written as .hcg with its weights. Data: 32 rows of 16
features, 5 classes.

  * ensembles of the three ONNX teachers, weights 0.5/0.3/0.2: the weighted average of logits,
    of softmax probabilities, and the weighted vote (the class whose voters' weights add up most,
    the lowest index on a tie; 0.3 + 0.2 = 0.5 makes real ties), computed in float64;
  * distillation: the student trained for STEPS SGD steps (momentum 0.9, lr 0.05, batches of 8 in
    order) on alpha * T^2 * KL(p || softmax(s / T)) + (1 - alpha) * CE(s, y), p = sum w_i softmax(t_i / T),
    T = 4, alpha = 0.7, in float32 and float64;
  * joint ensemble training: two teachers as ensemble members (weights 0.6/0.4, logits averaged),
    trained together on CE(ensemble, y) with AdamW for STEPS steps, in float32 and float64.
Tolerances as in tests/train: 4 * max|p32 - p64| + ulp(max|p64|).

Run: /usr/bin/python3 tests/workloads/make_workload_golden.py (Debian's python3-torch 1.13, numpy).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "pyref"))
from hcg_ref import save_safetensors  # noqa: E402
STEPS, BATCH, ROWS, T, ALPHA = 8, 8, 32, 4.0, 0.7
WEIGHTS = [0.5, 0.3, 0.2]



class MLP(torch.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, hidden)
        self.fc2 = torch.nn.Linear(hidden, 5)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


STUDENT_HCG = """# The distillation student (tests/workloads/make_workload_golden.py writes it).
hcg 1
weights "student.safetensors"
input x: f32[N, 16]
param fc1.weight: f32[12, 16]
param fc1.bias: f32[12]
param fc2.weight: f32[5, 12]
param fc2.bias: f32[5]
a = matmul(x, fc1.weight, transpose_b=1)
b = add(a, fc1.bias)
h = gelu(b)
c = matmul(h, fc2.weight, transpose_b=1)
logits = add(c, fc2.bias)
output logits
"""


def tolerances(p32, p64):
    return {n: 4.0 * float(np.abs(p32[n] - p64[n]).max()) + float(np.spacing(np.float32(np.abs(p64[n]).max())))
            for n in p64}


def batches(x, y):
    per_epoch = ROWS // BATCH
    for k in range(STEPS):
        r = slice((k % per_epoch) * BATCH, (k % per_epoch) * BATCH + BATCH)
        yield x[r], y[r]


def distill(student_init, teachers, x, y, dtype):
    s = MLP(12).to(dtype)
    s.load_state_dict({k: torch.tensor(v).to(dtype) for k, v in student_init.items()})
    ts = [t.to(dtype) for t in teachers]
    opt = torch.optim.SGD(s.parameters(), lr=0.05, momentum=0.9)
    for xb, yb in batches(x, y):
        xb = torch.tensor(xb).to(dtype)
        with torch.no_grad():
            p = sum(w * torch.softmax(t(xb) / T, -1) for w, t in zip(WEIGHTS, ts))
        logits = s(xb)
        kd = T * T * (torch.xlogy(p, p) - p * torch.log_softmax(logits / T, -1)).sum() / logits.shape[0]
        loss = ALPHA * kd + (1 - ALPHA) * F.cross_entropy(logits, torch.tensor(yb))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {n: v.detach().double().numpy() for n, v in s.named_parameters()}


def joint(members_init, x, y, dtype):
    ms = [MLP(h).to(dtype) for h in (32, 24)]
    for m, init in zip(ms, members_init):
        m.load_state_dict({k: torch.tensor(v).to(dtype) for k, v in init.items()})
    opt = torch.optim.AdamW([p for m in ms for p in m.parameters()], lr=0.01, weight_decay=0.01)
    for xb, yb in batches(x, y):
        xb = torch.tensor(xb).to(dtype)
        out = 0.6 * ms[0](xb) + 0.4 * ms[1](xb)
        loss = F.cross_entropy(out, torch.tensor(yb))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"m%d/%s" % (i, n): v.detach().double().numpy() for i, m in enumerate(ms) for n, v in m.named_parameters()}


def main():
    torch.manual_seed(9)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((ROWS, 16)).astype(np.float32)
    y = rng.integers(0, 5, ROWS).astype(np.int64)
    np.save(os.path.join(HERE, "x.npy"), x)
    np.save(os.path.join(HERE, "y.npy"), y)
    teachers = [MLP(h) for h in (32, 24, 48)]
    for i, t in enumerate(teachers):
        torch.onnx.export(t, (torch.tensor(x[:BATCH]),), os.path.join(HERE, "teacher%d.onnx" % i),
                          input_names=["x"], output_names=["logits"], opset_version=17,
                          dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}})
    student = MLP(12)
    student_init = {n: p.detach().numpy().copy() for n, p in student.named_parameters()}
    save_safetensors(os.path.join(HERE, "student.safetensors"), student_init)
    with open(os.path.join(HERE, "student.hcg"), "w") as f:
        f.write(STUDENT_HCG)

    with torch.no_grad():
        outs = [t.double()(torch.tensor(x).double()) for t in teachers]
        np.save(os.path.join(HERE, "expected_weighted.npy"),
                sum(w * o for w, o in zip(WEIGHTS, outs)).numpy().astype(np.float32))
        np.save(os.path.join(HERE, "expected_weighted_softmax.npy"),
                sum(w * torch.softmax(o, -1) for w, o in zip(WEIGHTS, outs)).numpy().astype(np.float32))
        tally = np.zeros((ROWS, 5))
        for w, o in zip(WEIGHTS, outs):
            tally[np.arange(ROWS), o.numpy().argmax(-1)] += w
        ties = int(sum(np.sum(np.isclose(row, row.max())) > 1 for row in tally))
        np.save(os.path.join(HERE, "expected_vote.npy"), tally.argmax(-1).astype(np.int64))
    teachers = [t.float() for t in teachers]

    cases = {"weights": WEIGHTS, "temperature": T, "alpha": ALPHA, "steps": STEPS, "batch": BATCH,
             "vote_ties": ties}
    runs = {d: distill(student_init, teachers, x, y, d) for d in (torch.float32, torch.float64)}
    save_safetensors(os.path.join(HERE, "expected_distill.safetensors"),
                     {n: v.astype(np.float32) for n, v in runs[torch.float64].items()})
    cases["distill_tolerance"] = tolerances(runs[torch.float32], runs[torch.float64])
    members_init = [{n: p.detach().numpy().copy() for n, p in t.named_parameters()} for t in teachers[:2]]
    runs = {d: joint(members_init, x, y, d) for d in (torch.float32, torch.float64)}
    save_safetensors(os.path.join(HERE, "expected_joint.safetensors"),
                     {n: v.astype(np.float32) for n, v in runs[torch.float64].items()})
    cases["joint_tolerance"] = tolerances(runs[torch.float32], runs[torch.float64])
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)
    print("vote ties:", ties, "max distill tol %.3g, joint tol %.3g" % (max(cases["distill_tolerance"].values()),
                                                                        max(cases["joint_tolerance"].values())))


if __name__ == "__main__":
    main()
