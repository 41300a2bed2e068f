"""Per-curve details of a stored `mli` probe: python mli_details.py STORE [PREFIX].

For each trajectory (whose name starts with PREFIX): monotonic or not, the largest single rise between
neighbouring alphas and the whole climb (the largest c(alpha_j) - min_{i <= j} c(alpha_i)), both as a
percentage of the curve's range, and the trajectory's final objective and relative L2 error.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.probes import load_probe  # noqa: E402
from pinnviz.store import open_run  # noqa: E402


def main() -> None:
    store, prefix = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
    run = open_run(store)
    arrays, attrs = load_probe(run, "mli")
    for k, name in enumerate(attrs["trajectories"]):
        if not name.startswith(prefix):
            continue
        curve = arrays["curves"][k]
        span = np.ptp(curve)
        climb = max(curve[j] - curve[: j + 1].min() for j in range(len(curve)))
        traj = run.trajectory(name)
        loss = attrs["losses"][k]
        extra = f", l2_error {traj.losses['l2_error'][-1]:.3g}" if "l2_error" in traj.losses else ""
        step = 100 * np.diff(curve).max() / span
        print(f"{name}: monotonic {bool(arrays['monotonic'][k])}, largest step {step:.3g}% "
              f"of the range, climb {100 * climb / span:.3g}%, final {loss} {traj.losses[loss][-1]:.5g}{extra}")


if __name__ == "__main__":
    main()
