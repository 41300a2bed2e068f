"""The loss along the straight line between a trajectory's projected start and end on a stored landscape.

    python plane_line.py STORE LANDSCAPE TRAJECTORY LOSS [--points 41]

The paper's reading of its figure 36: on the first principal plane a straight line from the projected
initial to the projected final state meets a small barrier. This reads the landscape's grid (bilinear
interpolation between its cells) along that segment and prints the largest rise on the way down (the
largest value minus the smallest value before it), relative to the line's range, and where it is.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.interpolate import RegularGridInterpolator

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.landscape import load_landscape  # noqa: E402
from pinnviz.store import open_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("store", "landscape", "trajectory", "loss"):
        parser.add_argument(name)
    parser.add_argument("--points", type=int, default=41)
    args = parser.parse_args()
    data = load_landscape(open_run(args.store).group, args.landscape)
    grid = data.losses[args.loss]  # (axis_1, axis_0): rows b, columns a
    coords = data.trajectories[args.trajectory].coords
    interp = RegularGridInterpolator((data.axis_1, data.axis_0), grid)
    t = np.linspace(0, 1, args.points)
    line = coords[0][None] + t[:, None] * (coords[-1] - coords[0])[None]
    values = interp(line[:, ::-1])
    rise = values - np.minimum.accumulate(values)
    k = int(np.argmax(rise))
    print(f"{args.landscape}: {args.loss} along the line from {coords[0].round(3)} to {coords[-1].round(3)}: "
          f"{values[0]:.4g} -> {values[-1]:.4g}; largest rise {rise[k]:.4g} ({100 * rise[k] / np.ptp(values):.3g}% "
          f"of the range) at t = {t[k]:.3g}; monotonic: {bool(rise.max() <= 1e-6 * np.ptp(values))}")


if __name__ == "__main__":
    main()
