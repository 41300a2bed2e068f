"""Merge trees: `pinnviz.topology.merge_tree` on a 100x100 and a 40^4 field, against gudhi and Landscaper.

The fields are landscape-like: a bowl with a few Gaussian dips plus noise (many small basins), and for
40^4 also pure noise. gudhi's cubical persistence of the same field is timed beside ours on the
100x100 fields (it computes every homology dimension, not only the 0-dim pairs, and no basins; on
40^4 it took 469 s against our 12 s in one loaded run, so it is skipped there unless --gudhi-4d).
Landscaper (`landscaper.tda.merge_tree`: topopy on a Gabriel graph of the grid points) runs in a
subprocess with a time limit; point --landscaper-path at a folder where it is installed
(`pip install --no-deps --target DIR landscaper topopy nglpy treelib coloraide drawsvg`: topopy pins
numpy < 2 and networkx < 3, which must not replace ours) or leave it out to skip it.

    python benchmarks/bench_topology.py [--landscaper-path DIR] [--landscaper-limit 120] [--skip-4d]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
from _reference import best_of

from pinnviz.topology import merge_tree


def landscape_like(shape: tuple[int, ...], seed: int = 0, noise: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    field = sum(a**2 for a in axes)
    for _ in range(6):
        centre = rng.uniform(-1, 1, len(shape))
        field = field - 0.5 * np.exp(-sum((a - c) ** 2 for a, c in zip(axes, centre, strict=True)) / 0.05)
    return field + noise * rng.standard_normal(shape)


def gudhi_seconds(field: np.ndarray, connectivity: str) -> float | None:
    try:
        import gudhi
    except ImportError:
        return None
    key = "vertices" if connectivity == "face" else "top_dimensional_cells"

    def run() -> None:
        gudhi.CubicalComplex(**{key: field}).compute_persistence(min_persistence=0)

    return best_of(run, 1)


LANDSCAPER_SCRIPT = """
import sys, time, numpy as np
from landscaper import tda
field = np.load(sys.argv[1])
axes = np.meshgrid(*[np.linspace(-1, 1, n) for n in field.shape], indexing="ij")
coords = np.stack([a.ravel() for a in axes], axis=1)
start = time.perf_counter()
tree = tda.merge_tree(field, coords)
print(f"{time.perf_counter() - start:.3f} {len(tree.nodes)}")
"""


def landscaper_seconds(field: np.ndarray, path: str, limit: float) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/field.npy", field)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([path, os.environ.get("PYTHONPATH", "")])}
        try:
            done = subprocess.run([sys.executable, "-c", LANDSCAPER_SCRIPT, f"{tmp}/field.npy"], env=env,
                                  capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return f"did not finish within {limit:.0f} s"
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    seconds, nodes = done.stdout.split()
    return f"{float(seconds):.3f} s ({nodes} tree nodes)"


def cpu_seconds(fn) -> float:
    """CPU time of one call: on a machine shared by many jobs, closer to an idle machine's wall time."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def row(label: str, field: np.ndarray, connectivity: str, repeats: int, gudhi: bool = True) -> None:
    ours = best_of(lambda: merge_tree(field, connectivity), repeats)
    cpu = min(cpu_seconds(lambda: merge_tree(field, connectivity)) for _ in range(repeats))
    tree = merge_tree(field, connectivity)
    theirs = gudhi_seconds(field, connectivity) if gudhi else None
    ratio = f"{theirs / ours:6.2f}x" if theirs else "   n/a"
    gudhi_text = f"{theirs:8.3f} s" if theirs else "   n/a"
    print(f"{label:<26} {connectivity:<5} {ours:8.3f} s {cpu:8.3f} s {gudhi_text} {ratio}   "
          f"{tree.is_minimum.sum():>7} minima")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landscaper-path", default=None, help="folder where landscaper and topopy are installed")
    parser.add_argument("--landscaper-limit", type=float, default=120.0, help="seconds before giving up")
    parser.add_argument("--skip-4d", action="store_true")
    parser.add_argument("--gudhi-4d", action="store_true", help="also time gudhi on the 40^4 fields (minutes)")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} (timings are inflated on a busy machine)")
    print(f"{'field':<26} {'conn':<5} {'ours wall':>10} {'ours CPU':>10} {'gudhi wall':>10} {'gudhi/ours':>8}")
    small = landscape_like((100, 100))
    for connectivity in ("face", "full"):
        row("100x100 landscape-like", small, connectivity, 5)
        row("100x100 noise", np.random.default_rng(1).standard_normal((100, 100)), connectivity, 5)
    if not args.skip_4d:
        big = landscape_like((40, 40, 40, 40))
        for connectivity in ("face", "full"):
            row("40^4 landscape-like", big, connectivity, 1, args.gudhi_4d)
        row("40^4 noise", np.random.default_rng(2).standard_normal((40,) * 4), "face", 1, args.gudhi_4d)
    if args.landscaper_path:
        start = time.perf_counter()
        small_text = landscaper_seconds(landscape_like((20, 20)), args.landscaper_path, args.landscaper_limit)
        print(f"Landscaper merge tree, 20x20 landscape-like: {small_text}")
        text = landscaper_seconds(small, args.landscaper_path, args.landscaper_limit)
        print(f"Landscaper merge tree, 100x100 landscape-like: {text} (wall {time.perf_counter() - start:.0f} s)")
    else:
        print("Landscaper: not run (no --landscaper-path)")


if __name__ == "__main__":
    main()
