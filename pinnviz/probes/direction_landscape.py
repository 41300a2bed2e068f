"""d-dimensional landscapes (d = 1..4) around a trajectory's vector along Hessian, random or PCA directions.

Two directions hide critical points (the topological-profiles paper samples 3-D and 4-D landscapes for
that reason). The grid center + sum_k a_k v_k, a_k in [-span, span], is evaluated with the batched
losses (`grid_losses`); the directions v_k are

- "hessian": the unit eigenvectors of the d largest eigenvalues of the objective's Hessian at the center
  (`hessian_landscape.top_hessian_directions`: exact or Lanczos);
- "random": d seeded Gaussian directions, filter-normalised to the center (Li et al. 2018:
  `manifolds.random_plane.random_directions`), so each has the center's norm;
- "pca": the top-d principal components of the trajectory's rows, centred on their mean as the PCA
  manifold is (`manifolds._outofcore.snapshot_pca`), unit vectors.

Stored in `probes/<name>/` (kind "direction-landscape"): axis_0..axis_{d-1}, loss/<l> of shape (R,) * d
with loss[i_0, ..., i_{d-1}] at center + sum_k axis_k[i_k] directions[k], directions (d, P), center (P,),
and per method eigenvalues (hessian) or singular values (pca); attrs name the method, seed, trajectory,
row, step and the trajectory's fingerprint, so a result computed from it can tell when it is stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import AlreadyExistsError, InvalidSettingError, unknown_name
from pinnviz.landscape import landscape_names
from pinnviz.probes._fast_hessian import objective_of
from pinnviz.probes._store import check_probe_name, save_probe
from pinnviz.probes.hessian_landscape import METHODS, grid_losses, top_hessian_directions
from pinnviz.store import Run

KIND = "direction-landscape"
LEGACY_KINDS = ("hessian-landscape",)  # stored by `probe hessian-landscape` before the other directions
DIRECTIONS = ("hessian", "random", "pca")
DEFAULT_RESOLUTION = {1: 101, 2: 51, 3: 21, 4: 11}
MAX_POINTS = 2_000_000
DEFAULT_REACH = 0.05  # the default grid reaches 5% of ||center|| along every direction


def default_name(directions: str, trajectory: str, dims: int) -> str:
    """probes/<directions>-landscape-<trajectory>-<d>d (hessian: the name `probe hessian-landscape` used)."""
    return f"{directions}-landscape-{trajectory}-{dims}d"


def check_dims_options(dims: int, directions: str, resolution: int | None, span: float | None) -> int:
    """Check the grid settings before anything is read; returns the resolution (the default per dims)."""
    if not 1 <= int(dims) <= 4:
        raise InvalidSettingError(f"dims={dims} must be 1, 2, 3 or 4")
    if directions not in DIRECTIONS:
        raise unknown_name("directions", directions, DIRECTIONS)
    resolution = DEFAULT_RESOLUTION[int(dims)] if resolution is None else int(resolution)
    if resolution < 2:
        raise InvalidSettingError(f"resolution={resolution} must be >= 2")
    if resolution**dims > MAX_POINTS:
        raise InvalidSettingError(f"resolution={resolution} in {dims} dimensions is {resolution**dims:,} points; "
                                  f"at most {MAX_POINTS:,}")
    if span is not None and not (np.isfinite(span) and span > 0):
        raise InvalidSettingError(f"span={span} must be a positive number")
    return resolution


def row_of_step(steps: np.ndarray, step: int, trajectory: str) -> int:
    """The row of `trajectory` that stores `step`; a step it does not store is refused, naming the stored ones."""
    found = np.flatnonzero(np.asarray(steps) == int(step))
    if not found.size:
        shown = ", ".join(str(int(s)) for s in steps[:3]) + (f", ..., {int(steps[-1])}" if len(steps) > 3 else "")
        raise InvalidSettingError(f"step {step} is not stored in trajectory {trajectory!r} (stored: {shown or 'none'})")
    return int(found[-1])


def pca_directions(run: Run, trajectory: str, dims: int,
                   device: str = "cpu") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top-`dims` principal components (dims, P) of the trajectory's rows, centred on their mean as the
    PCA manifold is, with all singular values and the mean (Gram products on `device`); refused when the rows
    span fewer directions."""
    from pinnviz.manifolds._fit import select_source
    from pinnviz.manifolds._outofcore import snapshot_pca

    _, _, _, source, _ = select_source(run, [trajectory], 1)
    pca = snapshot_pca(source, dims, device=device)
    if len(pca.components) < dims:
        raise InvalidSettingError(f"trajectory {trajectory!r} ({source.n_points} rows) spans only "
                                  f"{len(pca.components)} principal directions; dims={dims} needs more")
    return pca.components, pca.singular_values, pca.mean


def trajectory_stamp(run: Run, trajectory: str) -> str:
    """Which trajectory at which length (`manifolds` fingerprint): a replaced or resumed one changes it."""
    from pinnviz.manifolds._persist import trajectory_fingerprint

    return trajectory_fingerprint(run, trajectory)


def direction_landscape(run: Run, trajectory: str | None = None, *, dims: int = 3, directions: str = "hessian",
                        row: int | None = None, step: int | None = None, resolution: int | None = None,
                        span: float | None = None, loss: str | None = None, losses: list[str] | None = None,
                        method: str = "auto", seed: int = 0, dtype: str = "float64", chunk: int | None = None,
                        name: str | None = None, save: bool = True, device: str = "cpu",
                        progress: Callable[[int, int], None] | None = None) -> dict:
    """A d-dimensional landscape around a trajectory's vector along `directions`, stored in probes/NAME.

    Parameters
    ----------
    dims : 1..4, the number of directions
    directions : "hessian" (top-d eigenvectors of the Hessian of `loss`), "random" (filter-normalised,
        seeded by `seed`) or "pca" (top-d principal components of the trajectory)
    row, step : the centre is the trajectory's vector at this row (negative: from the end) or at this
        stored step (at most one of them; default the last row)
    resolution : grid points per axis (default 101, 51, 21, 11 for 1..4 dimensions)
    span : the grid's axes run over [-span, span]; default 5% of ||centre|| for the unit hessian and pca
        directions and 0.05 for the random ones (whose norm is ||centre||), the same reach
    loss : the loss whose Hessian gives the directions and the default grid loss (default the objective)
    losses : losses evaluated on the grid (default `loss`)
    method : "auto", "exact" or "lanczos" for the Hessian (see `top_hessian_directions`)
    dtype : "float64" or "float32", the precision of the grid's evaluation
    device : where the Hessian (or its products), a PCA's Gram products and the grid's losses are computed;
        the eigensolvers (LAPACK, ARPACK) and the random directions run on the CPU

    Returns
    -------
    dict with the arrays stored in `probes/<name>` ("axis_k", "loss/<l>", "directions", "center", and
    "eigenvalues" or "singular_values") and "attrs", the settings.
    """
    dims = int(dims)
    resolution = check_dims_options(dims, directions, resolution, span)
    if method not in METHODS:
        raise unknown_name("Hessian method", method, METHODS)
    if dtype not in ("float64", "float32"):
        raise unknown_name("dtype", dtype, ("float64", "float32"))
    check_device(device)
    if row is not None and step is not None:
        raise InvalidSettingError("give the centre as a row or as a step, not both")
    names = run.trajectory_names()
    if trajectory is None:
        if not names:
            raise InvalidSettingError(f"{run.path} has no trajectory; train one first")
        trajectory = names[0]
    traj = run.trajectory(trajectory)  # an unknown name raises here, listing the stored ones
    n_rows = traj.params.shape[0]
    if n_rows == 0:
        raise InvalidSettingError(f"trajectory {trajectory!r} has no rows yet")
    if step is not None:
        row = row_of_step(traj.steps, step, trajectory)
    row = -1 if row is None else int(row)
    if not -n_rows <= row < n_rows:
        raise InvalidSettingError(f"row={row} is outside trajectory {trajectory!r} ({n_rows} rows)")
    row = row % n_rows
    physics = run.physics()
    loss = objective_of(run, physics, trajectory, loss)
    grid_names = physics.check_names(list(losses) if losses else [loss])
    if dims >= physics.net.layout.size:
        raise InvalidSettingError(f"dims={dims} needs more than {physics.net.layout.size} parameters")
    if save:
        stored_as = name or default_name(directions, trajectory, dims)
        check_probe_name(run, stored_as)
        if stored_as in landscape_names(run.group):  # `probe topology --landscape NAME` must name one landscape
            raise AlreadyExistsError(f"{stored_as!r} names the 2-D landscape landscapes/{stored_as}; choose "
                                     "another --name")
        if not run.writable:
            raise InvalidSettingError(f"{run.path} is open read-only; open it with mode='r+' to store the landscape")
    center = np.asarray(traj.params[row], dtype=np.float64)
    if not np.isfinite(center).all():
        raise InvalidSettingError(f"row {row} of {trajectory!r} holds non-finite parameters")
    if span is None:
        span = DEFAULT_REACH if directions == "random" else DEFAULT_REACH * float(np.linalg.norm(center))
    if not span > 0:
        raise InvalidSettingError("the centre vector is zero; give --span")

    started = time.perf_counter()
    extra_arrays: dict[str, np.ndarray] = {}
    attrs = {"directions": directions}
    if directions == "hessian":
        eigenvalues, basis, used = top_hessian_directions(physics, torch.as_tensor(center).to(device), loss, dims,
                                                          method=method)
        extra_arrays["eigenvalues"] = eigenvalues
        attrs.update(method=used, eigenvalues=[float(v) for v in eigenvalues])
    elif directions == "random":
        from pinnviz.manifolds.random_plane import random_directions

        basis = random_directions(center, run.model.get("layout"), int(seed), dims, "filter")
        if np.linalg.matrix_rank(basis) < dims:
            raise InvalidSettingError("the random directions are degenerate (the centre is almost all zeros)")
        attrs.update(method="filter-normalised", seed=int(seed), normalise="filter")
    else:
        basis, singular, _ = pca_directions(run, trajectory, dims, device)
        extra_arrays["singular_values"] = singular
        variance = singular**2
        ratio = variance[:dims] / variance.sum() if variance.sum() > 0 else np.zeros(dims)
        attrs.update(method="pca", explained_variance_ratio=[float(v) for v in ratio])
    directions_seconds = time.perf_counter() - started
    axes = [np.linspace(-span, span, resolution) for _ in range(dims)]
    started = time.perf_counter()
    grids = grid_losses(physics, center, basis, axes, grid_names, dtype=getattr(torch, dtype), chunk=chunk,
                        device=device, progress=progress)
    evaluate_seconds = time.perf_counter() - started
    name = name or default_name(directions, trajectory, dims)
    arrays = {f"axis_{k}": a for k, a in enumerate(axes)}
    arrays.update({f"loss/{n}": g for n, g in grids.items()})
    arrays.update({"directions": basis, "center": center, **extra_arrays})
    attrs.update({"kind": KIND, "trajectory": trajectory, "trajectory_fingerprint": trajectory_stamp(run, trajectory),
                  "row": row, "step": int(traj.steps[row]), "loss": loss, "losses": grid_names, "dims": dims,
                  "resolution": resolution, "span": float(span), "dtype": dtype, "points": int(resolution**dims),
                  "directions_seconds": directions_seconds, "hessian_seconds": directions_seconds,
                  "evaluate_seconds": evaluate_seconds,
                  "layout": "loss[i_0, ..., i_{d-1}] at center + sum_k axis_k[i_k] * directions[k]"})
    if save:
        save_probe(run, name, arrays, attrs)
    return {**arrays, "attrs": {**attrs, "name": name}}


def is_direction_landscape(attrs: dict) -> bool:
    """Whether probe attrs describe a d-dimensional direction landscape (this module's, or an older Hessian one)."""
    return attrs.get("kind") == KIND or attrs.get("kind") in LEGACY_KINDS


def direction_landscape_staleness(run: Run, attrs: dict) -> str | None:
    """Why a stored direction landscape no longer matches its trajectory, or None when it is current.

    Stale: the trajectory is gone or replaced (another batch or creation time), or, for PCA directions (the
    components of all its rows), it has another length; a resumed trajectory keeps its earlier rows, so a
    Hessian or random landscape at one of them stays current. Landscapes stored before the
    `trajectory_fingerprint` was recorded are not checked.
    """
    trajectory, recorded = attrs.get("trajectory"), attrs.get("trajectory_fingerprint")
    if recorded is None or trajectory is None:
        return None
    if trajectory not in run.trajectory_names():
        return f"its trajectory {trajectory!r} is no longer in the store"
    now = trajectory_stamp(run, trajectory)
    (then_id, then_rows), (now_id, now_rows) = recorded.rsplit(":", 1), now.rsplit(":", 1)
    if then_id != now_id:
        return f"trajectory {trajectory!r} was replaced after this landscape was computed"
    if attrs.get("directions") == "pca" and then_rows != now_rows:
        return (f"trajectory {trajectory!r} has {now_rows} rows, {then_rows} when its principal components were "
                "computed")
    if int(now_rows) <= int(attrs.get("row", 0)):
        return f"trajectory {trajectory!r} no longer has row {attrs.get('row')}"
    return None
