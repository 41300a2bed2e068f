"""Curves of a stored `intrinsic-dim` probe at chosen steps: python idim_summary.py STORE [STEP ...].

For each loss: the loss of every subspace dimension and of the full-space reference at each STEP
(default 5000, 10000, 15000, 20000), and the reference's min / median / max over the last quarter of the
steps (how much the full network's final value depends on where the run is stopped).
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.probes import load_probe  # noqa: E402
from pinnviz.store import open_run  # noqa: E402


def main() -> None:
    arrays, attrs = load_probe(open_run(sys.argv[1]), "intrinsic-dim")
    steps = arrays["steps"]
    wanted = [int(s) for s in sys.argv[2:]] or [5000, 10000, 15000, 20000]
    for loss in attrs["losses"]:
        curves, reference = arrays[f"{loss}/curves"], arrays.get(f"{loss}/reference")
        for step in wanted:
            i = int(np.searchsorted(steps, step))
            cells = ", ".join(f"d={d}: {v:.5g}" for d, v in zip(attrs["dims"], curves[i], strict=True))
            full = f"; full: {reference[i]:.4g}" if reference is not None else ""
            print(f"{loss} at step {int(steps[i])}: {cells}{full}")
        if reference is not None:
            tail = reference[steps >= 0.75 * steps[-1]]
            print(f"{loss} full reference over the last quarter: min {tail.min():.3g}, median "
                  f"{np.median(tail):.3g}, max {tail.max():.3g}")


if __name__ == "__main__":
    main()
