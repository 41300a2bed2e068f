"""Fitted manifolds in a store: `manifolds/<name>/{state/..., coords/<trajectory>, ...}`, never pickle.

Layout of one manifold group:
    attrs                      method, hyper, state_attrs, fitted_on, every, seed, seconds, report, ...
    state/<name>               the fitted arrays of `Manifold.get_state()` (float64 / int64)
    coords/<trajectory>        (T, 2) latent code of every row of the trajectory
    projection_error/<traj.>   (T,) ||m - decode(encode(m))|| / ||m||, NaN for rows not evaluated
    fitted/<trajectory>        (T,) bool, the rows the manifold was fitted on
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import zarr

from pinnviz import __version__
from pinnviz.errors import IncompatibleRunError, unknown_name
from pinnviz.manifolds._base import Manifold
from pinnviz.manifolds._registry import manifold_class
from pinnviz.store._arrays import write_array
from pinnviz.store._names import check_name
from pinnviz.store._run import read_rows

GROUP = "manifolds"


def manifold_names(run) -> list[str]:
    if GROUP not in run.group:
        return []
    return sorted(name for name, _ in run.group[GROUP].groups())


def trajectory_fingerprint(run, trajectory: str) -> str:
    """Which trajectory, at which length: its batch id, index and creation time, and its row count."""
    attrs = run.trajectory_attrs(trajectory)
    return (f"{attrs.get('batch', '-')}.{attrs.get('batch_index', 0)}.{attrs.get('created', '-')}:"
            f"{int(attrs.get('length', 0))}")


def manifold_staleness(run, name: str) -> str | None:
    """Why the stored manifold no longer matches the trajectories it was fitted on, or None.

    A manifold records each fitted trajectory's fingerprint (`trajectory_fingerprints`); one that is gone,
    replaced or grown since (a resumed run) makes the fit, and everything computed from it, stale.
    """
    attrs = dict(manifold_group(run, name).attrs)
    recorded = attrs.get("trajectory_fingerprints")
    if recorded is None:  # stored before fingerprints were recorded: nothing to compare
        return None
    present = set(run.trajectory_names())
    for traj, fingerprint in recorded.items():
        if traj not in present:
            return f"trajectory {traj!r} it was fitted on is no longer in the store"
        if trajectory_fingerprint(run, traj) != fingerprint:
            now = int(run.trajectory_attrs(traj).get("length", 0))
            then = fingerprint.rsplit(":", 1)[-1]
            return f"trajectory {traj!r} changed after the fit ({then} rows then, {now} now)"
    return None


def save_manifold(run, name: str, manifold: Manifold, *, attrs: dict | None = None,
                  coords: dict[str, np.ndarray] | None = None, errors: dict[str, np.ndarray] | None = None,
                  fitted: dict[str, np.ndarray] | None = None) -> zarr.Group:
    """Write `manifolds/<name>` of a store opened with mode "r+" (replacing one only with `run.overwrite`).

    Besides the state, it records a new `fingerprint` (landscapes keep it, so a refit makes them stale) and
    the fingerprint of each trajectory in `attrs["fitted_on"]`.
    """
    check_name("manifold", name)
    if not run.writable:
        raise IncompatibleRunError(f"{run.path} is open read-only; open it with mode='r+' to save manifold {name!r}")
    run.check_overwrite("manifold", name)
    fitted_on = list((attrs or {}).get("fitted_on", []))
    fingerprints = {traj: trajectory_fingerprint(run, traj) for traj in fitted_on}
    arrays, state_attrs = manifold.get_state()
    parent = run.group.require_group(GROUP)
    if name in parent:
        del parent[name]
    group = parent.create_group(name)
    state = group.create_group("state")
    for key, value in arrays.items():
        value = np.asarray(value)
        write_array(state, key, value if value.dtype != np.float32 else value.astype(np.float64))
    for label, data in (("coords", coords), ("projection_error", errors), ("fitted", fitted)):
        if data:
            sub = group.create_group(label)
            for traj, value in data.items():
                value = np.asarray(value)
                # one row dimension per trajectory: trajectories of one group differ in length
                dims = (f"row_{traj}", "latent")[: value.ndim]
                write_array(sub, traj, value, dims)
    group.update_attributes({
        "method": manifold.method,
        "hyper": manifold.hyper_parameters(),
        "state_attrs": state_attrs,
        "can_decode": manifold.can_decode,
        "bounded_latent": manifold.bounded_latent,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "pinnviz_version": __version__,
        "fingerprint": uuid.uuid4().hex,
        "trajectory_fingerprints": fingerprints,
        **(attrs or {}),
    })
    return group


def _arrays(group: zarr.Group) -> dict[str, np.ndarray]:
    return {path: read_rows(node) for path, node in group.members(max_depth=None)
            if isinstance(node, zarr.Array)}


def manifold_group(run, name: str) -> zarr.Group:
    names = manifold_names(run)
    if name not in names:
        raise unknown_name(f"manifold in {run.path}", name, names)
    return run.group[f"{GROUP}/{name}"]


def load_manifold(run, name: str) -> Manifold:
    """Rebuild the fitted manifold stored as `manifolds/<name>` (same encode/decode as when saved)."""
    group = manifold_group(run, name)
    attrs = dict(group.attrs)
    cls = manifold_class(attrs.get("method", "?"))
    return cls.from_state(dict(attrs.get("hyper", {})), _arrays(group["state"]), dict(attrs.get("state_attrs", {})))


def manifold_info(run, name: str) -> dict:
    """Attributes and per-trajectory arrays (coords, projection_error, fitted) of a stored manifold."""
    group = manifold_group(run, name)
    info = dict(group.attrs)
    for label in ("coords", "projection_error", "fitted"):
        info[label] = _arrays(group[label]) if label in group else {}
    return info
