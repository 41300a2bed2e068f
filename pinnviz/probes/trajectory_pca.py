"""`trajectory-pca` (Rowan et al. 2024, section 2.9): principal components of an optimisation trajectory.

The explained variance of each component, and the trajectory with loss contours on the planes of the
components (1, 2), (1, 3) and (2, 3). Each plane is a `PCAManifold` (mean and two components) saved in
the store, so `pinnviz landscape` / `render` reuse it; the landscapes come from `compute_landscape`.
"""

from __future__ import annotations

import numpy as np

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError
from pinnviz.landscape import compute_landscape
from pinnviz.manifolds import PCAManifold, save_manifold
from pinnviz.probes._fast_hessian import objective_of
from pinnviz.probes._store import save_probe
from pinnviz.probes.basis import select_trajectory
from pinnviz.store import Run

PLANES = ((1, 2), (1, 3), (2, 3))


def principal_components(X: np.ndarray, count: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean (P,), the first `count` components (count, P) and every explained-variance ratio of X (T, P).

    Built from `PCAManifold` fits: the first on X gives components 1-2 and the ratios, the next on what
    the previous planes leave unexplained gives components 3-4, and so on.
    """
    first = PCAManifold().fit(X)
    mean, ratios = first.mean_, first.explained_variance_ratio_
    parts, residual, fit = [first.components_], X, first
    while sum(len(p) for p in parts) < count:
        residual = residual - fit.decode(fit.encode(residual))
        fit = PCAManifold().fit(residual)
        parts.append(fit.components_)
    return mean, np.concatenate(parts)[:count], ratios


def plane_manifold(mean: np.ndarray, components: np.ndarray, ratios: np.ndarray, X: np.ndarray) -> PCAManifold:
    """A fitted `PCAManifold` through `mean` spanned by two given orthonormal `components` (2, P)."""
    codes = (X - mean) @ components.T  # (T, P) @ (P, 2)
    extent = [float(codes[:, 0].min()), float(codes[:, 0].max()), float(codes[:, 1].min()), float(codes[:, 1].max())]
    arrays = {"mean_": mean, "components_": np.ascontiguousarray(components), "explained_variance_ratio_": ratios}
    return PCAManifold.from_state({}, arrays, {"extent_": extent})


def trajectory_pca(run: Run, trajectory: str | None = None, *, resolution: int = 41, landscape: bool = True,
                   name: str | None = None, save: bool = True, device: str = "cpu", progress=None) -> dict:
    """Explained variance of a trajectory's principal components and contours on three principal planes.

    Returns (and stores in `probes/<name>`, default `trajectory-pca-<trajectory>`): explained_variance_ratio
    (all components), components (3, P), mean (P,), coords (T, 3) (projections on components 1-3), steps;
    attrs with the trajectory, loss, the first ratios and the names of the plane manifolds/landscapes
    `<name>-12`, `<name>-13`, `<name>-23`. The components are NumPy's SVD on the CPU; the three landscapes
    are evaluated on `device`.
    """
    check_device(device)
    traj = select_trajectory(run, trajectory)
    if len(traj.steps) < 4:
        raise InvalidSettingError(f"trajectory {traj.name!r} has {len(traj.steps)} rows; PCA needs at least 4")
    if int(resolution) < 2:
        raise InvalidSettingError(f"resolution={resolution} must be >= 2")
    physics = run.physics()
    loss = objective_of(run, physics, traj.name)
    name = name or f"trajectory-pca-{traj.name}"
    X = traj.params
    mean, components, ratios = principal_components(X, 3)
    coords = (X - mean) @ components.T  # (T, P) @ (P, 3)
    planes = []
    if landscape and save:
        for i, j in PLANES:
            plane = f"{name}-{i}{j}"
            manifold = plane_manifold(mean, components[[i - 1, j - 1]], ratios, X)
            save_manifold(run, plane, manifold, coords={traj.name: manifold.encode(X)},
                          fitted={traj.name: np.ones(len(X), dtype=bool)},
                          attrs={"fitted_on": [traj.name], "probe": "trajectory-pca", "components": [i, j]})
            compute_landscape(run, plane, resolution=int(resolution), losses=[loss], name=plane, device=device)
            planes.append(plane)
            if progress is not None:
                progress(len(planes), len(PLANES))
    attrs = {"probe": "trajectory-pca",
             "trajectory": traj.name, "loss": loss, "rows": int(len(X)), "resolution": int(resolution),
             "ratios": [float(r) for r in ratios[:5]], "first_two": float(ratios[:2].sum()), "planes": planes}
    arrays = {"explained_variance_ratio": ratios, "components": components, "mean": mean, "coords": coords,
              "steps": traj.steps}
    if save:
        save_probe(run, name, arrays, attrs)
    return {**arrays, "attrs": attrs}
