"""Summary of stored `hessian-walk` probes: python walk_summary.py STORE PROBE [PROBE ...].

For each probe (e.g. hessian-walk-drm): |theta_f|, the largest distance from theta_f, the largest
|loss change| (absolute and relative to |loss at theta_f|), the largest |loss change| until the walk
first gets |theta_f| away from theta_f (and that step), and the median |eigenvalue| followed.
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
        arrays, attrs = load_probe(run, name)
        change, distance = np.abs(arrays["change"]), arrays["distance"]
        start = abs(float(arrays["loss"][0]))
        far = np.nonzero(distance >= attrs["theta_norm"])[0]
        reach = f"step {far[0]}, max |change| before it {change[: far[0] + 1].max():.3g}" if len(far) else "never"
        print(f"{name}: |theta_f| {attrs['theta_norm']:.4g}, max distance {distance.max():.4g}, max |change| "
              f"{change.max():.3g} (relative {change.max() / start:.3g} of {start:.4g}); distance |theta_f| "
              f"reached at {reach}; median |eigenvalue| {np.median(np.abs(arrays['eigenvalue'])):.3g}")


if __name__ == "__main__":
    main()
