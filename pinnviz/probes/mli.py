"""`mli` (Rowan et al. 2024, section 2.1): the loss along the straight line from initial to final parameters."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pinnviz.errors import InvalidSettingError, NonFiniteError
from pinnviz.probes._store import save_probe
from pinnviz.store import Run
from pinnviz.trainers import TrainConfig, train


def ensemble_name(loss: str, scale: float) -> str:
    """Trajectory prefix of one MLI ensemble: `mli-<loss>-x<scale>` (seeds appended by `train`)."""
    return f"mli-{loss}-x{scale:g}"


def train_mli_ensembles(run: Run, *, losses: Sequence[str], scales: Sequence[float], seeds: int = 10,
                        steps: int = 7500, lr: float = 1e-3, log_every: int = 250, progress=None) -> list[str]:
    """Train `seeds` initialisations per (loss, scale) as one batch each, skipping ensembles already stored.

    Returns the trajectory names of all ensembles (trained now or before).
    """
    physics = run.physics()
    physics.check_names(losses)
    names: list[str] = []
    have = set(run.trajectory_names())
    for scale in scales:
        for loss in losses:
            base = ensemble_name(loss, scale)
            wanted = [f"{base}-seed{k}" for k in range(seeds)]
            if not all(n in have for n in wanted):
                if any(n in have for n in wanted):
                    raise InvalidSettingError(f"ensemble {base} is partly stored; remove it or use another store")
                config = TrainConfig(loss=loss, steps=steps, lr=lr, seed=0, seeds=seeds, init_scale=float(scale),
                                     log_every=log_every)
                train(run.path, physics, config, name=base, progress=progress)
            names += wanted
    return names


def interpolate(start: np.ndarray, end: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Points start + alpha (end - start): (A, P) for start, end (P,) and alpha (A,)."""
    return start[None, :] + alpha[:, None] * (end - start)[None, :]


def mli(run: Run, trajectories: Sequence[str] | None = None, *, points: int = 51, tolerance: float = 1e-6,
        name: str = "mli", save: bool = True) -> dict:
    """Loss of each trajectory's own objective on theta_i + alpha (theta_f - theta_i), alpha in [0, 1].

    All lines of one loss are evaluated in one batched call. A curve counts as monotonic when no
    step up exceeds `tolerance` times its range (max - min).

    Returns (and stores in `probes/<name>`) a dict: alpha (A,), curves (K, A), monotonic (K,),
    max_rise (K,) (largest increase between neighbouring alphas, relative to the range), scale (K,)
    and, as lists, trajectories and losses; plus the counts `n_monotonic` and `n_curves`.
    """
    if points < 2:
        raise InvalidSettingError(f"points={points} must be >= 2")
    names = list(trajectories) if trajectories is not None else run.trajectory_names()
    if not names:
        raise InvalidSettingError(f"{run.path} holds no trajectories; train some (or pass --scales to train them)")
    physics = run.physics()
    alpha = np.linspace(0.0, 1.0, points)
    ends, losses, scales = [], [], []
    for traj in names:
        stored = run.trajectory(traj)
        if len(stored.params) < 2:
            raise InvalidSettingError(f"trajectory {traj!r} has {len(stored.params)} row(s); "
                                      "MLI needs its first and last")
        if not (np.isfinite(stored.params[0]).all() and np.isfinite(stored.params[-1]).all()):
            raise NonFiniteError(f"trajectory {traj!r} holds NaN or infinity at its first or last row (it "
                                 "diverged); MLI needs finite end points: leave it out with --trajectories")
        ends.append((stored.params[0], stored.params[-1]))
        losses.append(stored.attrs.get("loss") or physics.names[0])
        scales.append(float(stored.attrs.get("init_scale", np.nan)))
    curves = np.empty((len(names), points))
    for loss in sorted(set(losses)):
        rows = [k for k, value in enumerate(losses) if value == loss]
        theta = np.concatenate([interpolate(*ends[k], alpha) for k in rows])  # (len(rows) * A, P)
        values = physics.evaluate(torch.as_tensor(theta), [loss])[loss].numpy()
        curves[rows] = values.reshape(len(rows), points)
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
