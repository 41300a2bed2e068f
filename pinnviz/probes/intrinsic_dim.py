"""`intrinsic-dim` (Rowan et al. 2024, section 2.8): training in random affine subspaces theta_0 + A w.

For each dimension d, A (n_params, d) has random unit columns and theta_0 is a fresh default
initialisation; the same A and theta_0 serve every loss at that d. A full-space reference (A = identity,
which is exactly ordinary training) is trained alongside. Every (loss, dimension) row is one row of one
batched job: the embeddings are zero-padded to the largest d, and padded coordinates never move.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError
from pinnviz.probes._store import save_probe
from pinnviz.store import Run
from pinnviz.trainers.constrained import random_subspace, seeded_init, train_subspace

DIMS = (2, 5, 10, 20, 50)


def intrinsic_dim(run: Run, losses: Sequence[str], *, dims: Sequence[int] = DIMS, steps: int = 20000,
                  lr: float = 1e-3, optimizer: str = "adam", seed: int = 0, reference: bool = True,
                  log_every: int = 100, name: str = "intrinsic-dim", save: bool = True, device: str = "cpu",
                  progress=None) -> dict:
    """Loss curves of training in random subspaces of dimensions `dims`, and of the full-space reference.

    Returns (and stores in `probes/<name>`): dims (D,), steps (T,), per loss `<loss>/curves` (T, D) and,
    with `reference`, `<loss>/reference` (T,) (seed `seed`, the initialisation of the first dimension).
    Trained on `device`; the initialisations and the embeddings A are drawn on the CPU.
    """
    check_device(device)
    physics = run.physics()
    losses = physics.check_names(list(losses))
    dims = [int(d) for d in dims]
    P = physics.net.n_params
    if not dims or any(d < 1 or d > P for d in dims):
        raise InvalidSettingError(f"subspace dimensions {dims} must lie in 1..{P} (the number of parameters)")
    seeds = [seed + k for k in range(len(dims))]
    theta0 = seeded_init(physics, seeds, device=device)  # (D, P): a fresh initialisation per dimension
    A = random_subspace(P, dims, seed=seed, dtype=theta0.dtype).to(device)  # (D, P, max d)
    if reference:  # the identity embedding: ordinary training of theta0 of the first dimension
        width = max(P, A.shape[2])
        A = torch.cat([A, A.new_zeros(len(dims), P, width - A.shape[2])], dim=2)
        A = torch.cat([A, torch.eye(P, width, dtype=A.dtype, device=A.device)[None]])
        theta0 = torch.cat([theta0, theta0[:1]])
    rows = theta0.shape[0]
    result = train_subspace(physics, theta0.repeat(len(losses), 1), A.repeat(len(losses), 1, 1),
                            [loss for loss in losses for _ in range(rows)], optimizer=optimizer, lr=lr,
                            steps=steps, log_every=log_every, progress=progress)
    arrays: dict[str, np.ndarray] = {"dims": np.asarray(dims), "steps": result.steps.numpy()}
    summary = {}
    for i, loss in enumerate(losses):
        block = result.losses.numpy()[:, i * rows : (i + 1) * rows]
        arrays[f"{loss}/curves"] = block[:, : len(dims)]
        summary[loss] = {"final": [float(v) for v in block[-1, : len(dims)]]}
        if reference:
            arrays[f"{loss}/reference"] = block[:, -1]
            summary[loss]["reference_final"] = float(block[-1, -1])
    attrs = {"probe": "intrinsic-dim",
             "losses": losses, "dims": dims, "steps": int(steps), "lr": float(lr), "optimizer": optimizer,
             "seed": int(seed), "reference": bool(reference), "log_every": int(log_every), "n_params": int(P),
             "summary": summary}
    if save:
        save_probe(run, name, arrays, attrs)
    return {**arrays, "attrs": attrs}
