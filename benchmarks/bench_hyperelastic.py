"""Batched hyperelastic `drm` (and `drm` + `pinn`) on many parameter vectors against a per-vector loop.

The loop is what a notebook would do: load each vector into an nn.Module, take grad u (and its
Hessian for `pinn`) with torch.autograd, apply the Neo-Hookean law with torch.linalg. Both run in this
one process; read the ratio (machines are noisy).

    python benchmarks/bench_hyperelastic.py [--vectors 2500] [--loop-vectors 200] [--dtype float64]
"""

from __future__ import annotations

import argparse

import torch
from _reference import best_of, module_from_vector

from pinnviz.problems import build_physics


def loop_losses(physics, thetas: torch.Tensor, batch: dict, pinn: bool) -> torch.Tensor:
    """(G, 1 or 2): drm (and pinn) one vector at a time with autograd."""
    problem = physics.problem
    l1, l2 = problem.lame1, problem.lame2
    x0, w, B = batch["x"], batch["w"], batch["B"]
    eye = torch.eye(2, dtype=x0.dtype)
    rows = []
    for theta in thetas:
        module = module_from_vector(physics.net, theta)
        x = x0.clone().requires_grad_(True)
        u = (1 - (x * x).sum(1, keepdim=True)) * module(x)
        grad = torch.stack([torch.autograd.grad(u[:, i].sum(), x, create_graph=pinn, retain_graph=True)[0]
                            for i in range(2)], dim=1)
        F = eye + grad
        log_j = torch.log(torch.linalg.det(F))
        drm = ((0.5 * l1 * ((F * F).sum((1, 2)) - 2 * log_j) + 0.5 * l2 * log_j**2 - (u * B).sum(1)) @ w)
        row = [drm.detach()]
        if pinn:
            F_inv_t = torch.linalg.inv(F).transpose(1, 2)
            P = l1 * (F - F_inv_t) + l2 * log_j[:, None, None] * F_inv_t
            div = torch.stack([sum(torch.autograd.grad(P[:, i, j].sum(), x, retain_graph=True)[0][:, j]
                                   for j in range(2)) for i in range(2)], dim=1)
            row.append((0.5 * ((div + B) ** 2).sum(1) @ w).detach())
        rows.append(torch.stack(row))
    return torch.stack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=2_500)
    parser.add_argument("--loop-vectors", type=int, default=200, help="loop time is scaled from these")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--chunk", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)

    physics = build_physics("hyperelastic2d")
    net = physics.net
    thetas = net.init(args.vectors, generator=torch.Generator().manual_seed(0), dtype=dtype)
    batch = {k: v.to(dtype) for k, v in physics.problem.sample(dtype).items()}
    print(f"vectors={args.vectors} params={net.n_params} points={physics.problem.quadrature.points} "
          f"dtype={args.dtype} threads={torch.get_num_threads()} chunk={args.chunk}")
    n_loop = min(args.loop_vectors, args.vectors)
    for names in (["drm"], ["drm", "pinn"]):
        physics.evaluate(thetas[:128], names, batch=batch, chunk=args.chunk)  # warm-up
        batched = best_of(lambda n=names: physics.evaluate(thetas, n, batch=batch, chunk=args.chunk),
                          args.repeats)
        pinn = "pinn" in names
        looped = best_of(lambda p=pinn: loop_losses(physics, thetas[:n_loop], batch, p), 1) * args.vectors / n_loop
        check = physics.evaluate(thetas[:20], names, batch=batch)
        reference = loop_losses(physics, thetas[:20], batch, pinn)
        agree = max(float(((check[n] - reference[:, k]).abs() / reference[:, k].abs()).max())
                    for k, n in enumerate(names))
        label = "+".join(names)
        print(f"{label:9s} loop (scaled from {n_loop}): {looped:.3f} s   batched: {batched:.3f} s   "
              f"speed-up {looped / batched:.1f}x   max rel. disagreement (20 vectors) {agree:.1e}")


if __name__ == "__main__":
    main()
