"""`random-planes` (Rowan et al. 2024, sections 2.4 and 2.5): the loss on planes of random directions.

The planes are `RandomPlaneManifold`s (filter-normalised directions, Li et al. 2018), so the same
directions can be drawn by `pinnviz landscape`. With `stochastic=B` every evaluation re-draws B Monte
Carlo points (the quadrature of the run's problem switched to "montecarlo"), and the integrand
variance of each loss at the centre is reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError, check_settings
from pinnviz.manifolds import RandomPlaneManifold
from pinnviz.probes._fast_hessian import objective_of
from pinnviz.probes._store import check_probe_name, save_probe
from pinnviz.problems import PhysicsLosses, problem_from_settings
from pinnviz.store import Run

AT = ("final", "initial")
MC_CHUNK = 64  # vectors per Monte Carlo draw of `stochastic_losses`; a worker's share starts at a multiple of it


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
                      chunk: int = MC_CHUNK, skip: int = 0) -> dict[str, torch.Tensor]:
    """Losses (G,) of theta (G, P), each vector on its own fresh Monte Carlo quadrature.

    `physics` has a Monte Carlo quadrature (`montecarlo_physics`) of B points per vector. For each chunk of vectors one
    sample is drawn and split into per-vector blocks (`sample_blocks`); the problem's own losses are
    evaluated on all of them at once with `torch.func.vmap` over (vector, its block). `skip` draws are
    discarded first: theta is then the share of a longer list that starts at vector `skip * chunk`, and
    each vector gets the sample it gets in the whole list.
    """
    B = physics.problem.quadrature.points
    settings = {**physics.problem.settings(), "points": B * chunk}
    drawing = PhysicsLosses(type(physics.problem).from_settings(settings), physics.net)
    for _ in range(skip):
        drawing.problem.sample(theta.dtype)

    def one(vector: torch.Tensor, block: dict) -> dict[str, torch.Tensor]:
        return physics(vector[None], names, block, functional=True)

    parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for start in range(0, theta.shape[0], chunk):
        vectors = theta[start : start + chunk]
        values = torch.func.vmap(one)(vectors, sample_blocks(drawing, len(vectors), B, vectors))
        for name in names:
            parts[name].append(values[name][:, 0])
    return {name: torch.cat(parts[name]) for name in names}


def check_random_planes(run: Run, trajectory: str, *, at: str = "final", pairs: int = 9, resolution: int = 31,
                        extent: float = 1.0, losses=None, stochastic: int | None = None, name: str | None = None,
                        save: bool = True) -> tuple[list[str], int, str]:
    """Every option checked before any work: the losses to evaluate, the row of the centre and the probe's name
    (refused when stored already, unless the run may overwrite)."""
    if at not in AT:
        raise InvalidSettingError(f"at={at!r} must be one of {', '.join(AT)}")
    check_settings(("pairs", pairs, pairs >= 1, ">= 1"), ("resolution", resolution, resolution >= 2, ">= 2"),
                   ("extent", extent, extent > 0 and np.isfinite(extent), "a finite number > 0"))
    if stochastic is not None and stochastic < 1:
        raise InvalidSettingError(f"stochastic={stochastic} must be a number of points >= 1")
    physics = run.physics()
    names = physics.check_names(list(losses)) if losses else [objective_of(run, physics, trajectory, None)]
    length = len(run.trajectory(trajectory, params=False).steps)
    if length == 0:
        raise InvalidSettingError(f"trajectory {trajectory!r} has no rows yet")
    name = name or f"random-planes-{at}-{trajectory}" + (f"-mc{stochastic}" if stochastic else "")
    if save:
        check_probe_name(run, name)
    return names, length - 1 if at == "final" else 0, name


def plane_coordinates(extent: float, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The axis (R,) and the plane's grid points (R*R, 2) as (a, b), row-major in b (row: b, column: a)."""
    axis = np.linspace(-extent, extent, resolution)
    a, b = np.meshgrid(axis, axis)
    return axis, np.stack([a.ravel(), b.ravel()], axis=1)


def plane_vectors(center: np.ndarray, directions: np.ndarray, coef: np.ndarray, index: np.ndarray,
                  first_plane: int = 0, device: str = "cpu") -> torch.Tensor:
    """Vectors center + a d0 + b d1 (n, P) on `device` of flat indices into (plane, grid point): plane =
    index // len(coef) (directions[plane - first_plane]), grid point = index % len(coef). Formed in NumPy,
    so every device evaluates the same vectors."""
    plane, point = np.divmod(index, len(coef))
    d = directions[plane - first_plane]  # (n, 2, P)
    return torch.as_tensor(center[None, :] + coef[point, 0:1] * d[:, 0] + coef[point, 1:2] * d[:, 1]).to(device)


def plane_losses(run: Run, physics: PhysicsLosses, center: np.ndarray, directions: np.ndarray, coef: np.ndarray,
                 names, start: int, stop: int, *, first_plane: int = 0, seed: int = 0,
                 stochastic: int | None = None, device: str = "cpu") -> dict[str, np.ndarray]:
    """Losses of the flat grid indices start..stop of every plane, evaluated on `device`: on `physics`'s first
    quadrature, or with `stochastic` each vector on the Monte Carlo sample it gets in the whole list (start a
    multiple of MC_CHUNK; the samples are drawn on the CPU, the same on every device)."""
    theta = plane_vectors(center, directions, coef, np.arange(start, stop), first_plane, device)
    if stochastic is None:
        values = physics.evaluate(theta, names)
    else:
        values = stochastic_losses(montecarlo_physics(run, stochastic, seed), theta, names, skip=start // MC_CHUNK)
    return {n: values[n].cpu().numpy() for n in names}


def _share_on_worker(store: str, trajectory: str, row: int, names: list[str], seed: int, normalise: str,
                     extent: float, resolution: int, stochastic: int | None, device: str, start: int,
                     stop: int) -> dict:
    """Losses of the flat indices start..stop on a Dask worker: the centre read from the store (opened
    read-only), the directions of its planes drawn again from their seeds."""
    from pinnviz.probes._dask import on_worker_threads
    from pinnviz.store import open_run

    on_worker_threads()
    run = open_run(store, mode="r")
    center = run.trajectory(trajectory).params[row]
    _, coef = plane_coordinates(extent, resolution)
    first, last = start // len(coef), (stop - 1) // len(coef)
    layout = run.model.get("layout")
    directions = np.stack([plane_directions(center, layout, seed + k, normalise) for k in range(first, last + 1)])
    return plane_losses(run, run.physics(), center, directions, coef, names, start, stop, first_plane=first,
                        seed=seed, stochastic=stochastic, device=device)


def random_planes(run: Run, trajectory: str, *, at: str = "final", pairs: int = 9, resolution: int = 31,
                  extent: float = 1.0, losses=None, seed: int = 0, normalise: str = "filter",
                  stochastic: int | None = None, name: str | None = None, save: bool = True, device: str = "cpu",
                  client=None) -> dict:
    """Losses on `pairs` planes center + a d0 + b d1, a, b in [-extent, extent], around a trajectory's point.

    Parameters
    ----------
    at : "final" (last row) or "initial" (first row) of `trajectory`
    losses : names to evaluate (default: the trajectory's objective)
    seed : plane k uses seed + k
    stochastic : B, re-draw B Monte Carlo points at every evaluation (None: the run's quadrature)
    device : where the losses are evaluated (the directions are drawn in NumPy on the CPU)
    client : a `distributed.Client`: the pairs x R x R grid vectors are split into shares of flat indices,
        each evaluated by a worker from the store (only the trajectory, row, seeds and index range travel);
        the numbers are those of the local path

    Returns (and stores in `probes/<name>`, default "random-planes-<at>-<trajectory>[-mc<B>]") a dict: axis
    (R,), directions (pairs, 2, P), center (P,), loss/<name> (pairs, R, R) (row: b, column: a),
    and with `stochastic` the integrand variance of every loss at the center (`variance`).
    """
    check_device(device)
    names, row, name = check_random_planes(run, trajectory, at=at, pairs=pairs, resolution=resolution,
                                           extent=extent, losses=losses, stochastic=stochastic, name=name, save=save)
    physics = run.physics()
    center = run.trajectory(trajectory).params[row]
    layout = run.model.get("layout")
    directions = np.stack([plane_directions(center, layout, seed + k, normalise) for k in range(pairs)])
    axis, coef = plane_coordinates(extent, resolution)
    total = pairs * len(coef)
    if client is None:
        values = plane_losses(run, physics, center, directions, coef, names, 0, total, seed=seed,
                              stochastic=stochastic, device=device)
    else:
        from pinnviz.probes._dask import map_shares, shares

        parts = map_shares(client, _share_on_worker, shares(client, total, align=MC_CHUNK),
                           str(Path(run.path).resolve()), trajectory, row, names, seed, normalise, extent, resolution,
                           stochastic, device)
        values = {n: np.concatenate([part[n] for part in parts]) for n in names}
    variance = (integrand_variance(physics, torch.as_tensor(center).to(device), names) if stochastic is not None
                else {})
    grids = {n: values[n].reshape(pairs, resolution, resolution) for n in names}
    result = {"axis": axis, "directions": directions, "center": center, "losses": grids, "variance": variance,
              "at": at, "stochastic": stochastic}
    result["name"] = name
    if save:
        arrays = {"axis": axis, "directions": directions, "center": center,
                  **{f"loss/{n}": g for n, g in grids.items()}}
        save_probe(run, name, arrays, {"probe": "random-planes", "trajectory": trajectory, "at": at, "pairs": pairs,
                                       "resolution": resolution, "extent": extent, "losses": names, "seed": seed,
                                       "normalise": normalise, "stochastic": stochastic, "variance": variance})
    return result
