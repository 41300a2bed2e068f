"""`topology`: the merge tree of a stored landscape (2-D `landscapes/<name>` or a d-dim Hessian landscape).

Stored in `probes/<name>/` as the tree's plain arrays with its settings and a SHA-256 of the field it
was computed from; `load_topology` refuses a tree whose landscape has changed since (never stale).
"""

from __future__ import annotations

import hashlib

import numpy as np

from pinnviz.errors import IncompatibleRunError, InvalidSettingError, unknown_name
from pinnviz.landscape import landscape_names, load_landscape
from pinnviz.probes._store import load_probe, probe_names, save_probe
from pinnviz.probes.hessian_landscape import KIND as HESSIAN_KIND
from pinnviz.store import Run
from pinnviz.topology import MergeTree, merge_tree
from pinnviz.topology._grid import check_connectivity

KIND = "topology"
FLAT_FRACTION = 0.1  # "flat" cells: within this fraction of the loss range above the minimum


def _fingerprint(field: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(field, dtype=np.float64).tobytes()).hexdigest()


def _dlandscape_names(run: Run) -> list[str]:
    return [n for n in probe_names(run) if run.group[f"probes/{n}"].attrs.get("kind") == HESSIAN_KIND]


def landscape_field(run: Run, name: str, loss: str | None = None) -> dict:
    """The loss grid of landscape `name` and how its array dimensions map to coordinates.

    A 2-D landscape (`landscapes/<name>`) is stored as loss[i1, i0]: its array axes are (axis_1,
    axis_0). A Hessian-direction landscape (`probes/<name>`, any dimension) is loss[i_0, ..., i_{d-1}].

    Returns
    -------
    dict: field (ndarray), axes (coordinates of each array dimension), labels (their names), source
    ("landscapes" or "probes"), loss, fingerprint, landscape (the `LandscapeData` of a 2-D one, else None)
    """
    two_d, d_dim = landscape_names(run.group), _dlandscape_names(run)
    if name in two_d and name in d_dim:
        raise InvalidSettingError(f"{name!r} names both landscapes/{name} and probes/{name}; rename one")
    if name in two_d:
        data = load_landscape(run.group, name)
        grids, axes, labels, source = data.losses, [data.axis_1, data.axis_0], ["$z_1$", "$z_0$"], "landscapes"
        default = run.trajectory_attrs(next(iter(data.trajectories))).get("loss") if data.trajectories else None
    elif name in d_dim:
        arrays, attrs = load_probe(run, name)
        data, source, default = None, "probes", attrs.get("loss")
        grids = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("loss/")}
        axes = [arrays[f"axis_{k}"] for k in range(int(attrs["dims"]))]
        labels = [f"$v_{k + 1}$" for k in range(len(axes))]
    else:
        raise unknown_name("landscape (landscapes/ or a Hessian landscape in probes/)", name, two_d + d_dim)
    if loss is None:
        loss = default if default in grids else sorted(grids)[0]
    if loss not in grids:
        raise unknown_name(f"loss of landscape {name!r}", loss, grids)
    field = np.asarray(grids[loss], dtype=np.float64)
    return {"field": field, "axes": axes, "labels": labels, "source": source, "loss": loss,
            "fingerprint": _fingerprint(field), "landscape": data}


def shape_metrics(tree: MergeTree, field: np.ndarray) -> dict:
    """Numbers that tell a funnel from a bowl, JSON-ready.

    flat_fraction : share of the finite cells within FLAT_FRACTION of the loss range above the minimum
        (small for a funnel, whose loss rises at once away from the minimum; large for a flat bowl).
    center_rise : (loss at the grid's centre cell - minimum) / range (0: the centre is the minimum).
    second_persistence : the second-largest persistence / range (0 with a single basin).
    """
    finite = field[np.isfinite(field)]
    lo, hi = float(finite.min()), float(finite.max())
    span = hi - lo if hi > lo else 1.0
    centre = field[tuple(s // 2 for s in field.shape)]
    persistence = np.sort(np.where(np.isfinite(tree.persistence), tree.persistence, hi - tree.birth))[::-1]
    return {"minima": int(tree.is_minimum.sum()), "saddles": int(np.unique(tree.saddles).size),
            "loss_min": lo, "loss_max": hi, "loss_median": float(np.median(finite)),
            "flat_fraction": float(np.mean(finite <= lo + FLAT_FRACTION * span)),
            "center_rise": float((centre - lo) / span) if np.isfinite(centre) else float("nan"),
            "second_persistence": float(persistence[1] / span) if persistence.size > 1 else 0.0,
            "cells": int(finite.size)}


def topology(run: Run, landscape: str, *, loss: str | None = None, connectivity: str = "face",
             min_persistence: float = 0.0, name: str | None = None, save: bool = True) -> tuple[MergeTree, dict]:
    """The merge tree of landscape `landscape` (one loss), simplified at `min_persistence`, stored in probes/.

    Returns the tree and the attributes stored with it (settings, counts, `shape_metrics`).
    """
    check_connectivity(connectivity)
    if not (np.isfinite(min_persistence) and min_persistence >= 0):
        raise InvalidSettingError(f"min_persistence={min_persistence} must be >= 0")
    if save and not run.writable:
        raise IncompatibleRunError(f"{run.path} is open read-only; open it with mode='r+' to store the tree")
    source = landscape_field(run, landscape, loss)
    if not np.isfinite(source["field"]).any():
        raise InvalidSettingError(f"landscape {landscape!r} has no finite {source['loss']} value")
    tree = merge_tree(source["field"], connectivity, min_persistence=min_persistence)
    name = name or f"{KIND}-{landscape}"
    attrs = {"kind": KIND, "landscape": landscape, "source": source["source"], "loss": source["loss"],
             "field_sha256": source["fingerprint"], "dims": int(source["field"].ndim),
             "metrics": shape_metrics(tree, source["field"])}
    tree.extra.update(attrs)
    if save:
        arrays, tree_attrs = tree.to_arrays()
        save_probe(run, name, arrays, tree_attrs)
    return tree, {**attrs, "name": name, "connectivity": connectivity, "min_persistence": float(min_persistence)}


def load_topology(run: Run, name: str) -> tuple[MergeTree, dict]:
    """A stored tree and its landscape's field; `IncompatibleRunError` when that landscape has changed."""
    arrays, attrs = load_probe(run, name)
    if attrs.get("kind") != KIND:
        raise InvalidSettingError(f"probes/{name} is not a merge tree (kind {attrs.get('kind')!r})")
    attrs.pop("created", None)
    tree = MergeTree.from_arrays(arrays, attrs)
    source = landscape_field(run, attrs["landscape"], attrs["loss"])
    if source["fingerprint"] != attrs["field_sha256"]:
        raise IncompatibleRunError(f"probes/{name} was computed from an earlier landscape {attrs['landscape']!r}; "
                                   "run `pinnviz probe topology` again")
    return tree, source
