"""`basis` (Rowan et al. 2024, section 2.6): learned basis functions, their Gram rank, the null "trench".

The last hidden layer times the distance function, h_i(x) = D(x) tanh(...)_i, are the basis functions
whose coefficients are the output weights. Their Gram matrix G_ij = int h_i h_j dx (on the problem's
quadrature) is rank deficient at trained solutions; a null vector Delta of G, placed in the output
weights (v = [Delta, 0]), changes no loss. The plane of v and a random direction is a `TrenchPlaneManifold`
saved in the store, and its landscape is computed with the batched landscape code.
"""

from __future__ import annotations

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError, NonFiniteError
from pinnviz.landscape import compute_landscape
from pinnviz.manifolds import save_manifold
from pinnviz.manifolds.trench_plane import TrenchPlaneManifold
from pinnviz.nets import MLP
from pinnviz.probes._fast_hessian import objective_of
from pinnviz.probes._store import save_probe
from pinnviz.store import Run, Trajectory


def select_trajectory(run: Run, trajectory: str | None) -> Trajectory:
    """The named trajectory of a store, or its first one (sorted by name) when None."""
    names = run.trajectory_names()
    if trajectory is None:
        if not names:
            raise InvalidSettingError(f"{run.path} holds no trajectory; train one first (pinnviz train)")
        trajectory = names[0]
    traj = run.trajectory(trajectory)  # UnknownNameError listing the names
    if len(traj.steps) == 0:
        raise InvalidSettingError(f"trajectory {trajectory!r} of {run.path} has no stored row")
    if not np.isfinite(traj.params).all():
        raise NonFiniteError(f"trajectory {trajectory!r} of {run.path} holds NaN or infinite parameters")
    return traj


def basis_functions(physics, theta: torch.Tensor, batch: dict | None = None):
    """Basis functions h_i(x) = D(x) phi_i(x) of one vector theta (n_params,) on the quadrature.

    Returns (x (N, d), w (N,), H (N, width)); without a hard boundary condition D = 1.
    """
    theta = torch.as_tensor(theta, dtype=torch.float64).reshape(1, -1)
    batch = physics.prepare(theta, batch)
    x, w = batch["x"], batch["w"]
    H = physics.net.last_hidden(theta, x)[0]  # (N, width)
    if "distance" in batch:
        H = batch["distance"][0][:, None] * H  # (D, dD, d2D): D (N,)
    return x, w, H


def gram_matrix(H: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """G_ij = sum_n w_n H_ni H_nj, the quadrature of int h_i h_j dx: (width, width)."""
    return H.T @ (w[:, None] * H)  # (width, N) @ (N, width)


def gram_rank(gram: np.ndarray, tolerance: float = 1e-12) -> tuple[int, np.ndarray, np.ndarray]:
    """Rank (eigenvalues above tolerance x the largest), eigenvalues ascending, eigenvectors (columns)."""
    values, vectors = np.linalg.eigh(0.5 * (gram + gram.T))
    top = float(values.max())
    rank = int(np.count_nonzero(values > tolerance * top)) if top > 0 else 0
    return rank, values, vectors


def null_direction(net: MLP, delta: np.ndarray, output: int = 0) -> np.ndarray:
    """v = [Delta, 0]: Delta (width,) in row `output` of the output-layer weights, zeros elsewhere."""
    entry = next(e for e in net.layout.entries if e.name == "output.weight")
    if not 0 <= output < entry.shape[0]:
        raise InvalidSettingError(f"output={output} must be in 0..{entry.shape[0] - 1}")
    v = np.zeros(net.n_params)
    start = entry.offset + output * entry.shape[1]
    v[start : start + entry.shape[1]] = delta
    return v


def basis(run: Run, trajectory: str | None = None, *, step: int = -1, tolerance: float = 1e-12,
          span: float = 2.0, resolution: int = 41, seed: int = 0, output: int = 0, line_points: int = 41,
          landscape: bool = True, name: str | None = None, save: bool = True, device: str = "cpu") -> dict:
    """Basis functions, Gram rank and the null-direction plane at row `step` of a trajectory.

    Parameters
    ----------
    run : store ("r+" when saving)
    trajectory : name; default the first trajectory of the store
    step : row of the trajectory (default the last, the solution)
    tolerance : an eigenvalue counts towards the rank when above tolerance x the largest
    span : half-width of the trench plane (unit directions) and of the line along v
    resolution : grid points per axis of the trench landscape
    output : which output's weights carry Delta (multi-output networks)
    landscape : compute the trench landscape (manifold and landscape `<name>` in the store)
    device : where the basis functions and the line's and the landscape's losses are computed (the small
        width x width Gram matrix and its eigendecomposition are formed on the CPU)

    Returns (and stores in `probes/<name>`, default `basis-<trajectory>`) arrays x, w, basis (N, width),
    gram, eigenvalues (ascending), delta, null_direction (n_params,), line_t, line_loss (along v) and
    attrs with the rank and `null_relative_change` = max |L(theta + t v) - L(theta)| / |L(theta)|.
    """
    check_device(device)
    traj = select_trajectory(run, trajectory)
    physics = run.physics()
    loss = objective_of(run, physics, traj.name)
    rows = len(traj.steps)
    if not -rows <= step < rows:
        raise InvalidSettingError(f"step={step} is outside the {rows} rows of trajectory {traj.name!r}")
    if not tolerance > 0:
        raise InvalidSettingError(f"tolerance={tolerance} must be > 0")
    if int(resolution) < 2:
        raise InvalidSettingError(f"resolution={resolution} must be >= 2")
    name = name or f"basis-{traj.name}"
    theta = torch.as_tensor(traj.params[step]).to(device)
    batch = physics.prepare(theta[None])
    x, w, H = (t.cpu() for t in basis_functions(physics, theta, batch))
    gram = gram_matrix(H, w).numpy()
    rank, values, vectors = gram_rank(gram, tolerance)
    delta = vectors[:, 0]
    v = null_direction(physics.net, delta, output)
    line_t = np.linspace(-span, span, int(line_points))
    line = torch.as_tensor(traj.params[step][None] + line_t[:, None] * v[None]).to(device)
    line_loss = physics.evaluate(line, [loss], batch=batch)[loss].cpu().numpy()
    centre = float(physics.evaluate(theta[None], [loss], batch=batch)[loss][0])
    change = float(np.max(np.abs(line_loss - centre)) / max(abs(centre), np.finfo(float).tiny))
    attrs = {
        "probe": "basis",
        "trajectory": traj.name, "loss": loss, "step": int(traj.steps[step]), "row": int(step % rows),
        "tolerance": float(tolerance), "rank": rank, "width": int(H.shape[1]), "span": float(span),
        "seed": int(seed), "output": int(output), "resolution": int(resolution),
        "smallest_relative_eigenvalue": float(values[0] / values[-1]) if values[-1] > 0 else 0.0,
        "loss_at_point": centre, "null_relative_change": change, "landscape": None,
    }
    if landscape and save:
        manifold = TrenchPlaneManifold(direction=v, seed=seed, span=span)
        params = traj.params[: rows + step + 1 if step < 0 else step + 1]
        if len(params) < 3:  # the plane only needs its centre; fit's minimum is three points
            params = np.repeat(params[-1:], 3, axis=0)
        manifold.fit(params)
        fitted = np.zeros(rows, dtype=bool)
        fitted[step] = True  # diagnostics (and the marker) at the solution only
        codes = manifold.encode(traj.params)
        save_manifold(run, name, manifold, coords={traj.name: codes}, fitted={traj.name: fitted},
                      attrs={"fitted_on": [traj.name], "probe": "basis"})
        compute_landscape(run, name, resolution=int(resolution), losses=[loss], margin=0.0, name=name, device=device)
        attrs["landscape"] = name
    arrays = {"x": x.numpy(), "w": w.numpy(), "basis": H.numpy(), "gram": gram, "eigenvalues": values,
              "delta": delta, "null_direction": v, "line_t": line_t, "line_loss": line_loss}
    if save:
        save_probe(run, name, arrays, attrs)
    return {**arrays, "attrs": attrs}
