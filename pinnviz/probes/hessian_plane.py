"""`hessian-plane`: fit and store the plane of the two largest-eigenvalue Hessian eigenvectors at a point."""

from __future__ import annotations

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError
from pinnviz.manifolds import save_manifold
from pinnviz.manifolds.hessian_plane import HessianPlaneManifold
from pinnviz.probes._fast_hessian import fast_spectrum, objective_of
from pinnviz.store import Run


def hessian_plane(run: Run, trajectory: str, *, row: int = -1, loss: str | None = None, name: str = "hessian-plane",
                  save: bool = True, device: str = "cpu") -> tuple[HessianPlaneManifold, dict]:
    """A `HessianPlaneManifold` through row `row` (default the last) of `trajectory`, fitted on that trajectory.

    Stored as `manifolds/<name>` (with codes, projection errors and `fitted_on`), so that
    `pinnviz landscape run.zarr --manifold <name>` draws it with the trajectory's diagnostics.
    Returns the manifold and a report (eigenvalues, mean projection error of the trajectory). The Hessian is
    built on `device`, its eigenvectors found on the CPU.
    """
    check_device(device)
    physics = run.physics()
    loss = objective_of(run, physics, trajectory, loss)
    params = run.trajectory(trajectory).params
    if len(params) < 3:
        raise InvalidSettingError(f"trajectory {trajectory!r} has {len(params)} rows; a plane needs at least 3")
    center = params[row]
    values, vectors = fast_spectrum(physics, torch.as_tensor(center).to(device), loss)
    directions = vectors[:, -2:].flip(1).T.numpy()  # (2, P): largest eigenvalue first
    eigenvalues = values[-2:].flip(0).numpy()
    manifold = HessianPlaneManifold(center=center, directions=directions, eigenvalues=eigenvalues).fit(params)
    errors = manifold.projection_error(params)
    report = {"method": "hessian-plane", "name": name, "trajectory": trajectory, "loss": loss, "row": int(row),
              "eigenvalues": [float(v) for v in eigenvalues], "mean_projection_error": float(np.mean(errors)),
              "points": int(len(params))}
    if save:
        save_manifold(run, name, manifold, coords={trajectory: manifold.encode(params)}, errors={trajectory: errors},
                      fitted={trajectory: np.ones(len(params), dtype=bool)},
                      attrs={"fitted_on": [trajectory], "every": 1, "seed": None, "report": report, "loss": loss})
    return manifold, report
