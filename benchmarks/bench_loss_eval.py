"""Batched `drm` + `pinn` on 10,000 parameter vectors (a 100x100 grid) against a per-vector loop.

The loop is what a notebook would do: build an nn.Module, load each vector, take u', u'' with
autograd. Both run in this one process; the ratio is what to read (machines are noisy).

    python benchmarks/bench_loss_eval.py [--vectors 10000] [--loop-vectors 2000] [--dtype float64]
"""

from __future__ import annotations

import argparse

import torch
from _reference import best_of, loop_losses

from pinnviz.nets import MLP
from pinnviz.problems import PhysicsLosses, Poisson1D


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=10_000)
    parser.add_argument("--loop-vectors", type=int, default=2_000, help="loop time is scaled from these")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)

    problem = Poisson1D()
    net = MLP(1, 1, 20, 2)
    losses = PhysicsLosses(problem, net)
    thetas = net.init(args.vectors, generator=torch.Generator().manual_seed(0), dtype=dtype)
    batch = {k: v.to(dtype) for k, v in problem.sample(dtype).items()}

    losses.evaluate(thetas[:256], ["drm", "pinn"], batch=batch, chunk=args.chunk)  # warm-up
    batched = best_of(lambda: losses.evaluate(thetas, ["drm", "pinn"], batch=batch, chunk=args.chunk),
                      args.repeats)
    n_loop = min(args.loop_vectors, args.vectors)
    looped = best_of(lambda: loop_losses(net, thetas[:n_loop], batch), 1) * args.vectors / n_loop

    check = losses.evaluate(thetas[:50], ["drm", "pinn"], batch=batch)
    reference = loop_losses(net, thetas[:50], batch)
    agree = max(
        float(((check["drm"] - reference[:, 0]).abs() / reference[:, 0].abs()).max()),
        float(((check["pinn"] - reference[:, 1]).abs() / reference[:, 1].abs()).max()),
    )
    print(f"vectors={args.vectors} params={net.n_params} points={problem.quadrature.points} "
          f"dtype={args.dtype} threads={torch.get_num_threads()} chunk={args.chunk}")
    print(f"loop (nn.Module + autograd, scaled from {n_loop}): {looped:.3f} s")
    print(f"batched analytic forward mode:                {batched:.3f} s")
    print(f"speed-up: {looped / batched:.1f}x   (target >= 25x in float64)")
    print(f"max relative disagreement on 50 vectors: {agree:.2e}")


if __name__ == "__main__":
    main()
