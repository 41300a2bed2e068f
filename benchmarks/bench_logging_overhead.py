"""Training time with every step logged to a Zarr store against the same training without a store.

Both loops run in this process on the paper's setting (1-20-20-1, Adam, lr 1e-3, `pinn`); the
logged loop also evaluates every loss component of every step (that is what it stores).

    python benchmarks/bench_logging_overhead.py [--steps 7500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from pinnviz.nets import MLP
from pinnviz.problems import PhysicsLosses, Poisson1D
from pinnviz.trainers import TrainConfig, train


def bare_training(physics: PhysicsLosses, config: TrainConfig) -> None:
    """The loop a notebook would write: objective only, nothing kept."""
    theta = torch.nn.Parameter(physics.net.init(1, generator=torch.Generator().manual_seed(config.seed)))
    optimizer = torch.optim.Adam([theta], lr=config.lr)
    batch = physics.prepare(theta.detach())
    for _ in range(config.steps):
        loss = physics(theta, [config.loss], batch)[config.loss].sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def logged_training(physics: PhysicsLosses, config: TrainConfig, folder: Path) -> None:
    path = folder / f"run-{time.monotonic_ns()}.zarr"
    train(path, physics, config)
    shutil.rmtree(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=7500, help="the paper's run length")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loss", default="pinn")
    args = parser.parse_args()
    physics = PhysicsLosses(Poisson1D(), MLP(1, 1, 20, 2))
    config = TrainConfig(loss=args.loss, steps=args.steps)
    bare, logged = [], []
    with tempfile.TemporaryDirectory() as folder:
        bare_training(physics, TrainConfig(loss=args.loss, steps=100))  # warm-up
        for _ in range(args.repeats):  # interleaved, so drifts in machine load hit both
            start = time.perf_counter()
            bare_training(physics, config)
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            logged_training(physics, config, Path(folder))
            logged.append(time.perf_counter() - start)
    b, lg = min(bare), min(logged)
    print(f"steps={args.steps} loss={args.loss} params={physics.net.n_params} threads={torch.get_num_threads()}")
    print(f"no store (objective only):                  {b:.3f} s  ({1e3 * b / args.steps:.3f} ms/step)")
    print(f"every step + every loss logged to Zarr:     {lg:.3f} s  ({1e3 * lg / args.steps:.3f} ms/step)")
    print(f"overhead: {100 * (lg / b - 1):.1f}%   (target <= 10%)")


if __name__ == "__main__":
    main()
