"""`fit_manifold`: select and thin trajectories of a store, fit a manifold, measure it, store it."""

from __future__ import annotations

import inspect
import time

import numpy as np

from pinnviz.errors import DamagedStoreError, InvalidSettingError, NonFiniteError
from pinnviz.manifolds._outofcore import IN_MEMORY_BYTES, RowSource, row_blocks_of
from pinnviz.manifolds._persist import save_manifold
from pinnviz.manifolds._registry import manifold_class
from pinnviz.store._names import check_name

SLOW_HELDOUT_ROWS = 100  # held-out rows per trajectory measured when decoding is slow (UMAP)


def thinned_rows(n_rows: int, every: int) -> np.ndarray:
    """Every `every`-th row from the first, and always the last."""
    return np.unique(np.append(np.arange(0, n_rows, every), n_rows - 1))


def _selected_names(run, trajectories: list[str] | None, every: int) -> list[str]:
    """The trajectories to fit (all by default), after checking `every` and the selection."""
    if not isinstance(every, int | np.integer) or every < 1:
        raise InvalidSettingError(f"every={every} must be an integer >= 1")
    names = list(trajectories) if trajectories is not None else run.trajectory_names()
    if not names:
        where = "selection is empty" if trajectories is not None else f"{run.path} holds no trajectories"
        raise InvalidSettingError(f"nothing to fit: the trajectory {where}; train one first or pass --trajectories")
    if len(set(names)) != len(names):
        raise InvalidSettingError(f"trajectories {names} name one trajectory twice")
    return names


def select_points(run, trajectories: list[str] | None, every: int):
    """Read, check and thin the selected trajectories: (names, full params, fitted rows, X, segments)."""
    names = _selected_names(run, trajectories, every)
    params, rows = {}, {}
    for name in names:
        traj = run.trajectory(name)  # unknown names raise here, listing the valid ones
        P = traj.params
        if len(P) == 0:
            raise InvalidSettingError(f"trajectory {name!r} has no rows yet; nothing to fit")
        bad = ~np.isfinite(P).all(axis=1)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            missing = _rows_without_data(traj, bad)
            if missing:
                raise DamagedStoreError(
                    f"trajectory {name!r} has no stored parameters in {missing} of {len(P)} rows (first at step "
                    f"{int(traj.steps[first])}) although their losses are finite: chunk files of "
                    f"trajectories/{name}/params are missing; restore the store from a copy"
                )
            raise NonFiniteError(
                f"trajectory {name!r} holds NaN or infinity in {int(bad.sum())} of {len(P)} rows (first at step "
                f"{int(traj.steps[first])}); it diverged: leave it out with --trajectories"
            )
        params[name], rows[name] = P, thinned_rows(len(P), every)
    widths = {P.shape[1] for P in params.values()}
    if len(widths) > 1:
        raise InvalidSettingError(f"trajectories have different parameter counts {sorted(widths)}")
    X = np.concatenate([params[n][rows[n]] for n in names])
    bounds = np.cumsum([0] + [len(rows[n]) for n in names])
    segments = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return names, params, rows, X, segments


def select_source(run, trajectories: list[str] | None, every: int):
    """The selected, thinned rows as a lazy `RowSource` read from the store block by block.

    Returns (names, arrays name -> (params array, length), rows name -> fitted row indices, source,
    segments). NaN is found while the rows are read (`RowSource` raises NonFiniteError naming the step).
    """
    names = _selected_names(run, trajectories, every)
    arrays, rows, steps = {}, {}, {}
    for name in names:
        array, length = run.params_array(name)  # unknown names raise here, listing the valid ones
        if length == 0:
            raise InvalidSettingError(f"trajectory {name!r} has no rows yet; nothing to fit")
        arrays[name], rows[name] = (array, length), thinned_rows(length, every)
        steps[name] = np.asarray(run.trajectory_group(name)["step"][:length])
    source = RowSource([(n, arrays[n][0], rows[n]) for n in names], steps)
    bounds = np.cumsum([0] + [len(rows[n]) for n in names])
    segments = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return names, arrays, rows, source, segments


def selected_bytes(run, trajectories: list[str] | None, every: int) -> int:
    """Bytes (float64) of the points `select_points` would read; 0 where the selection is invalid."""
    if not isinstance(every, int | np.integer) or every < 1:
        return 0
    try:
        names = list(trajectories) if trajectories is not None else run.trajectory_names()
        sizes = [run.params_array(name) for name in names]
    except Exception:  # the validating reader reports the problem
        return 0
    return sum(8 * len(thinned_rows(length, every)) * int(array.shape[1]) for array, length in sizes if length)


def _rows_without_data(traj, bad: np.ndarray) -> int:
    """Rows whose parameters are NaN while every stored loss is finite: the chunk is missing (Zarr's fill value),
    not a divergence (a diverged row has a non-finite objective). A diagnostic loss, NaN on most rows by
    design (`diagnostic_losses`), says nothing either way."""
    sparse = set(traj.attrs.get("diagnostic_losses", ()))
    losses = [values for name, values in traj.losses.items() if name not in sparse]
    if not losses:
        return 0
    finite = np.all([np.isfinite(v) for v in losses], axis=0)
    return int((bad & finite).sum())


def fit_manifold(run, method: str, trajectories: list[str] | None = None, every: int = 1,
                 name: str | None = None, *, through: str | None = None, progress=None, save: bool = True,
                 **hyper):
    """Fit a manifold on trajectories of a store and (with `save`) store it as `manifolds/<name>`.

    Parameters
    ----------
    run : Run, opened with mode "r+" when `save`
    method : a name of `MANIFOLDS` ("pca", "random", "kpca", "umap", "autoencoder")
    trajectories : names to fit on together; None: all of the store
    every : fit on every N-th row of each trajectory (and its last row)
    name : stored name, default `method`
    through : for `random`, the trajectory whose last point the plane passes through (default: the
        first selected); ignored otherwise
    progress : `progress(fraction, epoch, losses)` for the autoencoder
    **hyper : the method's constructor arguments (see its class)

    Returns
    -------
    manifold : the fitted Manifold
    report : dict with method, name, trajectories, points, mean_projection_error (fitted rows),
        heldout_projection_error (the rows not fitted on, None when every=1), seconds (fit),
        decodable_fraction (of a 50 x 50 grid over latent_extent()), and method-specific entries.
    """
    cls = manifold_class(method)
    valid = cls.hyper_names()
    unknown = sorted(set(hyper) - set(valid))
    if unknown:
        raise InvalidSettingError(
            f"{method} has no setting {', '.join(unknown)}; valid: {', '.join(valid) or '(none)'}"
        )
    if save:  # before reading or fitting anything
        check_name("manifold", name or method)
        run.check_overwrite("manifold", name or method)
    lazy = selected_bytes(run, trajectories, every) > IN_MEMORY_BYTES
    if lazy and not getattr(cls, "out_of_core", False):
        gib = selected_bytes(run, trajectories, every) / 2**30
        raise InvalidSettingError(
            f"{method} needs the selected points in memory ({gib:.2f} GiB, above the {IN_MEMORY_BYTES / 2**30:.2f} "
            f"GiB limit); thin them with --every, or use pca or autoencoder, which read the store block by block")
    if lazy:
        names, params, rows, X, segments = select_source(run, trajectories, every)
    else:
        names, params, rows, X, segments = select_points(run, trajectories, every)
        params = {n: (P, len(P)) for n, P in params.items()}
    if method == "random":
        ref = through if through is not None else names[0]
        if ref not in params:
            raise InvalidSettingError(f"through={ref!r} is not one of the selected trajectories {names}")
        hyper.setdefault("center", np.asarray(params[ref][0][params[ref][1] - 1], dtype=np.float64))
        hyper.setdefault("layout", run.model.get("layout"))
    manifold = cls(**hyper)
    fit_kwargs = {"segments": segments}
    if progress is not None and "progress" in inspect.signature(manifold.fit).parameters:
        fit_kwargs["progress"] = progress
    t0 = time.perf_counter()
    manifold.fit(X, **fit_kwargs)
    seconds = time.perf_counter() - t0

    coords, errors, fitted, heldout = {}, {}, {}, []
    for traj in names:
        array, length = params[traj]
        r = rows[traj]
        mask = np.zeros(length, dtype=bool)
        mask[r] = True
        held = np.flatnonzero(~mask)
        if manifold.slow_decode and len(held) > SLOW_HELDOUT_ROWS:
            held = held[np.linspace(0, len(held) - 1, SLOW_HELDOUT_ROWS).round().astype(int)]
        measured = np.zeros(length, dtype=bool)
        measured[np.concatenate([r, held])] = manifold.can_decode
        coords[traj], errors[traj] = encode_rows(manifold, traj, array, length, measured, run)
        fitted[traj] = mask
        heldout.append(errors[traj][held])
    fit_err = np.concatenate([errors[t][rows[t]] for t in names])
    held_err = np.concatenate(heldout)
    report = {
        "method": method,
        "name": name or method,
        "trajectories": names,
        "every": every,
        "points": int(len(X)),
        "params": int(X.shape[1]),
        "mean_projection_error": _nanmean(fit_err),
        "heldout_projection_error": _nanmean(held_err),
        "heldout_points": int(len(held_err)),
        # points whose code decode() refuses (UMAP outside its triangulation): excluded from the means
        "undecodable_points": int(np.isnan(fit_err).sum()),
        "undecodable_heldout_points": int(np.isnan(held_err).sum()),
        "seconds": seconds,
        "decodable_fraction": _decodable_fraction(manifold),
    }
    report.update(_method_report(manifold, X, segments))
    if getattr(manifold, "subspace_", 0):
        report["subspace"] = int(manifold.subspace_)
        report["subspace_residual"] = float(np.mean(manifold.subspace_residual_))
    if save:
        save_manifold(run, report["name"], manifold, coords=coords, errors=errors, fitted=fitted, attrs={
            "fitted_on": names, "every": every, "seed": hyper.get("seed"), "seconds": seconds,
            "report": report, **({"through": through or names[0]} if method == "random" else {}),
        })
    return manifold, report


def encode_rows(manifold, name: str, array, length: int, measured: np.ndarray, run=None):
    """Codes (T, 2) of every row of a trajectory and the projection error of the `measured` rows (NaN
    elsewhere), read and encoded block by block so that a large trajectory is never held whole."""
    codes, err = np.empty((length, 2)), np.full(length, np.nan)
    steps = None

    def check(_name, picked, block):
        nonlocal steps
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            if steps is None and run is not None:
                steps = np.asarray(run.trajectory_group(name)["step"][:length])
            first = int(picked[np.flatnonzero(bad)[0]])
            raise NonFiniteError(f"trajectory {name!r} holds NaN or infinity (first at step "
                                 f"{int(steps[first]) if steps is not None else first}); it diverged: "
                                 "leave it out with --trajectories")

    for rows, block in row_blocks_of([(name, array, np.arange(length))], int(array.shape[1]), check=check):
        codes[rows] = manifold.encode(block)
        pick = np.flatnonzero(measured[rows])
        if len(pick):
            err[rows.start + pick] = manifold.projection_error(block[pick])
    return codes, err


def _nanmean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else None


def _decodable_fraction(manifold, resolution: int = 50) -> float:
    lo0, hi0, lo1, hi1 = manifold.latent_extent()
    g0, g1 = np.meshgrid(np.linspace(lo0, hi0, resolution), np.linspace(lo1, hi1, resolution))
    return float(np.mean(manifold.decodable(np.stack([g0.ravel(), g1.ravel()], axis=1))))


def _method_report(manifold, X, segments) -> dict:
    if manifold.method == "pca":
        ratio = manifold.explained_variance_ratio_
        return {"explained_variance_ratio": [float(v) for v in ratio[:10]]}
    if manifold.method == "autoencoder":
        rows = manifold.anchor_rows_
        points = X.rows(rows) if isinstance(X, RowSource) else X[rows]
        anchors = manifold.encode(points) if len(rows) else np.zeros((0, 2))
        return {
            "epochs": int(manifold.epochs_), "best_epoch": int(manifold.best_epoch_),
            "stopped": manifold.stopped_, "best_loss": float(manifold.best_loss_),
            "anchor_distances": [float(d) for d in np.linalg.norm(anchors - manifold.anchor_targets_, axis=1)],
            "grid_concentration": manifold.grid_concentration(X, segments),
        }
    return {}
