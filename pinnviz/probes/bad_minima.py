"""`bad-minima` (Rowan et al. 2024, section 2.11): many runs of Adam and plain gradient descent, two widths.

For each network width and optimizer, `runs` initialisations of every loss are trained as one batch (the
network of another width is the store's network with only its width changed). The loss curves show
whether any run stalls at a bad local minimum.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError
from pinnviz.nets import MLP
from pinnviz.probes._store import save_probe
from pinnviz.problems import PhysicsLosses
from pinnviz.store import Run
from pinnviz.trainers._optim import OPTIMIZERS
from pinnviz.trainers.constrained import seeded_init, train_batch

WIDTHS = (20, 5)


def with_width(physics: PhysicsLosses, width: int) -> PhysicsLosses:
    """The same problem and network settings, hidden width changed."""
    settings = {k: v for k, v in physics.net.settings().items() if k != "layout"}
    return PhysicsLosses(physics.problem, MLP.from_settings({**settings, "width": int(width)}))


def train_combination(physics: PhysicsLosses, losses: Sequence[str], width: int, optimizer: str, *, runs: int,
                      steps: int, lr: float, seed: int, log_every: int, device: str = "cpu",
                      progress=None) -> tuple[np.ndarray, np.ndarray]:
    """`runs` seeds of every loss at one (width, optimizer), as one batch on `device`: steps (T,), losses
    (T, L * runs)."""
    net_physics = with_width(physics, width)
    theta0 = seeded_init(net_physics, [seed + k for k in range(runs)], device=device).repeat(len(losses), 1)
    objectives = [loss for loss in losses for _ in range(runs)]
    result = train_batch(net_physics, theta0, objectives, optimizer=optimizer, lr=lr, steps=steps,
                         log_every=log_every, progress=progress)
    return result.steps.numpy(), result.losses.numpy()


def _combination_on_worker(store: str, losses: list[str], width: int, optimizer: str, settings: dict):
    """One (width, optimizer) on a Dask worker: the physics rebuilt from the store, opened read-only."""
    import torch

    from pinnviz.store import open_run

    torch.set_num_threads(1)
    return train_combination(open_run(store, mode="r").physics(), losses, width, optimizer, **settings)


def check_bad_minima(run: Run, losses: Sequence[str], *, widths: Sequence[int], optimizers: Sequence[str],
                     runs: int, device: str = "cpu") -> list[str]:
    """The checked loss names; raises on a bad option before anything trains (or a cluster starts)."""
    check_device(device)
    losses = run.physics().check_names(list(losses))
    for opt in optimizers:
        if opt not in OPTIMIZERS:
            raise InvalidSettingError(f"optimizer {opt!r} is not one of {', '.join(OPTIMIZERS)}")
    if runs < 1 or not widths or any(int(w) < 1 for w in widths):
        raise InvalidSettingError(f"need runs >= 1 (got {runs}) and widths >= 1 (got {list(widths)})")
    return losses


def bad_minima(run: Run, losses: Sequence[str], *, widths: Sequence[int] = WIDTHS,
               optimizers: Sequence[str] = ("adam", "sgd"), runs: int = 10, steps: int = 5000, lr: float = 1e-3,
               seed: int = 0, log_every: int = 25, name: str = "bad-minima", save: bool = True,
               device: str = "cpu", progress=None, client=None) -> dict:
    """Loss curves of `runs` seeds per (loss, width, optimizer).

    Returns (and stores in `probes/<name>`): steps (T,), and `<loss>/<optimizer>/w<width>` (T, runs) for
    each combination; attrs with the final losses' min / median / max per combination. With a
    `distributed.Client`, each (width, optimizer) is one task on its workers: the same numbers on a fixed
    quadrature (a Monte Carlo one is drawn afresh per task, not carried on from the previous combination).
    Every batch trains on `device` (on the workers too).
    """
    physics = run.physics()
    losses = check_bad_minima(run, losses, widths=widths, optimizers=optimizers, runs=runs, device=device)
    arrays: dict[str, np.ndarray] = {}
    summary: dict[str, dict] = {}
    combos = [(int(width), opt) for width in widths for opt in optimizers]  # one batch holds every loss
    settings = {"runs": runs, "steps": steps, "lr": lr, "seed": seed, "log_every": log_every, "device": device}
    if client is None:
        results = [train_combination(physics, losses, w, opt, progress=progress, **settings) for w, opt in combos]
    else:
        store = str(Path(run.path).resolve())
        results = client.gather([client.submit(_combination_on_worker, store, losses, w, opt, settings, pure=False)
                                 for w, opt in combos])
    for (width, opt), (steps_logged, values) in zip(combos, results, strict=True):
        arrays["steps"] = steps_logged
        for i, loss in enumerate(losses):
            curves = values[:, i * runs : (i + 1) * runs]
            arrays[f"{loss}/{opt}/w{width}"] = curves
            final = curves[-1]
            summary[f"{loss}/{opt}/w{width}"] = {"min": float(np.nanmin(final)),
                                                 "median": float(np.nanmedian(final)),
                                                 "max": float(np.nanmax(final))}
    attrs = {"probe": "bad-minima",
             "losses": losses, "widths": [int(w) for w in widths], "optimizers": list(optimizers), "runs": int(runs),
             "steps": int(steps), "lr": float(lr), "seed": int(seed), "log_every": int(log_every),
             "summary": summary}
    if save:
        save_probe(run, name, arrays, attrs)
    return {**arrays, "attrs": attrs}
