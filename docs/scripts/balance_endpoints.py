"""Do two balancing runs end in the same minimum? python balance_endpoints.py STORE A B [--losses residual,test].

Prints, for the final points theta_A, theta_B of trajectories A and B (same initialisation theta_0):
|theta_A - theta_B| against |theta_A - theta_0| and |theta_B - theta_0| (how far each run travelled),
the final losses, and the barrier of each loss on the straight line between them,
max_t L((1 - t) theta_A + t theta_B) - max(L(theta_A), L(theta_B)), on 41 points t in [0, 1].
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.store import open_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--losses", default="residual,test")
    args = parser.parse_args()
    torch.set_num_threads(1)
    run = open_run(args.store)
    physics = run.physics()
    names = args.losses.split(",")
    ta, tb = run.trajectory(args.a), run.trajectory(args.b)
    start, end_a, end_b = ta.params[0], ta.params[-1], tb.params[-1]
    if not np.array_equal(start, tb.params[0]):
        print("note: the two runs start from different points", file=sys.stderr)
    print(f"|{args.a} - {args.b}| = {np.linalg.norm(end_a - end_b):.4g}; travelled: {args.a} "
          f"{np.linalg.norm(end_a - start):.4g}, {args.b} {np.linalg.norm(end_b - start):.4g}; "
          f"|theta_0| = {np.linalg.norm(start):.4g}")
    t = np.linspace(0.0, 1.0, 41)
    line = torch.as_tensor((1 - t)[:, None] * end_a[None] + t[:, None] * end_b[None])
    values = physics.evaluate(line, names)
    for name in names:
        v = values[name].numpy()
        print(f"{name}: {args.a} {v[0]:.4g}, {args.b} {v[-1]:.4g}; straight-line max {v.max():.4g} at t = "
              f"{t[v.argmax()]:.3g}, barrier {v.max() - max(v[0], v[-1]):.4g}, "
              f"min {v.min():.4g} at t = {t[v.argmin()]:.3g}")


if __name__ == "__main__":
    main()
