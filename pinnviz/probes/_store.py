"""What a probe measured, in `probes/<name>/` of a store: plain arrays plus its settings as attrs."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from pinnviz.errors import IncompatibleRunError, unknown_name
from pinnviz.store import Run
from pinnviz.store._arrays import write_array
from pinnviz.store._names import check_name
from pinnviz.store._run import read_rows


def save_probe(run: Run, name: str, arrays: dict[str, np.ndarray], attrs: dict,
               dims: dict[str, tuple[str, ...]] | None = None) -> None:
    """Write `probes/<name>` (replacing one only with `run.overwrite`); array keys may contain '/' for subgroups.

    `dims` names the axes of some arrays (key -> names); the others get `<leaf>_dim_<i>`.
    """
    check_probe_name(run, name)
    if not run.writable:
        raise IncompatibleRunError(f"{run.path} is open read-only; open it with mode='r+' to store probe {name!r}")
    parent = run.group.require_group("probes")
    if name in parent:
        del parent[name]
    group = parent.create_group(name)
    for key, value in arrays.items():
        write_array(group, key, value, (dims or {}).get(key))
    group.update_attributes({**attrs, "created": datetime.now(UTC).isoformat(timespec="seconds")})


def check_probe_name(run: Run, name: str) -> None:
    """A valid probe name, not stored already unless the run may overwrite (`--force`): before any work."""
    check_name("probe", name)
    run.check_overwrite("probe", name)


def probe_names(run: Run) -> list[str]:
    return sorted(n for n, _ in run.group["probes"].groups()) if "probes" in run.group else []


def load_probe(run: Run, name: str) -> tuple[dict[str, np.ndarray], dict]:
    names = probe_names(run)
    if name not in names:
        raise unknown_name(f"probe in {run.path}", name, names)
    group = run.group[f"probes/{name}"]
    arrays = {path: read_rows(node) for path, node in group.members(max_depth=None) if hasattr(node, "shape")}
    return arrays, dict(group.attrs)
