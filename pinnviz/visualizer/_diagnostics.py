"""Diagnostic panels: how far to trust a landscape (projection and loss errors, data distance)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable

from pinnviz.landscape import LandscapeData
from pinnviz.visualizer._landscape import (
    DEFAULT_LEVELS,
    TRAJECTORY_COLORS,
    add_legend,
    draw_trajectory,
    mark_extrapolated,
    select_trajectories,
)
from pinnviz.visualizer._scales import contour_levels, loss_norm

#: colours of successive trajectories in the error-versus-step panels
ERROR_COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown")


def _fmt(value: float) -> str:
    return f"{value:.2g}" if np.isfinite(value) else "n/a"


def _finite_mean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def _log_y_if_possible(ax: Axes, arrays: list[np.ndarray]) -> None:
    """Log y when some value is positive (a linear axis otherwise, which log scaling would refuse)."""
    flat = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays]) if arrays else np.empty(0)
    if np.any(np.isfinite(flat) & (flat > 0)):
        ax.set_yscale("log")


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: zeros and non-finite values become NaN (gaps) instead of warnings."""
    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def projection_error_axes(ax: Axes, data: LandscapeData, *, trajectories: Sequence[str] | None = None) -> None:
    """Relative projection error ||m - D(E(m))|| / ||m|| against training step, one line per trajectory.

    The legend gives each trajectory's mean (the Neuro-Visualizer paper's e_proj) and median.
    """
    names = select_trajectories(data, trajectories)
    arrays = []
    for i, name in enumerate(names):
        diag = data.trajectories[name]
        values = np.asarray(diag.relative_projection_error, dtype=float)
        arrays.append(values)
        ax.plot(diag.steps, _positive(values), color=ERROR_COLORS[i % len(ERROR_COLORS)], lw=1.2,
                label=f"{name}: mean {_fmt(_finite_mean(values))}, median {_fmt(float(np.nanmedian(values)))}"
                if np.isfinite(values).any() else f"{name}: n/a")
    _log_y_if_possible(ax, arrays)
    ax.set_xlabel("training step")
    ax.set_ylabel(r"$\|m - D(E(m))\| \,/\, \|m\|$")
    ax.set_title("projection error (relative)", fontsize="medium")
    ax.grid(True, which="major", alpha=0.3)
    if names:
        ax.legend(fontsize="x-small", title="e_proj", title_fontsize="x-small", framealpha=0.8)


def loss_error_axes(ax: Axes, data: LandscapeData, loss: str, *, trajectories: Sequence[str] | None = None,
                    range_error: bool = True) -> None:
    """Relative loss error |L(m) - L(D(E(m)))| / |L(m)| against training step, one line per trajectory.

    With `range_error`, the error relative to the trajectory's loss range (max - min) is drawn dashed
    beside it: it stays meaningful where a Deep Ritz energy crosses zero and |L(m)| is tiny. The legend
    gives the means (e_relative) and medians.
    """
    names = select_trajectories(data, trajectories)
    arrays = []
    for i, name in enumerate(names):
        diag = data.trajectories[name]
        color = ERROR_COLORS[i % len(ERROR_COLORS)]
        if loss not in diag.relative_loss_error:  # this loss was not evaluated along this trajectory
            continue
        rel = np.asarray(diag.relative_loss_error[loss], dtype=float)
        arrays.append(rel)
        ax.plot(diag.steps, _positive(rel), color=color, lw=1.2,
                label=f"{name}: mean {_fmt(_finite_mean(rel))}, median {_fmt(float(np.nanmedian(rel)))}"
                if np.isfinite(rel).any() else f"{name}: n/a")
        if range_error and loss in diag.range_loss_error:
            rng = np.asarray(diag.range_loss_error[loss], dtype=float)
            arrays.append(rng)
            ax.plot(diag.steps, _positive(rng), color=color, lw=1.0, ls="--",
                    label=f"{name} / range: mean {_fmt(_finite_mean(rng))}")
    if not arrays:
        ax.text(0.5, 0.5, f"no trajectory diagnostics for {loss}", transform=ax.transAxes, ha="center",
                va="center", fontsize="small")
    _log_y_if_possible(ax, arrays)
    ax.set_xlabel("training step")
    ax.set_ylabel(r"$|L(m) - L(D(E(m)))| \,/\, |L(m)|$")
    ax.set_title(f"{loss}: relative loss error", fontsize="medium")
    ax.grid(True, which="major", alpha=0.3)
    if arrays:
        ax.legend(fontsize="x-small", title="e_relative", title_fontsize="x-small", framealpha=0.8)


def data_distance_axes(ax: Axes, data: LandscapeData, *, trajectories: Sequence[str] | None = None,
                       cmap="magma", levels: int = DEFAULT_LEVELS, legend: bool = True) -> ScalarMappable:
    """Where the picture is backed by data: the parameter distance from each decoded grid point to the
    nearest trajectory point, with the trajectories on top.

    The trajectory points are coloured by their own projection error ||m - D(E(m))|| on the same scale:
    both are distances in parameter space, so a point that is dark on a dark background lies on the
    manifold.

    Returns
    -------
    matplotlib.cm.ScalarMappable
        The filled contour set, for ``fig.colorbar``.
    """
    names = select_trajectories(data, trajectories)
    grid = np.asarray(data.data_distance, dtype=float)
    errors = [np.asarray(data.trajectories[n].projection_error, dtype=float) for n in names]
    norm = loss_norm(grid, *errors)
    masked = np.ma.masked_invalid(grid)
    if masked.count() > 0:
        mappable = ax.contourf(data.axis_0, data.axis_1, masked, levels=contour_levels(norm, levels + 1),
                               norm=norm, cmap=cmap)
        mappable.set_gid("contour:data_distance")
    else:
        mappable = ScalarMappable(norm=norm, cmap=cmap)
    extrapolated = mark_extrapolated(ax, data)
    for i, name in enumerate(names):
        draw_trajectory(ax, data.trajectories[name].coords, errors[i], norm=mappable.norm, cmap=mappable.cmap,
                        color=TRAJECTORY_COLORS[i % len(TRAJECTORY_COLORS)], label=name)
    ax.set_xlabel("latent $z_0$")
    ax.set_ylabel("latent $z_1$")
    ax.set_title("distance to nearest trajectory point", fontsize="medium")
    if legend:
        add_legend(ax, trajectories=bool(names), extrapolated=extrapolated, nan=False)
    return mappable
