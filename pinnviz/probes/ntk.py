"""The neural tangent kernel of a PINN along a stored trajectory (Wang, Yu and Perdikaris 2022).

K = [J_u; J_r][J_u; J_r]^T, with J_u the parameter Jacobian of the network output at initial and
boundary points (a boundary row is u(0, t) - u(2 pi, t), the quantity the periodic loss squares) and
J_r that of the PDE residual at collocation points, both on a seeded subset of points. At each probed
row: the traces of K_uu and K_rr, their eigenvalues, and
Delta K(t) = ||K(0) - K(t)||_2 / ||K(0)||_2 (spectral norms; figure 1a of the NTK paper).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError
from pinnviz.probes._store import save_probe
from pinnviz.store import Run
from pinnviz.trainers._jacobian import check_pointwise, point_jacobians


def ntk_subset(problem, points: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """`points` collocation points and `points` constraint points (initial first, then boundary pairs)."""
    g = torch.Generator().manual_seed(seed)
    n_ic = min(problem.ic_points, points - min(problem.bc_points, points // 2))
    n_bc = min(problem.bc_points, points - n_ic)
    return {"residual": torch.randperm(problem.points, generator=g)[:points],
            "ic": torch.randperm(problem.ic_points, generator=g)[:n_ic],
            "bc": torch.randperm(problem.bc_points, generator=g)[:n_bc]}


def ntk_blocks(physics, theta: torch.Tensor, batch: dict, subset: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """J_u (M_u, n_params) and J_r (M_r, n_params) of one parameter vector."""
    jac = point_jacobians(physics, theta, batch, subset)
    return torch.cat([jac["ic"], jac["bc"]]), jac["residual"]


def ntk(run: Run, trajectory: str | None = None, *, every: int | None = None, points: int = 100, seed: int = 0,
        name: str | None = None, save: bool = True, device: str = "cpu",
        progress: Callable[[int, int], None] | None = None) -> dict:
    """NTK diagnostics at every `every`-th stored row of `trajectory` (and its last row).

    Parameters
    ----------
    run : an open store (mode "r+" to save)
    trajectory : default the first trajectory
    every : probe every N-th stored row (default: about 20 rows in all)
    points : collocation points, and constraint points, in the seeded subset
    device : where the Jacobians and K = J J^T are computed; K's eigenvalues and norms are taken on the CPU

    Returns
    -------
    dict with step (S,), trace_uu, trace_rr (S,), eig_uu (S, M_u), eig_rr (S, M_r) (descending),
    delta (S,) and the settings; stored in `probes/<name>` when `save`.
    """
    check_device(device)
    physics = run.physics()
    check_pointwise(physics)
    if int(points) < 2:
        raise InvalidSettingError(f"points={points} must be >= 2")
    names = run.trajectory_names()
    if trajectory is None:
        if not names:
            raise InvalidSettingError(f"{run.path} has no trajectory to probe; train one first")
        trajectory = names[0]
    traj = run.trajectory(trajectory)
    n_rows = traj.params.shape[0]
    if n_rows == 0:
        raise InvalidSettingError(f"trajectory {trajectory!r} has no rows")
    every = max(1, n_rows // 20) if every is None else int(every)
    if every < 1:
        raise InvalidSettingError(f"every={every} must be >= 1")
    rows = sorted(set(range(0, n_rows, every)) | {n_rows - 1})
    theta_all = torch.as_tensor(traj.params)  # rows go to the device one at a time
    batch = physics.prepare(theta_all[:1].to(device))
    subset = ntk_subset(physics.problem, int(points), seed)
    out: dict[str, list] = {k: [] for k in ("trace_uu", "trace_rr", "eig_uu", "eig_rr", "delta")}
    k0 = norm0 = None
    for i, row in enumerate(rows):
        j_u, j_r = ntk_blocks(physics, theta_all[row].to(device), batch, subset)
        j = torch.cat([j_u, j_r])
        k = (j @ j.T).cpu()  # (M_u + M_r, M_u + M_r)
        if k0 is None:
            k0, norm0 = k, torch.linalg.matrix_norm(k, ord=2)
        k_uu, k_rr = k[: len(j_u), : len(j_u)], k[len(j_u) :, len(j_u) :]
        out["trace_uu"].append(float(torch.trace(k_uu)))
        out["trace_rr"].append(float(torch.trace(k_rr)))
        out["eig_uu"].append(torch.linalg.eigvalsh(k_uu).flip(0).numpy())
        out["eig_rr"].append(torch.linalg.eigvalsh(k_rr).flip(0).numpy())
        out["delta"].append(float(torch.linalg.matrix_norm(k0 - k, ord=2) / norm0))
        if progress is not None:
            progress(i + 1, len(rows))
    result = {key: np.asarray(value) for key, value in out.items()}
    result["step"] = traj.steps[rows]
    name = name or f"ntk-{trajectory}"
    attrs = {"probe": "ntk", "trajectory": trajectory, "every": every, "points": int(points), "seed": int(seed),
             "problem": physics.problem.name, "width": physics.net.width, "depth": physics.net.depth}
    if save:
        save_probe(run, name, result, attrs)
    return {**result, **attrs, "name": name}
