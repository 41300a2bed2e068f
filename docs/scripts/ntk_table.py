"""Delta K(t) and the trace ratio of stored `ntk` probes: python ntk_table.py STORE [STORE ...].

One line per store (its first ntk probe): Delta K at a few probed steps, the largest Delta K, and
Tr K_rr / Tr K_uu at the first and last probed step; plus the final test error of the trajectory.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.probes import load_probe  # noqa: E402
from pinnviz.probes._store import probe_names  # noqa: E402
from pinnviz.store import open_run  # noqa: E402


def main() -> None:
    for store in sys.argv[1:]:
        run = open_run(store)
        name = next(n for n in probe_names(run) if n.startswith("ntk-"))
        arrays, attrs = load_probe(run, name)
        steps, delta = arrays["step"], arrays["delta"]
        ratio = arrays["trace_rr"] / arrays["trace_uu"]
        picks = sorted({0, 1, len(steps) // 4, len(steps) // 2, 3 * len(steps) // 4, len(steps) - 1})
        shown = ", ".join(f"{int(steps[i])}: {delta[i]:.3g}" for i in picks)
        traj = run.trajectory(attrs.get("trajectory", run.trajectory_names()[0]))
        test = traj.losses["test"][-1] if "test" in traj.losses else float("nan")
        print(f"{name}: Delta K at step {shown}; max {np.max(delta):.3g}; Tr K_rr / Tr K_uu {ratio[0]:.3g} -> "
              f"{ratio[-1]:.3g}; final test error {test:.3g}")


if __name__ == "__main__":
    main()
