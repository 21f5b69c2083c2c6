"""run_model.py — embedding hcg in a Python program: load a model, run it with NumPy arrays on the
devices hcg picks, and compare an output with a reference.

    python run_model.py MODEL INPUT_NAME INPUT.npy OUTPUT_NAME EXPECTED.npy [DEVICES]

Prints where the nodes ran and the largest difference; exits 0 when every element is within
1e-6 + 1e-5 * |expected|. Needs the installed library and `pip install ./python`."""

import sys

import numpy as np

import hcg


def main(argv):
    if len(argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    model, in_name, in_path, out_name, want_path = argv[1:6]
    devices = argv[6] if len(argv) > 6 else "auto"
    print("hcg", hcg.version(), "devices:", ", ".join(d["name"] for d in hcg.devices()))
    try:
        session = hcg.Session(model, devices=devices)
        out = session.run({in_name: np.load(in_path)})
    except hcg.Error as e:
        print("run_model.py:", e, file=sys.stderr)
        return 1
    plan = session.plan()
    for d in plan["devices"]:
        if d["nodes"]:
            print("%s: %d nodes" % (d["name"], d["nodes"]))
    y, want = out[out_name], np.load(want_path)
    if y.shape != want.shape or y.dtype != want.dtype:
        print("run_model.py: %s is %s %s, the reference %s %s" % (out_name, y.dtype, y.shape, want.dtype, want.shape),
              file=sys.stderr)
        return 1
    diff = np.abs(y.astype(np.float64) - want)
    bad = int(np.count_nonzero(~(diff <= 1e-6 + 1e-5 * np.abs(want))))
    print("%s: %s %s, largest difference from the reference %.3g, %d of %d outside tolerance"
          % (out_name, y.dtype, y.shape, diff.max() if diff.size else 0.0, bad, y.size))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
