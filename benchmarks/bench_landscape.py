"""`pinnviz landscape` at R = 100 on a Poisson `pinn` run against the Neuro-Visualizer reference's approach.

The reference decodes its grid in one batch, then for every grid point builds a model, loads the
vector and computes the loss with autograd. Both evaluate the same decoded 10,000 vectors in this
process; the ratio is what to read (machines are noisy).

    python benchmarks/bench_landscape.py [--steps 2000] [--resolution 100] [--loop-points 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _reference import loop_losses

from pinnviz.landscape import compute_landscape
from pinnviz.manifolds import fit_manifold, load_manifold
from pinnviz.problems import build_physics
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--resolution", type=int, default=100)
    parser.add_argument("--loop-points", type=int, default=1000, help="reference time is scaled from these")
    parser.add_argument("--method", default="pca")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.zarr"
        physics = build_physics("poisson1d")
        train(path, physics, TrainConfig(loss="pinn", steps=args.steps, log_every=max(1, args.steps // 500)))
        run = open_run(path, mode="r+")
        fit_manifold(run, args.method)
        data = compute_landscape(run, args.method, resolution=args.resolution, losses=["pinn"])
        ours = data.attrs["evaluate_seconds"]

        manifold = load_manifold(run, args.method)
        g0, g1 = np.meshgrid(data.axis_0, data.axis_1)
        decoded = torch.as_tensor(manifold.decode(np.stack([g0.ravel(), g1.ravel()], axis=1)))
        batch = physics.problem.sample()
        n = min(args.loop_points, len(decoded))
        picks = torch.linspace(0, len(decoded) - 1, n).round().long()
        start = time.perf_counter()
        reference = loop_losses(physics.net, decoded[picks], batch, names=("pinn",), fresh_model=True)[:, 0]
        looped = (time.perf_counter() - start) * len(decoded) / n
        stored = torch.as_tensor(data.losses["pinn"].ravel()[picks.numpy()])
        agree = float(((stored - reference).abs() / reference.abs()).max())
    print(f"grid {args.resolution}x{args.resolution} = {len(decoded)} vectors, {physics.net.n_params} params, "
          f"method {args.method}, pinn, float64, threads={torch.get_num_threads()}")
    print(f"reference (per point: build model, load vector, autograd; scaled from {n}): {looped:.2f} s")
    print(f"pinnviz landscape (batched analytic forward mode):                   {ours:.3f} s")
    print(f"speed-up: {looped / ours:.1f}x   (target >= 25x)")
    print(f"max relative disagreement on the {n} reference points: {agree:.1e}")


if __name__ == "__main__":
    main()
