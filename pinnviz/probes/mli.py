"""`mli` (Rowan et al. 2024, section 2.1): the loss along the straight line from initial to final parameters."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError, NonFiniteError
from pinnviz.probes._store import check_probe_name, save_probe
from pinnviz.problems import PhysicsLosses
from pinnviz.store import Run
from pinnviz.trainers import TrainConfig, train


def ensemble_name(loss: str, scale: float) -> str:
    """Trajectory prefix of one MLI ensemble: `mli-<loss>-x<scale>` (seeds appended by `train`)."""
    return f"mli-{loss}-x{scale:g}"


def train_mli_ensembles(run: Run, *, losses: Sequence[str], scales: Sequence[float], seeds: int = 10,
                        steps: int = 7500, lr: float = 1e-3, log_every: int = 250, device: str = "cpu",
                        progress=None, client=None) -> list[str]:
    """Train `seeds` initialisations per (loss, scale) as one batch each, skipping ensembles already stored.

    Every ensemble is checked before any is trained; each is trained as `pinnviz train` would train it
    alone (its own physics rebuilt from the store, so a Monte Carlo quadrature starts from its seed). With a
    `distributed.Client` each missing ensemble is one task: the worker rebuilds the physics from the store
    (opened read-only) and trains into its own scratch store beside it; the driver then renames the finished
    trajectories into the store (`_train_on_workers`). Every ensemble trains on `device`. Returns the trajectory
    names of all ensembles (trained now or before).
    """
    names, missing = plan_mli_ensembles(run, losses=losses, scales=scales, seeds=seeds, steps=steps, lr=lr,
                                        log_every=log_every, device=device)
    if client is None:
        for base, config in missing:  # a fresh physics each: a Monte Carlo quadrature starts from its seed
            train(run.path, run.physics(), config, name=base, progress=progress)
    elif missing:
        _train_on_workers(client, run, missing)
    return names


def plan_mli_ensembles(run: Run, *, losses: Sequence[str], scales: Sequence[float], seeds: int = 10,
                       steps: int = 7500, lr: float = 1e-3, log_every: int = 250,
                       device: str = "cpu") -> tuple[list[str], list[tuple[str, TrainConfig]]]:
    """Every ensemble's settings checked, before any work: all trajectory names, and the (name prefix,
    TrainConfig) of each ensemble not stored yet."""
    physics = run.physics()
    physics.check_names(losses)
    have = set(run.trajectory_names())
    check_device(device)
    ensembles = [(ensemble_name(loss, scale), TrainConfig(loss=loss, steps=steps, lr=lr, seed=0, seeds=seeds,
                                                          init_scale=float(scale), log_every=log_every,
                                                          device=device))
                 for scale in scales for loss in losses]
    missing = []
    for base, config in ensembles:
        wanted = [f"{base}-seed{k}" for k in range(seeds)]
        if any(n in have for n in wanted) and not all(n in have for n in wanted):
            raise InvalidSettingError(f"ensemble {base} is partly stored; remove it or use another store")
        if not all(n in have for n in wanted):
            config.validate(physics)
            missing.append((base, config))
    return [f"{base}-seed{k}" for base, _ in ensembles for k in range(seeds)], missing


def _ensemble_on_worker(store: str, scratch: str, base: str, config: TrainConfig) -> None:
    """Train one ensemble on a Dask worker into its own scratch store, with the physics of `store`."""
    from pinnviz.probes._dask import on_worker_threads
    from pinnviz.store import open_run

    on_worker_threads()
    train(scratch, open_run(store, mode="r").physics(), config, name=base)


def _train_on_workers(client, run: Run, missing: list[tuple[str, TrainConfig]]) -> None:
    """Each ensemble trained by a worker into `.<store>.mli-ensembles/<base>.zarr` beside the store; once all
    finished, the driver moves every trajectory group into the store by one rename each (the scratch folder is
    removed in any case, so a failed ensemble leaves the store as it was)."""
    store = Path(run.path).resolve()
    scratch = store.parent / f".{store.name}.mli-ensembles"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        futures = [client.submit(_ensemble_on_worker, str(store), str(scratch / f"{base}.zarr"), base, config,
                                 pure=False) for base, config in missing]
        client.gather(futures)
        run.group.require_group("trajectories")
        for base, config in missing:
            for k in range(config.seeds):
                os.rename(scratch / f"{base}.zarr" / "trajectories" / f"{base}-seed{k}",
                          store / "trajectories" / f"{base}-seed{k}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def interpolate(start: np.ndarray, end: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Points start + alpha (end - start): (A, P) for start, end (P,) and alpha (A,)."""
    return start[None, :] + alpha[:, None] * (end - start)[None, :]


def check_mli(run: Run, trajectories: Sequence[str] | None = None, *, points: int = 51, name: str = "mli",
              save: bool = True, empty: bool = False) -> list[str]:
    """The trajectories MLI will draw (default: all), each checked to have finite first and last rows; the
    probe's name refused when stored already, unless the run may overwrite. Nothing is evaluated.

    `empty`: no trajectory yet is fine (ensembles still to be trained); only the other options are checked.
    """
    if save:
        check_probe_name(run, name)
    if empty and not trajectories:
        if points < 2:
            raise InvalidSettingError(f"points={points} must be >= 2")
        return []
    return _lines(run, trajectories, points)[0]


def _lines(run: Run, trajectories: Sequence[str] | None, points: int,
           lengths: Sequence[int] | None = None) -> tuple[list[str], PhysicsLosses, list]:
    if points < 2:
        raise InvalidSettingError(f"points={points} must be >= 2")
    names = list(trajectories) if trajectories is not None else run.trajectory_names()
    if not names:
        raise InvalidSettingError(f"{run.path} holds no trajectories; train some (or pass --scales to train them)")
    physics = run.physics()
    lengths = lengths if lengths is not None else [None] * len(names)
    return names, physics, [line_of(run, physics, traj, n) for traj, n in zip(names, lengths, strict=True)]


def line_of(run: Run, physics: PhysicsLosses, trajectory: str,
            length: int | None = None) -> tuple[np.ndarray, np.ndarray, str, float, int]:
    """A trajectory's first and last rows (of its first `length`, default all), its objective, its initial
    scale (NaN when not recorded) and its number of rows."""
    stored = run.trajectory(trajectory)
    params = stored.params[:length]
    if len(params) < 2:
        raise InvalidSettingError(f"trajectory {trajectory!r} has {len(params)} row(s); "
                                  "MLI needs its first and last")
    if not (np.isfinite(params[0]).all() and np.isfinite(params[-1]).all()):
        raise NonFiniteError(f"trajectory {trajectory!r} holds NaN or infinity at its first or last row (it "
                             "diverged); MLI needs finite end points: leave it out with --trajectories")
    loss = stored.attrs.get("loss") or physics.names[0]
    return params[0], params[-1], loss, float(stored.attrs.get("init_scale", np.nan)), len(params)


def line_curves(physics: PhysicsLosses, lines: Sequence[tuple], alpha: np.ndarray,
                device: str = "cpu") -> np.ndarray:
    """Each line's objective at the alphas, (K, A), from `line_of` tuples; all lines of one loss in one call.

    Every loss is evaluated on `device` on the first quadrature drawn from `physics` (for a Monte Carlo
    quadrature, one draw for all curves), so a share of the lines evaluated elsewhere gives the same numbers.
    """
    quadrature = physics.prepare(torch.zeros((1, physics.net.n_params), dtype=torch.float64, device=device))
    curves = np.empty((len(lines), len(alpha)))
    for loss in sorted({line[2] for line in lines}):
        rows = [k for k, line in enumerate(lines) if line[2] == loss]
        theta = np.concatenate([interpolate(lines[k][0], lines[k][1], alpha) for k in rows])  # (len(rows) * A, P)
        values = physics.evaluate(torch.as_tensor(theta).to(device), [loss], batch=quadrature)[loss].cpu().numpy()
        curves[rows] = values.reshape(len(rows), len(alpha))
    return curves


def _curves_on_worker(store: str, trajectories: list[str], lengths: list[int], points: int, device: str,
                      start: int, stop: int) -> np.ndarray:
    """Curves of trajectories[start:stop] (the driver's row counts) on a Dask worker, from the store opened
    read-only."""
    from pinnviz.probes._dask import on_worker_threads
    from pinnviz.store import open_run

    on_worker_threads()
    _, physics, lines = _lines(open_run(store, mode="r"), trajectories[start:stop], points, lengths[start:stop])
    return line_curves(physics, lines, np.linspace(0.0, 1.0, points), device)


def mli(run: Run, trajectories: Sequence[str] | None = None, *, points: int = 51, tolerance: float = 1e-6,
        name: str = "mli", save: bool = True, device: str = "cpu", client=None) -> dict:
    """Loss of each trajectory's own objective on theta_i + alpha (theta_f - theta_i), alpha in [0, 1].

    All lines of one loss are evaluated in one batched call. A curve counts as monotonic when no
    step up exceeds `tolerance` times its range (max - min). With a `distributed.Client` the curves are
    split into shares of trajectories, each evaluated by a worker from the store (only names travel); the
    numbers are those of the local path. The losses are evaluated on `device`.

    Returns (and stores in `probes/<name>`) a dict: alpha (A,), curves (K, A), monotonic (K,),
    max_rise (K,) (largest increase between neighbouring alphas, relative to the range), scale (K,)
    and, as lists, trajectories and losses; plus the counts `n_monotonic` and `n_curves`.
    """
    check_device(device)
    if save:
        check_probe_name(run, name)
    names, physics, lines = _lines(run, trajectories, points)
    losses, scales = [line[2] for line in lines], [line[3] for line in lines]
    alpha = np.linspace(0.0, 1.0, points)
    if client is None:
        curves = line_curves(physics, lines, alpha, device)
    else:
        from pinnviz.probes._dask import map_shares, shares

        parts = map_shares(client, _curves_on_worker, shares(client, len(names)), str(Path(run.path).resolve()),
                           names, [line[4] for line in lines], points, device)
        curves = np.concatenate(parts)
    span = np.ptp(curves, axis=1)
    rise = np.max(np.diff(curves, axis=1), axis=1) / np.where(span > 0, span, 1.0)
    monotonic = rise <= tolerance
    result = {"alpha": alpha, "curves": curves, "monotonic": monotonic, "max_rise": rise,
              "scale": np.asarray(scales), "trajectories": names, "losses": losses,
              "n_monotonic": int(monotonic.sum()), "n_curves": len(names), "name": name}
    if save:
        save_probe(run, name, {k: result[k] for k in ("alpha", "curves", "monotonic", "max_rise", "scale")},
                   {"probe": "mli", "trajectories": names, "losses": losses, "points": points,
                    "tolerance": tolerance, "n_monotonic": result["n_monotonic"], "n_curves": len(names)})
    return result
