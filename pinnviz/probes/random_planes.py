"""`random-planes` (Rowan et al. 2024, sections 2.4 and 2.5): the loss on planes of random directions.

The planes are `RandomPlaneManifold`s (filter-normalised directions, Li et al. 2018), so the same
directions can be drawn by `pinnviz landscape`. With `stochastic=B` every evaluation re-draws B Monte
Carlo points (the quadrature of the run's problem switched to "montecarlo"), and the integrand
variance of each loss at the centre is reported.
"""

from __future__ import annotations

import numpy as np
import torch

from pinnviz.errors import InvalidSettingError, check_settings
from pinnviz.manifolds import RandomPlaneManifold
from pinnviz.probes._fast_hessian import objective_of
from pinnviz.probes._store import save_probe
from pinnviz.problems import PhysicsLosses, problem_from_settings
from pinnviz.store import Run

AT = ("final", "initial")


def plane_directions(center: np.ndarray, layout: list[dict] | None, seed: int,
                     normalise: str = "filter") -> np.ndarray:
    """Two filter-normalised random directions (2, P) around `center`, as `RandomPlaneManifold` draws them."""
    plane = RandomPlaneManifold(seed=seed, center=center, layout=layout, normalise=normalise)
    return plane.fit(np.repeat(center[None], 3, axis=0)).directions_


def pointwise_integrands(physics: PhysicsLosses, theta: torch.Tensor, batch: dict, names) -> dict[str, torch.Tensor]:
    """Integrand of each loss at each quadrature point: {name: (G, N)}, so that loss = integrand @ w.

    The problem's own `integrands(fields, batch, names)`, the one its losses are integrated from.
    """
    hook = getattr(physics.problem, "integrands", None)
    if hook is None:
        raise InvalidSettingError(f"{physics.problem.name} has no pointwise integrands (an `integrands` method)")
    order = physics.problem.losses_order(names)
    distance = (lambda _x: batch["distance"]) if physics.net.bc == "hard" else None
    fields = physics.net.fields(theta, batch["x"], order, distance)
    return hook(fields, batch, names)


def integrand_variance(physics: PhysicsLosses, theta: torch.Tensor, names, batch: dict | None = None) -> dict:
    """sigma^2 = int g^2 - (int g)^2 of each loss's integrand g at theta (P,), on the run's quadrature."""
    batch = physics.prepare(theta[None], batch)
    with torch.no_grad():
        g = pointwise_integrands(physics, theta[None], batch, names)
    w = batch["w"] / batch["w"].sum()
    return {name: float((g[name][0] ** 2) @ w - (g[name][0] @ w) ** 2) for name in names}


def montecarlo_physics(run: Run, points: int, seed: int) -> PhysicsLosses:
    """The run's physics with its quadrature switched to `points` Monte Carlo samples per evaluation."""
    settings = {**run.problem, "quadrature": "montecarlo", "points": int(points), "seed": int(seed)}
    try:
        problem = problem_from_settings(settings)
    except TypeError as exc:
        raise InvalidSettingError(f"{run.problem.get('name')} has no Monte Carlo quadrature ({exc})") from None
    physics = run.physics()
    return PhysicsLosses(problem, physics.net)


def sample_blocks(drawing: PhysicsLosses, k: int, B: int, like: torch.Tensor) -> dict:
    """k independent Monte Carlo quadratures of B points each, as one batch with a leading axis (k, B, ...).

    One draw of n = chunk x B uniform points (`drawing`'s Monte Carlo quadrature) is cut into blocks of
    B; a point's weight L / n becomes L / B, so each block is a quadrature of its own.
    """
    batch = drawing.prepare(like[:1])
    n = batch["x"].shape[0]
    if n % B:
        raise InvalidSettingError(f"a Monte Carlo draw of {n} points does not split into blocks of {B}")
    blocks = {}
    for key, value in batch.items():
        if key == "distance":
            blocks[key] = tuple(part[: k * B].reshape(k, B, *part.shape[1:]) for part in value)
        else:
            blocks[key] = value[: k * B].reshape(k, B, *value.shape[1:])
    blocks["w"] = blocks["w"] * (n // B)
    return blocks


@torch.no_grad()
def stochastic_losses(physics: PhysicsLosses, theta: torch.Tensor, names, *,
                      chunk: int = 64) -> dict[str, torch.Tensor]:
    """Losses (G,) of theta (G, P), each vector on its own fresh Monte Carlo quadrature.

    `physics` has a Monte Carlo quadrature (`montecarlo_physics`) of B points per vector. For each chunk of vectors one
    sample is drawn and split into per-vector blocks (`sample_blocks`); the problem's own losses are
    evaluated on all of them at once with `torch.func.vmap` over (vector, its block).
    """
    B = physics.problem.quadrature.points
    settings = {**physics.problem.settings(), "points": B * chunk}
    drawing = PhysicsLosses(type(physics.problem).from_settings(settings), physics.net)

    def one(vector: torch.Tensor, block: dict) -> dict[str, torch.Tensor]:
        return physics(vector[None], names, block, functional=True)

    parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for start in range(0, theta.shape[0], chunk):
        vectors = theta[start : start + chunk]
        values = torch.func.vmap(one)(vectors, sample_blocks(drawing, len(vectors), B, vectors))
        for name in names:
            parts[name].append(values[name][:, 0])
    return {name: torch.cat(parts[name]) for name in names}


def random_planes(run: Run, trajectory: str, *, at: str = "final", pairs: int = 9, resolution: int = 31,
                  extent: float = 1.0, losses=None, seed: int = 0, normalise: str = "filter",
                  stochastic: int | None = None, name: str | None = None, save: bool = True) -> dict:
    """Losses on `pairs` planes center + a d0 + b d1, a, b in [-extent, extent], around a trajectory's point.

    Parameters
    ----------
    at : "final" (last row) or "initial" (first row) of `trajectory`
    losses : names to evaluate (default: the trajectory's objective)
    seed : plane k uses seed + k
    stochastic : B, re-draw B Monte Carlo points at every evaluation (None: the run's quadrature)

    Returns (and stores in `probes/<name>`, default "random-planes-<at>-<trajectory>[-mc<B>]") a dict: axis
    (R,), directions (pairs, 2, P), center (P,), loss/<name> (pairs, R, R) (row: b, column: a),
    and with `stochastic` the integrand variance of every loss at the center (`variance`).
    """
    if at not in AT:
        raise InvalidSettingError(f"at={at!r} must be one of {', '.join(AT)}")
    check_settings(("pairs", pairs, pairs >= 1, ">= 1"), ("resolution", resolution, resolution >= 2, ">= 2"),
                   ("extent", extent, extent > 0 and np.isfinite(extent), "a finite number > 0"))
    if stochastic is not None and stochastic < 1:
        raise InvalidSettingError(f"stochastic={stochastic} must be a number of points >= 1")
    physics = run.physics()
    names = physics.check_names(list(losses)) if losses else [objective_of(run, physics, trajectory, None)]
    params = run.trajectory(trajectory).params
    if len(params) == 0:
        raise InvalidSettingError(f"trajectory {trajectory!r} has no rows yet")
    center = params[-1 if at == "final" else 0]
    layout = run.model.get("layout")
    directions = np.stack([plane_directions(center, layout, seed + k, normalise) for k in range(pairs)])
    axis = np.linspace(-extent, extent, resolution)
    a, b = np.meshgrid(axis, axis)  # (R, R): row b, column a
    coef = np.stack([a.ravel(), b.ravel()], axis=1)  # (R*R, 2)
    # (pairs, R*R, 2) @ (pairs, 2, P) -> (pairs, R*R, P)
    theta = torch.as_tensor(center[None, None, :] + np.einsum("gc,kcp->kgp", coef, directions)).reshape(-1, len(center))
    variance = {}
    if stochastic is None:
        values = physics.evaluate(theta, names)
    else:
        mc = montecarlo_physics(run, stochastic, seed)
        values = stochastic_losses(mc, theta, names)
        variance = integrand_variance(physics, torch.as_tensor(center), names)
    grids = {n: values[n].numpy().reshape(pairs, resolution, resolution) for n in names}
    result = {"axis": axis, "directions": directions, "center": center, "losses": grids, "variance": variance,
              "at": at, "stochastic": stochastic}
    result["name"] = name = name or f"random-planes-{at}-{trajectory}" + (f"-mc{stochastic}" if stochastic else "")
    if save:
        arrays = {"axis": axis, "directions": directions, "center": center,
                  **{f"loss/{n}": g for n, g in grids.items()}}
        save_probe(run, name, arrays, {"probe": "random-planes", "trajectory": trajectory, "at": at, "pairs": pairs,
                                       "resolution": resolution, "extent": extent, "losses": names, "seed": seed,
                                       "normalise": normalise, "stochastic": stochastic, "variance": variance})
    return result
