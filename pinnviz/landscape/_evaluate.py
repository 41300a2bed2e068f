"""Decode a latent grid of a fitted manifold, evaluate the physics losses there, measure the projection."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError, StaleResultError, unknown_name
from pinnviz.landscape._data import LandscapeData, TrajectoryDiagnostics, save_landscape
from pinnviz.manifolds import Manifold, load_manifold, manifold_info, manifold_names, manifold_staleness
from pinnviz.manifolds._outofcore import MEMORY_BUDGET, row_blocks_of
from pinnviz.store import Run
from pinnviz.store._names import check_name
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


def trajectory_diagnostics(manifold: Manifold, params, steps: np.ndarray, evaluate,
                           names: Sequence[str], *, rows: np.ndarray | None = None,
                           on_block: Callable[[np.ndarray], None] | None = None) -> TrajectoryDiagnostics:
    """Projection error and loss error of each point m of one trajectory (rows it was fitted on).

    `params` is an array (T, P) or a stored Zarr array read `rows` (default: all) a memory-sized
    block at a time, so a large trajectory is never held whole; `on_block(block)` sees each block.
    """
    rows = np.arange(len(steps)) if rows is None else np.asarray(rows)
    parts: dict[str, list] = {"codes": [], "diff": [], "norm": [], "true": [], "proj": []}
    for _, block in row_blocks_of([("", params, rows)], int(params.shape[1]), vector_budget(4)):
        codes = manifold.encode(block)
        recon = manifold.decode(codes)
        parts["codes"].append(codes)
        parts["diff"].append(np.linalg.norm(block - recon, axis=1))
        parts["norm"].append(np.linalg.norm(block, axis=1))
        parts["true"].append(evaluate(block))
        parts["proj"].append(evaluate(recon))
        if on_block is not None:
            on_block(block)
    diff, norm = np.concatenate(parts["diff"]), np.concatenate(parts["norm"])
    diag = TrajectoryDiagnostics(np.concatenate(parts["codes"]), steps[rows], diff,
                                 diff / np.where(norm > 0, norm, 1.0))
    for name in names:
        true = np.concatenate([v[name] for v in parts["true"]])
        at_projection = np.concatenate([v[name] for v in parts["proj"]])
        gap = np.abs(true - at_projection)
        span = np.nanmax(true) - np.nanmin(true)
        diag.true_loss[name] = true
        diag.loss_at_projection[name] = at_projection
        diag.relative_loss_error[name] = gap / np.maximum(np.abs(true), np.finfo(float).tiny)
        diag.range_loss_error[name] = gap / (span if span > 0 else 1.0)
    return diag


def vector_budget(copies: int) -> int:
    """Bytes per copy when `copies` (n, P) float64 arrays of one block are alive at once."""
    return max(1, MEMORY_BUDGET // copies)


def vectors_per_chunk(n_params: int, cap: int = 256) -> int:
    """Grid points decoded and evaluated at a time: the decoded float64 block, its tensor and the
    evaluation's working set within `MEMORY_BUDGET` (256 at small P; 21 at 1 M parameters)."""
    return int(max(1, min(cap, MEMORY_BUDGET // (3 * 8 * max(n_params, 1)))))


class DataDistance:
    """Distance from decoded grid vectors to the nearest fitted point, without holding both at large P.

    For an affine decoder, decode(Z) = C(Z) B + o with B (k, P), so ||decode(z) - d||^2 =
    C G C^T - 2 C M^T + q with G = B B^T (k, k), M = (d - o) B^T (n_data, k) and q = ||d - o||^2,
    accumulated in one pass over the data (`add`). Otherwise the fitted points are kept (on the
    evaluation device) while they fit in `MEMORY_BUDGET`, else streamed from the store per grid chunk.
    """

    def __init__(self, manifold: Manifold, device, dtype) -> None:
        factors = getattr(manifold, "affine_decoder", lambda: None)()
        self.affine = factors is not None
        if self.affine:
            self.offset, self.basis, self.coefficients = factors
            self.gram = self.basis @ self.basis.T  # (k, k)
        self.device, self.dtype = device, dtype
        self.M, self.q, self.points, self.sources, self.kept = [], [], [], [], 0

    def add(self, block: np.ndarray) -> None:
        if self.affine:
            centred = block - self.offset
            self.M.append(centred @ self.basis.T)  # (b, P) @ (P, k)
            self.q.append((centred * centred).sum(axis=1))
        elif self.points is not None:  # kept while they fit the budget, else streamed later
            self.kept += block.nbytes
            self.points = self.points + [block] if self.kept <= MEMORY_BUDGET else None

    def add_stored(self, array, rows: np.ndarray) -> None:
        """Fitted rows of a stored trajectory, for the fallback that cannot keep them."""
        self.sources.append(("", array, rows))

    def finish(self) -> None:
        if self.affine:
            self.M, self.q = np.concatenate(self.M), np.concatenate(self.q)
        elif self.points:
            self.data = torch.as_tensor(np.concatenate(self.points)).to(self.device, self.dtype)
        else:
            self.data = None
        self.points = None

    def __call__(self, Z: np.ndarray, decoded: torch.Tensor) -> np.ndarray:
        if self.affine:
            C = self.coefficients(Z)
            sq = ((C @ self.gram) * C).sum(axis=1)[:, None] - 2.0 * C @ self.M.T + self.q[None, :]
            return np.sqrt(np.maximum(sq.min(axis=1), 0.0))
        if self.data is not None:
            return nearest_distance(decoded, self.data).to("cpu", torch.float64).numpy()
        best = torch.full((len(decoded),), float("inf"), dtype=torch.float64)
        for _, block in row_blocks_of(self.sources, int(decoded.shape[1]), vector_budget(2)):
            data = torch.as_tensor(block).to(self.device, self.dtype)
            best = torch.minimum(best, nearest_distance(decoded, data).to("cpu", torch.float64))
        return best.numpy()


def evaluate_grid(manifold: Manifold, physics, Z: np.ndarray, names: Sequence[str], quadrature: dict,
                  distance_to_data: DataDistance, *, device, torch_dtype, chunk: int | None,
                  progress: Progress | None = None):
    """The grid Z (n, 2), a memory-sized chunk at a time: decoded, evaluated, measured, dropped.

    Returns flat losses {name: (n,)}, the data distance (n,), the undecodable mask (n,) and the decode
    and evaluation seconds.
    """
    step = 25 if getattr(manifold, "slow_decode", False) else vectors_per_chunk(physics.net.n_params)
    flat = {loss: np.full(len(Z), np.nan) for loss in names}
    distance, undecodable = np.full(len(Z), np.nan), np.zeros(len(Z), dtype=bool)
    decode_seconds = evaluate_seconds = 0.0
    for start in range(0, len(Z), step):
        part = slice(start, min(start + step, len(Z)))
        t0 = time.perf_counter()
        decoded = manifold.decode(Z[part])
        decode_seconds += time.perf_counter() - t0
        if progress is not None:
            progress("decode", part.stop, len(Z))
        bad = ~np.isfinite(decoded).all(axis=1)
        undecodable[part] = bad
        theta = torch.as_tensor(np.nan_to_num(decoded)).to(device, torch_dtype)
        del decoded
        t0 = time.perf_counter()
        values = physics.evaluate(theta, names, chunk=chunk, batch=quadrature)
        evaluate_seconds += time.perf_counter() - t0
        for loss in names:
            flat[loss][part] = _finite_or_nan(values[loss])
        distance[part] = distance_to_data(Z[part], theta)
        if progress is not None:
            progress("evaluate", part.stop, len(Z))
    return flat, distance, undecodable, decode_seconds, evaluate_seconds


def data_distance_of(run: Run, manifold: Manifold, info: dict, device, torch_dtype) -> DataDistance:
    """The data-distance map of the fitted rows, fed block by block as the diagnostics pass feeds it."""
    distance_to_data = DataDistance(manifold, device, torch_dtype)
    for traj in info.get("fitted_on", []):
        array, length = run.params_array(traj)
        fitted = info.get("fitted", {})
        rows = np.flatnonzero(fitted[traj]) if traj in fitted else np.arange(length)
        for _, block in row_blocks_of([("", array, rows)], int(array.shape[1]), vector_budget(4)):
            distance_to_data.add(block)
        distance_to_data.add_stored(array, rows)
    distance_to_data.finish()
    return distance_to_data


MAX_GRID_BYTES = 2 << 30  # the R x R result grids (each loss, data distance, extrapolation mask) held in memory


def check_landscape_options(run: Run, manifold_name: str | None, *, resolution: int, losses: Sequence[str] | None,
                            margin: float | None, device: str, dtype: str, chunk: int | None, name: str | None,
                            save: bool = True) -> None:
    """Every check of `compute_landscape` that needs no computation, so that a mistake costs nothing
    (those of the stored manifold are left out with `manifold_name=None`)."""
    if not isinstance(resolution, int | np.integer) or resolution < 2:
        raise InvalidSettingError(f"resolution={resolution} must be >= 2 (an integer)")
    grids = (len(losses) if losses else 4) + 2  # the losses (a problem has a few), data distance, extrapolated
    limit = int(np.sqrt(MAX_GRID_BYTES / (8 * grids)))
    if resolution > limit:
        need = resolution**2 * grids * 8 / 2**30
        raise InvalidSettingError(f"resolution={resolution} makes {resolution**2:.3g} grid points, {need:.3g} GiB "
                                  f"of result grids (limit {MAX_GRID_BYTES >> 30} GiB); use --resolution <= {limit}")
    if margin is not None and not (np.isfinite(margin) and margin >= 0):
        raise InvalidSettingError(f"margin={margin} must be a finite number >= 0 (a fraction of the extent, "
                                  "e.g. 0.1)")
    if chunk is not None and (not isinstance(chunk, int | np.integer) or chunk < 1):
        raise InvalidSettingError(f"chunk={chunk} must be an integer >= 1 (parameter vectors per batch)")
    if dtype not in DTYPES:
        raise unknown_name("dtype", dtype, DTYPES)
    check_device(device)
    if losses is not None:
        if not list(losses):
            raise InvalidSettingError("the loss selection is empty; name at least one loss, e.g. --loss pinn")
        twice = sorted({n for n in losses if list(losses).count(n) > 1})
        if twice:
            raise InvalidSettingError(f"loss {twice[0]!r} is named twice in {','.join(losses)}")
        run.physics().check_names(list(losses))
    if manifold_name is None:
        return
    names = manifold_names(run)
    if manifold_name not in names:
        raise unknown_name(f"manifold in {run.path}", manifold_name, names)
    stale = manifold_staleness(run, manifold_name)
    if stale:
        raise StaleResultError(f"manifold {manifold_name!r} is stale: {stale}; refit it with `pinnviz "
                               f"fit-manifold {run.path} --name {manifold_name} --force ...`")
    if save:
        check_name("landscape", name or manifold_name)
        run.check_overwrite("landscape", name or manifold_name)


def compute_landscape(run: Run, manifold: str | Manifold, *, resolution: int = 100,
                      losses: Sequence[str] | None = None, margin: float | None = None, device: str = "cpu",
                      dtype: str = "float64", chunk: int | None = None, max_slow_points: int = SLOW_DECODE_POINTS,
                      name: str | None = None, save: bool | None = None, trajectories: Sequence[str] | None = None,
                      progress: Progress | None = None, client=None) -> LandscapeData:
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
    client : a `distributed.Client`: the grid is split into blocks of latent coordinates, each evaluated by
        a worker that opens the store read-only (landscape/_distributed.py); the same numbers as here

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
    if client is not None and not stored:
        raise InvalidSettingError("a landscape on Dask workers needs a stored manifold: each worker loads it "
                                  "from the store (save it first, or evaluate here without a client)")
    manifold_name = manifold if stored else None
    check_landscape_options(run, manifold_name, resolution=resolution, losses=losses, margin=margin,
                            device=device, dtype=dtype, chunk=chunk, name=name, save=save)
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
    requested = resolution
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

    quadrature = physics.prepare(torch.zeros((1, physics.net.n_params), dtype=torch_dtype, device=device))

    def evaluate(params: np.ndarray) -> dict[str, np.ndarray]:
        bad = ~np.isfinite(params).all(axis=1)
        tensor = torch.as_tensor(np.nan_to_num(params)).to(device, torch_dtype)
        values = physics.evaluate(tensor, names, chunk=chunk, batch=quadrature)
        result = {k: _finite_or_nan(v) for k, v in values.items()}
        for v in result.values():
            v[bad] = np.nan
        return result

    # diagnostics first: the same pass over the fitted points prepares the data-distance map
    distance_to_data = DataDistance(manifold, device, torch_dtype)
    diagnostics = {}
    for i, traj in enumerate(info.get("fitted_on", [])):
        array, length = run.params_array(traj)
        steps = np.asarray(run.trajectory_group(traj)["step"][:length])
        fitted = info.get("fitted", {})
        rows = np.flatnonzero(fitted[traj]) if traj in fitted else np.arange(length)
        diagnostics[traj] = trajectory_diagnostics(manifold, array, steps, evaluate, names, rows=rows,
                                                    on_block=distance_to_data.add)
        distance_to_data.add_stored(array, rows)
        if progress is not None:
            progress("diagnostics", i + 1, len(info["fitted_on"]))
    distance_to_data.finish()

    if client is None:
        flat, distance, undecodable, decode_seconds, evaluate_seconds = evaluate_grid(
            manifold, physics, Z, names, quadrature, distance_to_data, device=device, torch_dtype=torch_dtype,
            chunk=chunk, progress=progress)
    else:
        from pinnviz.landscape._distributed import sharded_grid

        flat, distance, undecodable, decode_seconds, evaluate_seconds = sharded_grid(
            client, run.path, manifold_name, info, Z, names, device=device, dtype=dtype, chunk=chunk,
            progress=progress)
    if undecodable.any():
        notes.append(f"{int(undecodable.sum())} of {len(Z)} grid points could not be decoded (blank)")
    distance[undecodable] = np.nan
    grids = {}
    for loss in names:
        flat[loss][undecodable] = np.nan
        grids[loss] = flat[loss].reshape(len(axis_1), len(axis_0))

    result = LandscapeData(
        name=name or manifold_name or manifold.method,
        axis_0=axis_0, axis_1=axis_1, losses=grids,
        data_distance=distance.reshape(len(axis_1), len(axis_0)),
        extrapolated=extrapolated, trajectories=diagnostics,
        attrs={
            "manifold": manifold_name or "", "method": manifold.method, "resolution": int(resolution),
            "extent": [float(v) for v in extent], "fitted_box": [float(v) for v in box], "margin": float(margin),
            "losses": names, "device": device, "dtype": dtype, "points": int(len(Z)),
            "decode_seconds": decode_seconds, "evaluate_seconds": evaluate_seconds,
            "seconds": decode_seconds + evaluate_seconds, "notes": "; ".join(notes),
            "quadrature": run.problem.get("quadrature", ""),
            "manifold_fingerprint": info.get("fingerprint"), "requested_resolution": int(requested),
        },
    )
    if save:
        save_landscape(run.group, result)
    return result
