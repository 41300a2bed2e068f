"""Where do the balancing runs end on a stored test-loss landscape? (Neuro-Visualizer figure 7)

    python figure7_minima.py STORE LANDSCAPE [--loss test]

On the landscape's latent grid: the grid minimum of the loss (value, place, distance to the data); for
each trajectory: its last point's latent place, its true loss and the map's loss there, the latent
distance to the grid minimum (in units of the grid's diagonal), and the basin it falls in: the local
minimum of the grid reached by steepest descent over the 8 neighbours from the grid point nearest to it,
and how far that minimum is.
Runs in the same basin "converge to the same minimum" on this map.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.landscape import load_landscape  # noqa: E402
from pinnviz.store import open_run  # noqa: E402


def descend(grid: np.ndarray, start: tuple[int, int]) -> tuple[int, int]:
    """The local minimum of `grid` (NaN = +inf) reached from `start` by moving to the lowest neighbour."""
    values = np.where(np.isfinite(grid), grid, np.inf)
    i, j = start
    while True:
        window = values[max(i - 1, 0): i + 2, max(j - 1, 0): j + 2]
        di, dj = np.unravel_index(np.argmin(window), window.shape)
        ni, nj = max(i - 1, 0) + di, max(j - 1, 0) + dj
        if values[ni, nj] >= values[i, j]:
            return i, j
        i, j = ni, nj


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("landscape")
    parser.add_argument("--loss", default="test")
    args = parser.parse_args()
    data = load_landscape(open_run(args.store).group, args.landscape)
    grid, a0, a1 = data.losses[args.loss], data.axis_0, data.axis_1
    diagonal = np.hypot(np.ptp(a0), np.ptp(a1))
    i1, i0 = np.unravel_index(np.nanargmin(grid), grid.shape)
    print(f"grid {len(a0)}x{len(a1)}, diagonal {diagonal:.3g}; {args.loss} minimum {grid[i1, i0]:.4g} at "
          f"({a0[i0]:.3g}, {a1[i1]:.3g}), distance to the data {data.data_distance[i1, i0]:.3g}, "
          f"extrapolated {bool(data.extrapolated[i1, i0])}; grid median {np.nanmedian(grid):.4g}")
    for name, diag in data.trajectories.items():
        x, y = diag.coords[-1]
        start = (int(np.abs(a1 - y).argmin()), int(np.abs(a0 - x).argmin()))
        b1, b0 = descend(grid, start)
        true = diag.true_loss[args.loss][-1] if args.loss in diag.true_loss else float("nan")
        at = diag.loss_at_projection[args.loss][-1] if args.loss in diag.loss_at_projection else float("nan")
        print(f"{name}: end at ({x:.3g}, {y:.3g}); true {args.loss} {true:.4g}, map {at:.4g}; "
              f"to the grid minimum {np.hypot(x - a0[i0], y - a1[i1]) / diagonal:.3f} diagonals; basin: local "
              f"minimum {grid[b1, b0]:.4g} at ({a0[b0]:.3g}, {a1[b1]:.3g}), "
              f"{np.hypot(x - a0[b0], y - a1[b1]) / diagonal:.3f} diagonals away")


if __name__ == "__main__":
    main()
