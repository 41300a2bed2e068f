"""Summary of stored `spectrum` probes: python spectrum_summary.py STORE PROBE [PROBE ...].

For each probe (e.g. spectrum-drm, spectrum-drm-x+tanh): the largest eigenvalue at the first and last
probed row and in how many intervals it rose, the magnitude of the most negative eigenvalue at the first
and last row, and how many final eigenvalues are below 1e-3 of the largest magnitude.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.probes import load_probe  # noqa: E402
from pinnviz.store import open_run  # noqa: E402


def main() -> None:
    run = open_run(sys.argv[1])
    for name in sys.argv[2:]:
        arrays, _ = load_probe(run, name)
        largest, negative, final = arrays["largest"], arrays["most_negative"], arrays["eigenvalues"][-1]
        near_zero = int((np.abs(final) < 1e-3 * np.abs(final).max()).sum())
        rises = int((np.diff(largest) > 0).sum())
        print(f"{name}: largest {largest[0]:.4g} -> {largest[-1]:.4g} (rises in {rises} of {len(largest) - 1} "
              f"intervals), most negative magnitude {negative[0]:.3g} -> {negative[-1]:.3g}, "
              f"{near_zero}/{len(final)} below 1e-3 of the largest at the end")


if __name__ == "__main__":
    main()
