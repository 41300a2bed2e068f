"""Per-radius final losses of a stored `goldilocks` probe: python goldilocks_table.py STORE.

For each loss: the median, min and max over the trials of the final loss on every hypersphere, the
number of trials below the exact discrete drm minimum (-13.662; quadrature exploitation), and the
unconstrained runs' |theta| at the start and the end (median over the trials) for each initial scale.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.probes import load_probe  # noqa: E402
from pinnviz.store import open_run  # noqa: E402

DRM_MINIMUM = -13.662


def main() -> None:
    arrays, attrs = load_probe(open_run(sys.argv[1]), "goldilocks")
    print(f"{attrs['trials']} trials, {attrs['steps']} sphere steps, {attrs['free_steps']} free steps")
    for loss in attrs["losses"]:
        final = arrays[f"{loss}/final"]
        pairs = list(zip(arrays["radii"], final, strict=True))
        cells = [f"R={r:g}: {np.median(f):.4g} ({f.min():.4g} .. {f.max():.4g})" for r, f in pairs]
        print(f"{loss}: median (min .. max) final loss " + "; ".join(cells))
        if loss == "drm":
            below = [f"R={r:g}: {int((f < DRM_MINIMUM - 1e-3).sum())}" for r, f in pairs]
            print(f"drm: trials below {DRM_MINIMUM} - 1e-3: " + ", ".join(below))
        summary = attrs["summary"][loss]
        norms = [f"x{s:g}: {a:.3g} -> {b:.3g}" for s, a, b in
                 zip(arrays["scales"], summary["free_norm_start"], summary["free_norm_end"], strict=True)]
        print(f"{loss}: free |theta| " + ", ".join(norms) + f"; best radius {summary['best_radius']:g}")


if __name__ == "__main__":
    main()
