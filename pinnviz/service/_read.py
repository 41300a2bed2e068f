"""What the pages show, read from a store opened read-only, as JSON-ready dicts.

Names from a request (trajectory, manifold, landscape, probe) are only ever looked up among the names a
store lists, so a name can never become a path (`..`, `%2e%2e%2f`, `a/b` are simply unknown).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import zarr.errors

from pinnviz.errors import unknown_name
from pinnviz.store import Run, display_status, open_run

# Methods whose latent coordinates are lengths in parameter space (a point z decodes to c + z1 d1 + z2 d2
# with unit directions): two landscapes of these methods share units, so the compare page links their axes.
PARAMETER_DISTANCE_METHODS = {"pca", "random", "hessian-plane", "trench-plane"}
MAX_PROBE_VALUES = 250_000  # larger probe arrays are listed with their shape, not sent


def jsonable(value):
    """numpy arrays and scalars as lists and floats; NaN and infinities as None (JSON has neither)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            if np.isfinite(value).all():
                return value.tolist()
            out = value.astype(object)
            out[~np.isfinite(value)] = None
            return out.tolist()
        if value.dtype.kind in "iub":
            return value.tolist()
        return [str(v) for v in value.ravel()]
    if isinstance(value, np.generic):
        return jsonable(np.asarray(value).reshape(1))[0]
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def open_store(path: Path) -> Run:
    return open_run(path, mode="r")


def _child_names(run: Run, group: str) -> list[str]:
    # listing opens each child: one deleted meanwhile (a job replacing it) fails the listing, so list again;
    # so does zarr's warning about a metadata file being written (store/_run.py), where warnings are errors
    for attempt in range(5):
        try:
            return sorted(name for name, _ in run.group[group].groups()) if group in run.group else []
        except (KeyError, FileNotFoundError, zarr.errors.ZarrUserWarning):
            if attempt == 4:
                raise
            time.sleep(0.05)
    return []


def _children_attrs(run: Run, group: str) -> list[tuple[str, dict]]:
    """(name, attrs) of every child group, leaving out one removed since it was listed: a job replacing a
    result deletes it before writing the new one, and a page polling meanwhile must not fail on it."""
    out = []
    for name in _child_names(run, group):
        try:
            out.append((name, dict(run.group[f"{group}/{name}"].attrs)))
        except (KeyError, FileNotFoundError):
            continue
    return out


def _checked(run: Run, group: str, name: str, kind: str) -> str:
    names = _child_names(run, group)
    if name not in names:
        raise unknown_name(f"{kind} in this store", name, names)
    return name


def latent_units(method: str | None) -> str | None:
    """A label of the latent axes' units where two landscapes can share them, else None."""
    return "parameter distance" if method in PARAMETER_DISTANCE_METHODS else None


def trajectory_row(run: Run, name: str) -> dict:
    """Status, rows and final losses of one trajectory, reading only its attrs and last row."""
    group = run.group[f"trajectories/{name}"]
    attrs = dict(group.attrs)
    n = int(attrs.get("length", 0))
    final = {}
    if n and "loss" in group:
        final = {k: float(a[n - 1]) for k, a in group["loss"].arrays()}
    last_step = int(group["step"][n - 1]) if n else None
    keep = ("loss", "optimizer", "lr", "steps", "seed", "log_every", "balance", "failure", "created")
    return {"name": name, "status": display_status(attrs), "rows": n, "last_step": last_step,
            "final_losses": jsonable(final), **{k: attrs[k] for k in keep if k in attrs}}


def run_summary(run: Run, store_id: str, relative: str) -> dict:
    """The runs list's row of one store: problem, model, trajectories, manifolds, landscapes, probes."""
    model = {k: v for k, v in run.model.items() if k != "layout"}
    model["params"] = sum(int(np.prod(e["shape"])) for e in run.model.get("layout", []))
    manifolds = []
    for name, attrs in _children_attrs(run, "manifolds"):
        report = attrs.get("report", {})
        manifolds.append({"name": name, "method": attrs.get("method"), "fitted_on": attrs.get("fitted_on", []),
                          "mean_projection_error": jsonable(report.get("mean_projection_error"))})
    landscapes = []
    for name, attrs in _children_attrs(run, "landscapes"):
        landscapes.append({"name": name, "manifold": attrs.get("manifold"), "method": attrs.get("method"),
                           "resolution": attrs.get("resolution"), "losses": attrs.get("losses", []),
                           "units": latent_units(attrs.get("method"))})
    probes = [{"name": name, "probe": probe_label(name, attrs)} for name, attrs in _children_attrs(run, "probes")]
    trajectories = [trajectory_row(run, n) for n in run.trajectory_names()]
    return {"id": store_id, "path": relative, "problem": run.problem, "model": model,
            "trajectories": trajectories, "manifolds": manifolds, "landscapes": landscapes, "probes": probes,
            "training": any(t["status"] == "running" for t in trajectories)}


def trajectory_curves(run: Run, name: str, start: int = 0) -> dict:
    """Every loss component (and balancing weight) of a trajectory against its steps, from row `start` on
    (a page following a training run fetches only the rows it has not seen; `start` says where they begin)."""
    from pinnviz.errors import InvalidSettingError

    if start < 0:
        raise InvalidSettingError(f"start={start} must be >= 0 (a row of the trajectory)")
    group = run.trajectory_group(name)
    row = trajectory_row(run, name)
    n = row["rows"]
    start = min(start, n)
    losses = {k: np.asarray(a[start:n]) for k, a in group["loss"].arrays()} if "loss" in group else {}
    weights = {k: np.asarray(a[start:n]) for k, a in group["weights"].arrays()} if "weights" in group else {}
    return {**row, "start": start, "steps": jsonable(np.asarray(group["step"][start:n])),
            "losses": jsonable(losses), "weights": jsonable(weights)}


def manifold_detail(run: Run, name: str) -> dict:
    """A manifold's settings and, per trajectory, its latent codes and projection errors against steps."""
    group = run.group[f"manifolds/{_checked(run, 'manifolds', name, 'manifold')}"]
    attrs = dict(group.attrs)
    per_traj = {}
    codes = dict(group["coords"].arrays()) if "coords" in group else {}
    errors = dict(group["projection_error"].arrays()) if "projection_error" in group else {}
    fitted = dict(group["fitted"].arrays()) if "fitted" in group else {}
    for traj in sorted(codes):
        rows = codes[traj].shape[0]
        steps = np.asarray(run.group[f"trajectories/{traj}/step"][:rows]) if traj in run.trajectory_names() else \
            np.arange(rows)
        per_traj[traj] = {"steps": jsonable(steps), "coords": jsonable(np.asarray(codes[traj][...])),
                          "projection_error": jsonable(np.asarray(errors[traj][...])) if traj in errors else None,
                          "fitted": jsonable(np.asarray(fitted[traj][...])) if traj in fitted else None}
    keep = {k: attrs[k] for k in ("method", "hyper", "fitted_on", "every", "seed", "seconds", "report",
                                   "can_decode", "bounded_latent", "created") if k in attrs}
    return {"name": name, **jsonable(keep), "units": latent_units(attrs.get("method")), "trajectories": per_traj}


def landscape_group(run: Run, name: str):
    return run.group[f"landscapes/{_checked(run, 'landscapes', name, 'landscape')}"]


def landscape_loss(group, name: str, loss: str | None) -> str:
    losses = sorted(n for n, _ in group["loss"].arrays())
    if loss is None:
        return losses[0]
    if loss not in losses:
        raise unknown_name(f"loss of landscape {name!r}", loss, losses)
    return loss


def landscape_field(run: Run, name: str, field: str, loss: str | None = None) -> np.ndarray:
    """One (R1, R0) grid of a landscape: `loss` (of a loss name), `data_distance` or `extrapolated`."""
    group = landscape_group(run, name)
    if field == "loss":
        return np.asarray(group[f"loss/{landscape_loss(group, name, loss)}"][...], dtype=np.float64)
    if field in ("data_distance", "extrapolated"):
        return np.asarray(group[field][...], dtype=np.float64)
    raise unknown_name("grid field", field, ["loss", "data_distance", "extrapolated"])


def landscape_detail(run: Run, name: str, loss: str | None = None, *, values: bool = True) -> dict:
    """Axes, settings and diagnostics of a landscape; with `values`, its grids of `loss` as nested lists."""
    group = landscape_group(run, name)
    loss = landscape_loss(group, name, loss)
    attrs = dict(group.attrs)
    diagnostics = {}
    if "diagnostics" in group:
        for traj, g in group["diagnostics"].groups():
            entry = {key: jsonable(np.asarray(g[key][...]))
                     for key in ("coords", "steps", "projection_error", "relative_projection_error") if key in g}
            for key in ("true_loss", "loss_at_projection", "relative_loss_error", "range_loss_error"):
                entry[key] = ({k: jsonable(np.asarray(a[...])) for k, a in g[key].arrays()} if key in g else {})
            diagnostics[traj] = entry
    axis_0, axis_1 = np.asarray(group["axis_0"][...]), np.asarray(group["axis_1"][...])
    out = {"name": name, "loss": loss, "losses": sorted(n for n, _ in group["loss"].arrays()),
           "shape": [len(axis_1), len(axis_0)], "axis_0": jsonable(axis_0), "axis_1": jsonable(axis_1),
           "attrs": jsonable(attrs), "units": latent_units(attrs.get("method")), "diagnostics": diagnostics}
    if values:
        out["values"] = jsonable(landscape_field(run, name, "loss", loss))
        out["data_distance"] = jsonable(landscape_field(run, name, "data_distance"))
        out["extrapolated"] = np.asarray(group["extrapolated"][...]).astype(bool).tolist()
    return out


def probe_label(name: str, attrs: dict) -> str:
    """What a probe is: its `probe` attribute, else its `kind` (direction-landscape, topology), else its name."""
    return str(attrs.get("probe") or attrs.get("kind") or name)


def probe_staleness(run: Run, name: str, attrs: dict) -> str | None:
    """Why a stored probe no longer matches what it was computed from, else None: a direction landscape
    whose trajectory was replaced, a merge tree whose landscape changed or is itself stale. Such a probe is
    not drawn."""
    from pinnviz.errors import PinnvizError
    from pinnviz.probes.direction_landscape import direction_landscape_staleness, is_direction_landscape
    from pinnviz.probes.topology import KIND, load_topology

    if is_direction_landscape(attrs):
        return direction_landscape_staleness(run, attrs)
    if attrs.get("kind") != KIND:
        return None
    try:
        load_topology(run, name)  # the checks `pinnviz` itself makes before drawing a stored tree
    except PinnvizError as exc:
        return str(exc)
    return None


def probe_detail(run: Run, name: str) -> dict:
    """A probe's settings and its stored arrays (those too large to send are listed by shape only)."""
    group = run.group[f"probes/{_checked(run, 'probes', name, 'probe')}"]
    arrays, omitted = {}, {}
    for path, node in group.members(max_depth=None):
        if not hasattr(node, "shape"):
            continue
        if int(np.prod(node.shape)) > MAX_PROBE_VALUES:
            omitted[path] = list(node.shape)
            continue
        arrays[path] = {"shape": list(node.shape), "dtype": str(node.dtype), "values": jsonable(np.asarray(node[...]))}
    attrs = dict(group.attrs)
    return {"name": name, "probe": probe_label(name, attrs), "attrs": jsonable(attrs),
            "arrays": dict(sorted(arrays.items())), "omitted": omitted, "stale": probe_staleness(run, name, attrs)}
