"""A computed landscape and its diagnostics, as stored in `landscapes/<name>/`.

Grid convention: `losses[name][i1, i0]` is the loss at latent point (axis_0[i0], axis_1[i1]),
so `matplotlib.contourf(axis_0, axis_1, losses[name])` draws it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import zarr

from pinnviz.errors import unknown_name
from pinnviz.store._arrays import write_array
from pinnviz.store._run import read_rows


@dataclass
class TrajectoryDiagnostics:
    """Per fitted trajectory point m: where it projects and how faithful the projection is.

    coords : (T, 2) encode(m); steps : (T,) training step of each point.
    projection_error : (T,) ||m - decode(encode(m))||; relative_projection_error : the same / ||m||.
    true_loss[name] : (T,) L(m); loss_at_projection[name] : (T,) L(decode(encode(m))).
    relative_loss_error[name] : |L(m) - L(D(E(m)))| / |L(m)|.
    range_loss_error[name] : |L(m) - L(D(E(m)))| / (max L - min L over the trajectory); meaningful where
    a Deep Ritz energy crosses zero.
    """

    coords: np.ndarray
    steps: np.ndarray
    projection_error: np.ndarray
    relative_projection_error: np.ndarray
    true_loss: dict[str, np.ndarray] = field(default_factory=dict)
    loss_at_projection: dict[str, np.ndarray] = field(default_factory=dict)
    relative_loss_error: dict[str, np.ndarray] = field(default_factory=dict)
    range_loss_error: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self) -> dict:
        """Means (the Neuro-Visualizer paper's e_proj, e_relative) and medians, JSON-ready."""
        out = {
            "points": int(len(self.steps)),
            "e_proj_mean": float(np.mean(self.relative_projection_error)),
            "e_proj_median": float(np.median(self.relative_projection_error)),
            "abs_proj_mean": float(np.mean(self.projection_error)),
        }
        for name in self.relative_loss_error:
            out[f"e_relative_{name}_mean"] = float(np.mean(self.relative_loss_error[name]))
            out[f"e_relative_{name}_median"] = float(np.median(self.relative_loss_error[name]))
            out[f"e_range_{name}_mean"] = float(np.mean(self.range_loss_error[name]))
            out[f"e_range_{name}_median"] = float(np.median(self.range_loss_error[name]))
        return out


@dataclass
class LandscapeData:
    """Losses on a latent grid of one manifold, with the trajectories' diagnostics.

    axis_0 : (R0,), axis_1 : (R1,) latent coordinates of the grid.
    losses[name] : (R1, R0) loss of decode(grid point); NaN where it could not be evaluated.
    data_distance : (R1, R0) parameter-space distance from decode(grid point) to the nearest fitted
        trajectory point (where the picture is backed by data).
    extrapolated : (R1, R0) bool, grid points outside the region the manifold was fitted on.
    trajectories : name -> TrajectoryDiagnostics.
    attrs : manifold, method, resolution, extent, losses, device, dtype, seconds, notes.
    """

    name: str
    axis_0: np.ndarray
    axis_1: np.ndarray
    losses: dict[str, np.ndarray]
    data_distance: np.ndarray
    extrapolated: np.ndarray
    trajectories: dict[str, TrajectoryDiagnostics]
    attrs: dict = field(default_factory=dict)


GRID = ("axis_1", "axis_0")  # loss[i1, i0] is at (axis_0[i0], axis_1[i1])


def _write(group: zarr.Group, key: str, value: np.ndarray, dims: tuple[str, ...]) -> None:
    write_array(group, key, value, dims, overwrite=True)


def save_landscape(root: zarr.Group, data: LandscapeData) -> None:
    """Write `data` to `landscapes/<name>/` of a store (replacing a landscape of that name)."""
    parent = root.require_group("landscapes")
    if data.name in parent:
        del parent[data.name]
    group = parent.create_group(data.name)
    _write(group, "axis_0", data.axis_0, ("axis_0",))
    _write(group, "axis_1", data.axis_1, ("axis_1",))
    _write(group, "data_distance", data.data_distance, GRID)
    _write(group, "extrapolated", data.extrapolated.astype(np.bool_), GRID)
    for loss, grid in data.losses.items():
        _write(group, f"loss/{loss}", grid, GRID)
    for traj, diag in data.trajectories.items():
        base = f"diagnostics/{traj}"
        _write(group, f"{base}/coords", diag.coords, ("point", "latent"))
        for key in ("steps", "projection_error", "relative_projection_error"):
            _write(group, f"{base}/{key}", getattr(diag, key), ("point",))
        for key in ("true_loss", "loss_at_projection", "relative_loss_error", "range_loss_error"):
            for loss, values in getattr(diag, key).items():
                _write(group, f"{base}/{key}/{loss}", values, ("point",))
    group.update_attributes(data.attrs)


def landscape_names(root: zarr.Group) -> list[str]:
    return sorted(n for n, _ in root["landscapes"].groups()) if "landscapes" in root else []


def load_landscape(root: zarr.Group, name: str) -> LandscapeData:
    names = landscape_names(root)
    if name not in names:
        raise unknown_name("landscape", name, names)
    group = root[f"landscapes/{name}"]
    read = lambda g, k: read_rows(g[k])  # noqa: E731
    losses = {k: read_rows(a) for k, a in group["loss"].arrays()}
    trajectories = {}
    if "diagnostics" in group:
        for traj, g in group["diagnostics"].groups():
            per_loss = {
                key: ({k: read_rows(a) for k, a in g[key].arrays()} if key in g else {})
                for key in ("true_loss", "loss_at_projection", "relative_loss_error", "range_loss_error")
            }
            trajectories[traj] = TrajectoryDiagnostics(
                read(g, "coords"), read(g, "steps"), read(g, "projection_error"),
                read(g, "relative_projection_error"), **per_loss)
    return LandscapeData(name, read(group, "axis_0"), read(group, "axis_1"), losses,
                         read(group, "data_distance"), read(group, "extrapolated"), trajectories,
                         dict(group.attrs))
