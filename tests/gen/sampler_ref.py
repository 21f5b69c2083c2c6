"""sampler_ref.py — an implementation of hcg's sampling rule (docs/generate.md, backend/sampler.c)
written from its description, in Python with numpy float64, for the reference tokens of
tests/test_generate.c: x = logits / T; the top-k largest (ties: smaller id); softmax; top-p over
the probabilities sorted descending (ties: smaller id), the shortest prefix reaching p; one
splitmix64 draw u per pick; the first kept token in id order whose running sum exceeds u * total."""
import numpy as np

MASK = (1 << 64) - 1


class Stream:
    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next_u64() >> 11) * 2.0 ** -53


def pick(logits, stream, temperature=1.0, top_k=0, top_p=1.0, greedy=False):
    logits = np.asarray(logits, np.float32)
    if greedy:
        return int(np.argmax(logits))  # the first largest
    x = logits.astype(np.float64) / temperature
    n = len(x)
    u = stream.uniform()
    ids = list(range(n))
    if 0 < top_k < n:
        ids = sorted(ids, key=lambda i: (-x[i], i))[:top_k]
    m = max(x[i] for i in ids)
    p = {i: np.exp(x[i] - m) for i in ids}
    s = sum(p[i] for i in ids)  # in the order of ids, as the C code sums
    p = {i: p[i] / s for i in ids}
    if top_p < 1:
        ids = sorted(ids, key=lambda i: (-p[i], i))
        run, k = 0.0, 0
        while k < len(ids) and run < top_p:
            run += p[ids[k]]
            k += 1
        ids = ids[:k]
    ids = sorted(ids)
    total = 0.0
    for i in ids:
        total += p[i]
    target, run = u * total, 0.0
    for i in ids:
        run += p[i]
        if run > target:
            return i
    return ids[-1]
