"""When do the acceleration spikes start? python acceleration_spikes.py STORE TRAJECTORY [--after N --until M].

Reads the stored `acceleration-<TRAJECTORY>` probe. The reference level is the largest |theta''| between
steps AFTER (1,000) and UNTIL (10,000): past the initial transient, long before convergence. A spike
is a step where |theta''| exceeds 10 times that level; the script prints the first such step, the loss
there, the final loss and their ratio (how much the loss still falls after it). It also prints the
median |theta''| and |theta''| / |theta'|^2 (and the largest |theta''|) over the page's windows of steps.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.probes import load_probe  # noqa: E402
from pinnviz.store import open_run  # noqa: E402

WINDOWS = ((0, 100), (1000, 2000), (5000, 6000), (10000, 11000), (14000, 15000), (16000, 20001))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("trajectory")
    parser.add_argument("--after", type=int, default=1000)
    parser.add_argument("--until", type=int, default=10000)
    args = parser.parse_args()
    run = open_run(args.store)
    arrays, attrs = load_probe(run, f"acceleration-{args.trajectory}")
    steps, acc = arrays["steps"], arrays["acceleration"]
    window = (steps >= args.after) & (steps < args.until)
    level = float(acc[window].max())
    spikes = np.flatnonzero((acc > 10 * level) & (steps >= args.after))
    traj = run.trajectory(args.trajectory)
    loss = traj.losses[attrs["loss"]]
    for lo, hi in WINDOWS:
        inside = (steps >= lo) & (steps < hi)
        print(f"steps {lo}-{hi}: median |theta''| {np.median(acc[inside]):.3g} (max {acc[inside].max():.3g}), "
              f"median normalised {np.median(arrays['normalised'][inside]):.3g}")
    print(f"largest |theta''| in steps {args.after}-{args.until}: {level:.3g}; overall max {acc.max():.3g}")
    if not len(spikes):
        print("no step exceeds 10x that level")
        return
    first = int(steps[spikes[0]])
    at = float(loss[np.searchsorted(traj.steps, first)])
    print(f"first spike (> {10 * level:.3g}) at step {first}: {attrs['loss']} {at:.3g} there, {loss[-1]:.3g} at "
          f"the end (falls {at / loss[-1]:.3g}x more); {len(spikes)} spike steps in all")


if __name__ == "__main__":
    main()
