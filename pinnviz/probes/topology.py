"""`topology`: the merge tree of a stored landscape (2-D `landscapes/<name>` or a d-dim direction landscape).

Stored in `probes/<name>/` as the tree's plain arrays with its settings, a SHA-256 of the field it was
computed from and the landscape's own provenance (a 2-D landscape's manifold fingerprint, a direction
landscape's creation time and trajectory fingerprint). A stale landscape (its manifold refitted, its
trajectory replaced) is refused, and `load_topology` refuses a tree whose landscape has changed since.
"""

from __future__ import annotations

import hashlib

import numpy as np

from pinnviz.errors import IncompatibleRunError, InvalidSettingError, StaleResultError, unknown_name
from pinnviz.landscape import landscape_names, landscape_staleness, load_landscape
from pinnviz.probes._store import load_probe, probe_names, save_probe
from pinnviz.probes.direction_landscape import direction_landscape_staleness, is_direction_landscape
from pinnviz.store import Run
from pinnviz.topology import MergeTree, merge_tree
from pinnviz.topology._grid import check_connectivity

KIND = "topology"
FLAT_FRACTION = 0.1  # "flat" cells: within this fraction of the loss range above the minimum


def _fingerprint(field: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(field, dtype=np.float64).tobytes()).hexdigest()


def _dlandscape_names(run: Run) -> list[str]:
    return [n for n in probe_names(run) if is_direction_landscape(dict(run.group[f"probes/{n}"].attrs))]


def landscape_field(run: Run, name: str, loss: str | None = None) -> dict:
    """The loss grid of landscape `name` and how its array dimensions map to coordinates.

    A 2-D landscape (`landscapes/<name>`) is stored as loss[i1, i0]: its array axes are (axis_1,
    axis_0). A direction landscape (`probes/<name>`, any dimension) is loss[i_0, ..., i_{d-1}].

    Returns
    -------
    dict: field (ndarray), axes (coordinates of each array dimension), labels (their names), source
    ("landscapes" or "probes"), loss, fingerprint, landscape (the `LandscapeData` of a 2-D one, else None),
    provenance (what identifies the landscape's version: JSON-ready), stale (why it no longer matches the
    store, or None)
    """
    two_d, d_dim = landscape_names(run.group), _dlandscape_names(run)
    if name in two_d and name in d_dim:
        raise InvalidSettingError(f"{name!r} names both landscapes/{name} and probes/{name}; rename one")
    if name in two_d:
        data = load_landscape(run.group, name)
        grids, axes, labels, source = data.losses, [data.axis_1, data.axis_0], ["$z_1$", "$z_0$"], "landscapes"
        default = run.trajectory_attrs(next(iter(data.trajectories))).get("loss") if data.trajectories else None
        stored = dict(run.group[f"landscapes/{name}"].attrs)
        stale = landscape_staleness(run, stored)
        provenance = {"manifold": stored.get("manifold"), "manifold_fingerprint": stored.get("manifold_fingerprint")}
    elif name in d_dim:
        arrays, attrs = load_probe(run, name)
        data, source, default = None, "probes", attrs.get("loss")
        grids = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("loss/")}
        axes = [arrays[f"axis_{k}"] for k in range(int(attrs["dims"]))]
        labels = [f"$v_{k + 1}$" for k in range(len(axes))]
        stale = direction_landscape_staleness(run, attrs)
        provenance = {k: attrs.get(k) for k in ("kind", "directions", "created", "trajectory",
                                                "trajectory_fingerprint", "row", "step", "seed")}
    else:
        raise unknown_name("landscape (landscapes/ or a direction landscape in probes/)", name, two_d + d_dim)
    if loss is None:
        loss = default if default in grids else sorted(grids)[0]
    if loss not in grids:
        raise unknown_name(f"loss of landscape {name!r}", loss, grids)
    field = np.asarray(grids[loss], dtype=np.float64)
    return {"field": field, "axes": axes, "labels": labels, "source": source, "loss": loss,
            "fingerprint": _fingerprint(field), "landscape": data, "provenance": provenance, "stale": stale}


def refuse_stale(source: dict, name: str, run: Run) -> None:
    """`StaleResultError` naming the command that recomputes landscape `name` when it is stale."""
    if not source["stale"]:
        return
    if source["source"] == "landscapes":
        manifold = source["provenance"].get("manifold") or name
        again = f"pinnviz landscape {run.path} --manifold {manifold} --name {name} --force"
    else:
        p = source["provenance"]
        again = (f"pinnviz landscape {run.path} --dims {source['field'].ndim} --directions "
                 f"{p.get('directions') or 'hessian'} --trajectory {p.get('trajectory')} --name {name} --force")
    raise StaleResultError(f"landscape {name!r} is stale: {source['stale']}; compute it again with: {again}")


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
    refuse_stale(source, landscape, run)
    if not np.isfinite(source["field"]).any():
        raise InvalidSettingError(f"landscape {landscape!r} has no finite {source['loss']} value")
    tree = merge_tree(source["field"], connectivity, min_persistence=min_persistence)
    name = name or f"{KIND}-{landscape}"
    attrs = {"kind": KIND, "landscape": landscape, "source": source["source"], "loss": source["loss"],
             "field_sha256": source["fingerprint"], "dims": int(source["field"].ndim),
             "landscape_provenance": source["provenance"],
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
    refuse_stale(source, attrs["landscape"], run)
    if source["fingerprint"] != attrs["field_sha256"]:
        raise IncompatibleRunError(f"probes/{name} was computed from an earlier landscape {attrs['landscape']!r}; "
                                   "run `pinnviz probe topology` again")
    return tree, source
