"""`hessian-walk` (Rowan et al. 2024, section 2.2): steps along the Hessian's smallest-|eigenvalue| eigenvector."""

from __future__ import annotations

import time

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError
from pinnviz.probes._fast_hessian import fast_spectrum, objective_of
from pinnviz.probes._store import save_probe
from pinnviz.store import Run


def hessian_walk(run: Run, trajectory: str, *, eta: float = 1.0, steps: int = 500, loss: str | None = None,
                 row: int = -1, name: str | None = None, save: bool = True, device: str = "cpu",
                 progress=None) -> dict:
    """theta_t = theta_{t-1} + eta v_min(theta_{t-1}), from theta_0 = the trajectory's row `row` (its last).

    v_min is the unit eigenvector of the smallest-magnitude eigenvalue of the exact Hessian
    (`fast_hessian`), recomputed at every step; its sign is chosen so that v_t . v_{t-1} >= 0, so the
    walk does not turn back on itself. The Hessians and losses are computed on `device` (the
    eigendecompositions on the CPU, see `fast_spectrum`).

    Returns (and stores in `probes/<name>`, default "hessian-walk-<trajectory>") a dict:
    loss (S+1,) along the walk, change (S+1,) = loss - loss_0, distance
    (S+1,) = |theta_t - theta_0|, eigenvalue (S,) the signed eigenvalue used at each step, path
    (S+1, P), theta_norm |theta_0|, plus the settings and `seconds`.
    """
    if not (eta > 0 and np.isfinite(eta)):
        raise InvalidSettingError(f"eta={eta} must be a positive number")
    if steps < 1:
        raise InvalidSettingError(f"steps={steps} must be >= 1")
    check_device(device)
    physics = run.physics()
    loss = objective_of(run, physics, trajectory, loss)
    params = run.trajectory(trajectory).params
    if len(params) == 0:
        raise InvalidSettingError(f"trajectory {trajectory!r} has no rows yet")
    theta = torch.as_tensor(params[row]).to(device).clone()
    batch = physics.prepare(theta[None])
    path = [theta.clone()]
    eigenvalues = []
    previous = None
    start = time.perf_counter()
    for step in range(steps):
        values, vectors = fast_spectrum(physics, theta, loss, batch)
        k = int(torch.argmin(values.abs()))
        v = vectors[:, k].to(theta.device)
        if previous is not None and float(v @ previous) < 0:
            v = -v
        theta = theta + eta * v
        previous = v
        path.append(theta.clone())
        eigenvalues.append(float(values[k]))
        if progress is not None:
            progress(step + 1, steps)
    seconds = time.perf_counter() - start
    path_t = torch.stack(path)  # (S+1, P)
    values = physics.evaluate(path_t, [loss], batch=batch)[loss].cpu().numpy()
    path_np = path_t.cpu().numpy()
    result = {"loss": values, "change": values - values[0], "distance": np.linalg.norm(path_np - path_np[0], axis=1),
              "eigenvalue": np.asarray(eigenvalues), "path": path_np, "theta_norm": float(np.linalg.norm(path_np[0])),
              "trajectory": trajectory, "objective": loss, "eta": float(eta), "steps": int(steps), "seconds": seconds}
    result["name"] = name = name or f"hessian-walk-{trajectory}"
    if save:
        save_probe(run, name, {k: result[k] for k in ("loss", "change", "distance", "eigenvalue", "path")},
                   {"probe": "hessian-walk", "trajectory": trajectory, "loss": loss, "eta": float(eta),
                    "steps": int(steps), "row": int(row), "theta_norm": result["theta_norm"], "seconds": seconds,
                    "max_abs_change": float(np.max(np.abs(result["change"]))),
                    "max_distance": float(result["distance"].max())})
    return result
