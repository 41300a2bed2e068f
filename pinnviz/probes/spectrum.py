"""`spectrum` (Rowan et al. 2024, section 2.6): the full Hessian spectrum along a trajectory."""

from __future__ import annotations

import tempfile
import time
from dataclasses import fields as dataclass_fields
from pathlib import Path

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError
from pinnviz.probes._fast_hessian import fast_hessian, objective_of
from pinnviz.probes._store import save_probe
from pinnviz.probes.hessian_landscape import extreme_eigenvalues
from pinnviz.store import Run, open_run
from pinnviz.trainers import TrainConfig, train


def retrain_with_activation(run: Run, trajectory: str, activation: str, folder: Path, progress=None,
                            device: str = "cpu"):
    """Train `trajectory`'s configuration again (same seed, loss, steps, ...) with another activation, on
    `device` (not the one it was trained on, which this machine may lack).

    Returns (the new store, its trajectory name); the store lives in `folder`.
    """
    physics = run.physics(activation=activation)  # an unknown activation raises here, listing the valid ones
    attrs = run.trajectory_attrs(trajectory)
    config = TrainConfig(**{f.name: attrs[f.name] for f in dataclass_fields(TrainConfig) if f.name in attrs})
    config.seeds = 1
    config.device = device
    path = folder / "retrained.zarr"
    train(path, physics, config, name=trajectory, progress=progress)
    return open_run(path), trajectory


def spectrum(run: Run, trajectory: str, *, every: int = 1, loss: str | None = None, activation: str | None = None,
             name: str | None = None, save: bool = True, device: str = "cpu", progress=None,
             lanczos: bool = False) -> dict:
    """Eigenvalues of the exact Hessian at every `every`-th stored row of a trajectory (and its last).

    With `lanczos`, only the smallest and the largest eigenvalue at each row, by Lanczos on Hessian-vector
    products (`extreme_eigenvalues`: no P x P Hessian, for wide networks); `eigenvalues` is then (M, 2).

    With `activation` other than the store's (e.g. "x+tanh", non-saturating), the trajectory's
    training is repeated with that activation (same seed and settings, in a temporary store) and the
    spectrum is taken along the new trajectory; the result is stored in the original run. The Hessians
    (and a retraining) run on `device`; the eigenvalues are LAPACK's on the CPU.

    Returns (and stores in `probes/<name>`, default "spectrum-<trajectory>[-<activation>]") a dict:
    step (M,), eigenvalues (M, P) ascending, largest (M,), most_negative (M,) = |min(lambda, 0)|,
    spectral_norm (M,) = max |lambda|.
    """
    if every < 1:
        raise InvalidSettingError(f"every={every} must be >= 1")
    check_device(device)
    physics = run.physics()
    loss = objective_of(run, physics, trajectory, loss)
    source, source_traj = run, trajectory
    with tempfile.TemporaryDirectory() as folder:
        if activation is not None and activation != run.model.get("activation", "tanh"):
            source, source_traj = retrain_with_activation(run, trajectory, activation, Path(folder),
                                                          device=device)
        else:
            activation = run.model.get("activation", "tanh")
        stored = source.trajectory(source_traj)
        physics = source.physics()
        if len(stored.params) == 0:
            raise InvalidSettingError(f"trajectory {trajectory!r} has no rows yet")
        rows = np.unique(np.append(np.arange(0, len(stored.params), every), len(stored.params) - 1))
        batch = physics.prepare(torch.as_tensor(stored.params[:1]).to(device))
        eigenvalues = []
        start = time.perf_counter()
        for i, r in enumerate(rows):
            theta = torch.as_tensor(stored.params[r]).to(device)
            if lanczos:
                eigenvalues.append(extreme_eigenvalues(physics, theta, loss, batch=batch))
            else:
                eigenvalues.append(torch.linalg.eigvalsh(fast_hessian(physics, theta, loss, batch).cpu()).numpy())
            if progress is not None:
                progress(i + 1, len(rows))
        steps = stored.steps[rows]
    seconds = time.perf_counter() - start
    eig = np.stack(eigenvalues)  # (M, P)
    result = {"step": steps, "eigenvalues": eig, "largest": eig[:, -1],
              "most_negative": np.abs(np.minimum(eig[:, 0], 0)), "spectral_norm": np.abs(eig).max(axis=1),
              "activation": activation, "loss": loss, "seconds": seconds}
    same = activation == run.model.get("activation", "tanh")
    result["name"] = name = name or (f"spectrum-{trajectory}" if same else f"spectrum-{trajectory}-{activation}")
    if save:
        save_probe(run, name, {k: result[k] for k in ("step", "eigenvalues", "largest", "most_negative",
                                                      "spectral_norm")},
                   {"probe": "spectrum", "trajectory": trajectory, "loss": loss, "every": every,
                    "activation": activation, "seconds": seconds, "method": "lanczos" if lanczos else "exact"})
    return result
