"""Decode a latent grid of a fitted manifold, evaluate the physics losses there, measure the projection."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from pinnviz.errors import InvalidSettingError, unknown_name
from pinnviz.landscape._data import LandscapeData, TrajectoryDiagnostics, save_landscape
from pinnviz.manifolds import Manifold, load_manifold, manifold_info
from pinnviz.store import Run
from pinnviz.trainers import DTYPES

# progress(stage, completed, total): stage is "decode", "evaluate" or "diagnostics"
Progress = Callable[[str, int, int], None]

SLOW_DECODE_POINTS = 900  # a manifold whose decode is slow (UMAP, ~20 ms a point) gets at most 30 x 30


def latent_axes(manifold: Manifold, resolution: int, margin: float):
    """Grid axes over the manifold's extent and the (R1, R0) mask of extrapolated grid points.

    A bounded latent (the autoencoder's [-1, 1]^2) is widened by `margin` times its size on each
    side, and the widening is marked as extrapolation; a linear or embedding method's extent is the
    box of its fitted codes plus the margin, and outside that box is marked.
    """
    box = manifold.latent_extent(0.0)
    lo0, hi0, lo1, hi1 = box
    w0, w1 = hi0 - lo0, hi1 - lo1
    extent = (lo0 - margin * w0, hi0 + margin * w0, lo1 - margin * w1, hi1 + margin * w1)
    axis_0 = np.linspace(extent[0], extent[1], resolution)
    axis_1 = np.linspace(extent[2], extent[3], resolution)
    inside0 = (axis_0 >= lo0 - 1e-12) & (axis_0 <= hi0 + 1e-12)
    inside1 = (axis_1 >= lo1 - 1e-12) & (axis_1 <= hi1 + 1e-12)
    extrapolated = ~(inside1[:, None] & inside0[None, :])
    return axis_0, axis_1, extrapolated, extent, box


def decode_in_chunks(manifold: Manifold, Z: np.ndarray, chunk: int, progress: Progress | None) -> np.ndarray:
    parts = []
    for start in range(0, len(Z), chunk):
        parts.append(manifold.decode(Z[start : start + chunk]))
        if progress is not None:
            progress("decode", min(start + chunk, len(Z)), len(Z))
    return np.concatenate(parts)


def nearest_distance(points: torch.Tensor, data: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Distance (n,) from each of `points` (n, P) to the nearest row of `data` (m, P); NaN rows stay NaN."""
    out = []
    for start in range(0, len(points), chunk):
        block = points[start : start + chunk]
        out.append(torch.cdist(block, data).min(dim=1).values)
    return torch.cat(out) if out else points.new_zeros(0)


def _finite_or_nan(values: torch.Tensor) -> np.ndarray:
    array = values.detach().to("cpu", torch.float64).numpy().copy()
    array[~np.isfinite(array)] = np.nan
    return array


def trajectory_diagnostics(manifold: Manifold, params: np.ndarray, steps: np.ndarray, evaluate,
                           names: Sequence[str]) -> TrajectoryDiagnostics:
    """Projection error and loss error of each point m of one trajectory (rows it was fitted on)."""
    codes = manifold.encode(params)
    recon = manifold.decode(codes)
    diff = np.linalg.norm(params - recon, axis=1)
    norm = np.linalg.norm(params, axis=1)
    true = evaluate(params)
    at_projection = evaluate(recon)
    diag = TrajectoryDiagnostics(codes, steps, diff, diff / np.where(norm > 0, norm, 1.0))
    for name in names:
        gap = np.abs(true[name] - at_projection[name])
        span = np.nanmax(true[name]) - np.nanmin(true[name])
        diag.true_loss[name] = true[name]
        diag.loss_at_projection[name] = at_projection[name]
        diag.relative_loss_error[name] = gap / np.maximum(np.abs(true[name]), np.finfo(float).tiny)
        diag.range_loss_error[name] = gap / (span if span > 0 else 1.0)
    return diag


def compute_landscape(run: Run, manifold: str | Manifold, *, resolution: int = 100,
                      losses: Sequence[str] | None = None, margin: float | None = None, device: str = "cpu",
                      dtype: str = "float64", chunk: int | None = None, max_slow_points: int = SLOW_DECODE_POINTS,
                      name: str | None = None, save: bool | None = None, trajectories: Sequence[str] | None = None,
                      progress: Progress | None = None) -> LandscapeData:
    """Losses on a latent grid of a manifold, with diagnostics along the trajectories it was fitted on.

    Parameters
    ----------
    run : an opened store ("r+" when `save`)
    manifold : the name of a stored manifold, or a fitted `Manifold` object (e.g. from
        `fit_manifold(..., save=False)`); an object is never written, so a read-only store will do
    resolution : R, grid points per axis (R x R decoded vectors)
    losses : loss names; default every loss of the problem
    margin : widening of the extent on each side, as a fraction of its size; default 0.1 for
        unbounded latents and 0 for the autoencoder's [-1, 1]^2
    max_slow_points : for a manifold whose `decode` is slow (UMAP), the grid is reduced to at most
        this many points and the reduction is recorded in `attrs["notes"]`; never interpolated
    save : store the result as `landscapes/<name>` (default: True for a stored manifold, False for an
        object; a landscape of a manifold the store does not hold is refused)
    trajectories : diagnostics for these trajectories, every row (default: a stored manifold's
        `fitted_on` rows; for an object, every trajectory of the store)

    Returns
    -------
    LandscapeData

    The package docstring (``help(pinnviz)``) has a complete example with an unsaved manifold.
    """
    stored = isinstance(manifold, str)
    save = stored if save is None else save
    if save and not stored:
        raise InvalidSettingError("a landscape of an unsaved manifold is not stored (save=False), as it could not "
                                  "name what it was computed from; save the manifold first (save_manifold)")
    if resolution < 2:
        raise InvalidSettingError(f"resolution={resolution} must be >= 2")
    if dtype not in DTYPES:
        raise unknown_name("dtype", dtype, DTYPES)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidSettingError(f"device={device!r} but CUDA is not available; use --device cpu")
    manifold_name = manifold if stored else None
    if stored:
        manifold = load_manifold(run, manifold_name)
    if not manifold.can_decode:
        raise InvalidSettingError(f"manifold {manifold_name or manifold.method!r} ({manifold.method}) cannot decode "
                                  "a grid")
    if trajectories is not None:
        for traj in trajectories:
            run.trajectory_group(traj)  # an unknown name raises, listing the valid ones
        info = {"fitted_on": list(trajectories), "fitted": {}}
    else:
        info = manifold_info(run, manifold_name) if stored else {"fitted_on": run.trajectory_names(), "fitted": {}}
    physics = run.physics()
    names = physics.check_names(list(losses) if losses else list(physics.names))
    torch_dtype = DTYPES[dtype]
    notes = []
    if getattr(manifold, "slow_decode", False) and resolution**2 > max_slow_points:
        coarse = int(np.floor(np.sqrt(max_slow_points)))
        notes.append(f"{manifold.method} inverse_transform is slow: grid decoded at {coarse}x{coarse} "
                     f"instead of {resolution}x{resolution}, losses exact at those points, not interpolated")
        resolution = coarse
    if margin is None:
        margin = 0.0 if manifold.bounded_latent else 0.1
    axis_0, axis_1, extrapolated, extent, box = latent_axes(manifold, resolution, margin)
    g0, g1 = np.meshgrid(axis_0, axis_1)  # (R1, R0) each: row i1, column i0
    Z = np.stack([g0.ravel(), g1.ravel()], axis=1)

    start = time.perf_counter()
    decoded = decode_in_chunks(manifold, Z, 256 if not getattr(manifold, "slow_decode", False) else 25, progress)
    decode_seconds = time.perf_counter() - start
    undecodable = ~np.isfinite(decoded).all(axis=1)
    if undecodable.any():
        notes.append(f"{int(undecodable.sum())} of {len(Z)} grid points could not be decoded (blank)")

    theta = torch.as_tensor(np.nan_to_num(decoded)).to(device, torch_dtype)
    batch = physics.prepare(theta[:1])  # one quadrature for the whole map and the diagnostics
    start = time.perf_counter()
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress("evaluate", done[0], len(Z))

    values = physics.evaluate(theta, names, chunk=chunk, batch=batch, progress=advance)
    evaluate_seconds = time.perf_counter() - start
    grids = {}
    for loss in names:
        grid = _finite_or_nan(values[loss])
        grid[undecodable] = np.nan
        grids[loss] = grid.reshape(len(axis_1), len(axis_0))

    def evaluate(params: np.ndarray) -> dict[str, np.ndarray]:
        bad = ~np.isfinite(params).all(axis=1)
        tensor = torch.as_tensor(np.nan_to_num(params)).to(device, torch_dtype)
        result = {k: _finite_or_nan(v) for k, v in physics.evaluate(tensor, names, chunk=chunk, batch=batch).items()}
        for v in result.values():
            v[bad] = np.nan
        return result

    fitted_params, trajectories = [], {}
    for i, traj in enumerate(info.get("fitted_on", [])):
        stored = run.trajectory(traj)
        rows = np.flatnonzero(info["fitted"][traj]) if traj in info.get("fitted", {}) else np.arange(len(stored.steps))
        params = stored.params[rows]
        fitted_params.append(params)
        trajectories[traj] = trajectory_diagnostics(manifold, params, stored.steps[rows], evaluate, names)
        if progress is not None:
            progress("diagnostics", i + 1, len(info["fitted_on"]))
    data = torch.as_tensor(np.concatenate(fitted_params)).to(device, torch_dtype)
    distance = nearest_distance(theta, data).to("cpu", torch.float64).numpy()
    distance[undecodable] = np.nan

    result = LandscapeData(
        name=name or manifold_name or manifold.method,
        axis_0=axis_0, axis_1=axis_1, losses=grids,
        data_distance=distance.reshape(len(axis_1), len(axis_0)),
        extrapolated=extrapolated, trajectories=trajectories,
        attrs={
            "manifold": manifold_name or "", "method": manifold.method, "resolution": int(resolution),
            "extent": [float(v) for v in extent], "fitted_box": [float(v) for v in box], "margin": float(margin),
            "losses": names, "device": device, "dtype": dtype, "points": int(len(Z)),
            "decode_seconds": decode_seconds, "evaluate_seconds": evaluate_seconds,
            "seconds": decode_seconds + evaluate_seconds, "notes": "; ".join(notes),
            "quadrature": run.problem.get("quadrature", ""),
        },
    )
    if save:
        save_landscape(run.group, result)
    return result
