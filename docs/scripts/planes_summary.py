"""Summarise stored random-planes probes: python planes_summary.py STORE:PROBE[:LOSS] [STORE:PROBE[:LOSS] ...].

For each probe (LOSS: the stored loss, default the first): the NaN (not evaluable) fraction of all
planes' cells, the loss at the centre and the finite range. With two or more probes of the same grid
size, also the angle between the first probe's and each other's in-plane gradient at the centre, plane
by plane (central differences of the stored grids): whether two losses point the same way there.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.probes import load_probe  # noqa: E402
from pinnviz.store import open_run  # noqa: E402


def grids_of(spec: str) -> tuple[str, np.ndarray]:
    store, probe, *loss = spec.split(":")
    arrays, _ = load_probe(open_run(store), probe)
    names = [k for k in arrays if k.startswith("loss/")]
    key = f"loss/{loss[0]}" if loss else names[0]
    return f"{probe} ({key[5:]})", arrays[key]


def centre_gradients(grids: np.ndarray) -> np.ndarray:
    """(K, 2): d/da and d/db at the centre of each (K, R, R) grid (rows: b, columns: a)."""
    c = grids.shape[1] // 2
    return np.stack([grids[:, c, c + 1] - grids[:, c, c - 1], grids[:, c + 1, c] - grids[:, c - 1, c]], axis=1)


def main() -> None:
    specs = [grids_of(s) for s in sys.argv[1:]]
    for label, grids in specs:
        c = grids.shape[1] // 2
        print(f"{label}: NaN fraction {np.isnan(grids).mean():.3f}, centre {grids[0, c, c]:.4g}, "
              f"finite range {np.nanmin(grids):.4g} - {np.nanmax(grids):.4g}")
    first = centre_gradients(specs[0][1])
    for label, grids in specs[1:]:
        other = centre_gradients(grids)
        cos = (first * other).sum(1) / (np.linalg.norm(first, axis=1) * np.linalg.norm(other, axis=1))
        angles = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        print(f"gradient angle at the centre, {specs[0][0]} against {label}, per plane (degrees): "
              + " ".join(f"{a:.0f}" for a in angles))


if __name__ == "__main__":
    main()
