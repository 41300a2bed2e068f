"""`goldilocks` (Rowan et al. 2024, section 2.7): training confined to hyperspheres, and free parameter norms.

Part 1: Adam on the sphere ||theta|| = R (projected back after every step), `trials` initialisations per
radius, final loss per radius. Part 2: unconstrained training from PyTorch's default initialisation
scaled by 0.01, 0.5 and 1, and the parameter norm along the way. Every (loss, radius, trial) row of a
part is one row of one batched training job.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError
from pinnviz.probes._store import save_probe
from pinnviz.store import Run
from pinnviz.trainers.constrained import seeded_init, train_batch

RADII = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 50.0, 75.0, 100.0)
SCALES = (0.01, 0.5, 1.0)


def goldilocks(run: Run, losses: Sequence[str], *, radii: Sequence[float] = RADII, trials: int = 5,
               scales: Sequence[float] = SCALES, steps: int = 5000, free_steps: int | None = None, lr: float = 1e-3,
               optimizer: str = "adam", seed: int = 0, log_every: int = 50, name: str = "goldilocks",
               save: bool = True, device: str = "cpu", progress=None) -> dict:
    """Final loss on hyperspheres of the given radii, and norms of unconstrained runs from scaled inits.

    Rows of the sphere job are ordered (loss, radius, trial); trial k starts from seed + k (the same
    initialisation, projected, at every radius). Returns (and stores in `probes/<name>`): radii (R,),
    scales (S,), and per loss `<loss>/final` (R, trials), `<loss>/sphere_curves` (T1, R, trials),
    `<loss>/free_norms` and `<loss>/free_losses` (T2, S, trials), with `sphere_steps` and `free_steps`.
    Both jobs train on `device` (the initialisations are drawn on the CPU).
    """
    check_device(device)
    physics = run.physics()
    losses = physics.check_names(list(losses))
    radii = [float(r) for r in radii]
    scales = [float(s) for s in scales]
    if trials < 1 or not radii or any(r <= 0 for r in radii) or any(s <= 0 for s in scales):
        raise InvalidSettingError(f"need trials >= 1 (got {trials}) and positive radii {radii} and scales {scales}")
    free_steps = steps if free_steps is None else free_steps
    L, R, S = len(losses), len(radii), len(scales)
    base = seeded_init(physics, [seed + k for k in range(trials)], device=device)  # (trials, P)
    # sphere job: (loss, radius, trial) rows
    theta0 = base.repeat(L * R, 1)
    radius = torch.tensor(radii, dtype=theta0.dtype, device=device).repeat_interleave(trials).repeat(L)
    objectives = [loss for loss in losses for _ in range(R * trials)]
    sphere = train_batch(physics, theta0, objectives, optimizer=optimizer, lr=lr, steps=steps, radius=radius,
                         log_every=log_every, progress=progress)
    # free job: (loss, scale, trial) rows
    factor = torch.tensor(scales, dtype=base.dtype, device=device).repeat_interleave(trials).repeat(L)
    free0 = base.repeat(L * S, 1) * factor[:, None]
    objectives = [loss for loss in losses for _ in range(S * trials)]
    free = train_batch(physics, free0, objectives, optimizer=optimizer, lr=lr, steps=free_steps,
                       log_every=log_every, progress=progress)
    arrays: dict[str, np.ndarray] = {"radii": np.asarray(radii), "scales": np.asarray(scales),
                                     "sphere_steps": sphere.steps.numpy(), "free_steps": free.steps.numpy()}
    summary = {}
    for i, loss in enumerate(losses):
        curves = sphere.losses.numpy().reshape(-1, L, R, trials)[:, i]
        arrays[f"{loss}/sphere_curves"] = curves
        arrays[f"{loss}/final"] = curves[-1]
        arrays[f"{loss}/free_norms"] = free.norms.numpy().reshape(-1, L, S, trials)[:, i]
        arrays[f"{loss}/free_losses"] = free.losses.numpy().reshape(-1, L, S, trials)[:, i]
        median = np.nanmedian(curves[-1], axis=1)
        summary[loss] = {
            "best_radius": radii[int(np.nanargmin(median))],
            "median_final": [float(v) for v in median],
            "free_norm_start": [float(v) for v in np.median(arrays[f"{loss}/free_norms"][0], axis=1)],
            "free_norm_end": [float(v) for v in np.median(arrays[f"{loss}/free_norms"][-1], axis=1)],
        }
    attrs = {"probe": "goldilocks",
             "losses": losses, "radii": radii, "scales": scales, "trials": int(trials), "steps": int(steps),
             "free_steps": int(free_steps), "lr": float(lr), "optimizer": optimizer, "seed": int(seed),
             "log_every": int(log_every), "summary": summary}
    if save:
        save_probe(run, name, arrays, attrs)
    return {**arrays, "attrs": attrs}
