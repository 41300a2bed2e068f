"""One landscape panel: filled contours of a loss, the extrapolated region, the trajectories on top."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pinnviz.errors import unknown_name
from pinnviz.landscape import LandscapeData
from pinnviz.visualizer._legend import add_marker_aware_legend
from pinnviz.visualizer._scales import contour_levels, loss_norm, scale_kind

DEFAULT_CMAP = "viridis"
DEFAULT_LEVELS = 24
#: line colours of successive trajectories; each gets a black outline so it reads on any colour
TRAJECTORY_COLORS = ("white", "tab:red", "tab:orange", "tab:pink", "tab:cyan", "tab:olive")
NAN_COLOR = "0.85"
START_MARKER, END_MARKER = "o", "*"


def select_trajectories(data: LandscapeData, trajectories: Sequence[str] | None) -> list[str]:
    """The trajectory names to draw: all of `data`'s when `trajectories` is None, else checked."""
    if trajectories is None:
        return list(data.trajectories)
    for name in trajectories:
        if name not in data.trajectories:
            raise unknown_name("trajectory", name, data.trajectories)
    return list(trajectories)


def check_loss(data: LandscapeData, loss: str) -> np.ndarray:
    """The (R1, R0) grid of `loss`, or `UnknownNameError` listing the losses `data` holds."""
    if loss not in data.losses:
        raise unknown_name("loss", loss, data.losses)
    return np.asarray(data.losses[loss], dtype=float)


def mark_extrapolated(ax: Axes, data: LandscapeData, *, color: str = "white") -> bool:
    """Hatch the grid points outside the fitted region and draw its boundary dashed.

    Returns True when something was marked (the mask has a True cell).
    """
    mask = np.asarray(data.extrapolated, dtype=bool)
    if not mask.any():
        return False
    field = mask.astype(float)
    hatch = ax.contourf(data.axis_0, data.axis_1, field, levels=[0.5, 1.5], colors="none", hatches=["///"])
    hatch.set_hatchcolor(color)
    hatch.set_edgecolor("none")
    hatch.set_linewidth(0.0)
    if not mask.all():
        ax.contour(data.axis_0, data.axis_1, field, levels=[0.5], colors=color, linewidths=1.0,
                   linestyles="--")
    return True


def _outline(width: float = 2.2):
    return [patheffects.Stroke(linewidth=width, foreground="black"), patheffects.Normal()]


def marker_indices(n: int, max_points: int) -> np.ndarray:
    """Indices of the inner points (not start, not end) that get a marker: all, or `max_points` evenly
    spaced along the trajectory."""
    inner = np.arange(1, n - 1)
    if len(inner) <= max_points:
        return inner
    return np.unique(np.round(np.linspace(1, n - 2, max_points)).astype(int))


def draw_trajectory(ax: Axes, coords: np.ndarray, values: np.ndarray | None, *, norm: Normalize, cmap,
                    color: str, label: str, marker_size: float | None = None, max_points: int = 80) -> None:
    """One trajectory on `ax`: a line, its points coloured by `values` on (`norm`, `cmap`), start and end.

    Parameters
    ----------
    coords : ndarray of shape (n_steps, 2)
        Latent coordinates of the trajectory points, in training order.
    values : ndarray of shape (n_steps,) or None
        The points' colour values (their *true* loss); None draws the points in `color`.
    norm, cmap
        The scale of the panel the points sit on, so a point's colour is comparable with the contour.
    marker_size : float, optional
        Area of the inner markers (points^2); by default smaller for longer trajectories.
    max_points : int, default=80
        The most inner points given a marker (evenly spaced in training order, so a long trajectory's
        colours stay readable); the line always joins every point.
    """
    coords = np.asarray(coords, dtype=float)
    inner = marker_indices(len(coords), max_points)
    if marker_size is None:  # dense trajectories get smaller points so their colours stay readable
        marker_size = float(np.clip(2400.0 / max(len(inner), 1), 18.0, 36.0))
    line_width = 1.2
    ax.plot(coords[:, 0], coords[:, 1], color=color, lw=line_width, zorder=4, label=label,
            path_effects=_outline(line_width + 1.4), gid=f"trajectory-line:{label}")
    common = dict(cmap=cmap, norm=norm, edgecolors="black", zorder=5)
    if values is None:
        common = dict(color=color, edgecolors="black", zorder=5)
        colour_of = lambda idx: {}  # noqa: E731
    else:
        values = np.asarray(values, dtype=float)
        colour_of = lambda idx: {"c": values[idx]}  # noqa: E731
    ax.scatter(coords[inner, 0], coords[inner, 1], s=marker_size, linewidths=0.3,
               gid=f"trajectory-points:{label}", plotnonfinite=True, **colour_of(inner), **common)
    ax.scatter(coords[:1, 0], coords[:1, 1], s=70, marker=START_MARKER, linewidths=2.0,
               gid=f"trajectory-start:{label}", plotnonfinite=True, **colour_of(slice(0, 1)), **common)
    ax.scatter(coords[-1:, 0], coords[-1:, 1], s=180, marker=END_MARKER, linewidths=1.0,
               gid=f"trajectory-end:{label}", plotnonfinite=True, **colour_of(slice(-1, None)), **common)


def landscape_axes(ax: Axes, data: LandscapeData, loss: str, *, trajectories: Sequence[str] | None = None,
                   cmap=DEFAULT_CMAP, levels: int = DEFAULT_LEVELS, norm: Normalize | None = None,
                   legend: bool = True) -> ScalarMappable:
    """Draw one loss of a landscape on `ax`, with the trajectories on top.

    Filled contours use a log colour scale for a positive loss and a symmetric-log one for an energy
    that reaches zero or below (the Deep Ritz ``drm``); cells where the loss is NaN are left grey. The
    extrapolated region (outside what the manifold was fitted on) is hatched, its boundary dashed. Each
    trajectory is a line whose points are coloured by their *true* loss L(m) with the contour's own
    norm and colormap: where the projection is faithful a point disappears into its background, where
    it is not the point stands out. The start is a large circle with a thick border, the end a star.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        A 2-D axes of a `matplotlib.figure.Figure`.
    data : LandscapeData
        The landscape (grid, losses, trajectories' diagnostics).
    loss : str
        Which of ``data.losses`` to draw.
    trajectories : sequence of str, optional
        Names of the trajectories to draw; all by default, none with ``[]``.
    cmap : str or Colormap, default="viridis"
        Colormap of the contours and of the trajectory points.
    levels : int, default=24
        Number of contour levels, evenly spaced in the colour scale.
    norm : Normalize, optional
        A colour scale to use instead of the one built from this grid and the trajectories' true losses
        (to share one scale across panels).
    legend : bool, default=True
        Add a small legend (trajectories, start, end, extrapolated, not evaluable).

    Returns
    -------
    matplotlib.cm.ScalarMappable
        The filled contour set (or, when the grid has no finite value, a bare mappable with the same
        norm and colormap), for ``fig.colorbar``.

    Raises
    ------
    UnknownNameError
        `loss` or a trajectory name is not in `data`.
    """
    grid = check_loss(data, loss)
    names = select_trajectories(data, trajectories)
    true = [data.trajectories[n].true_loss.get(loss) for n in names]
    if norm is None:
        norm = loss_norm(grid, *true)
    ax.set_facecolor(NAN_COLOR)  # what shows through masked (NaN) cells
    masked = np.ma.masked_invalid(grid)
    if scale_kind(norm) == "log":
        masked = np.ma.masked_less_equal(masked, 0.0)
    if masked.count() > 0:
        below, above = masked.min() < norm.vmin, masked.max() > norm.vmax  # only with a shared norm
        extend = {(False, False): "neither", (True, False): "min", (False, True): "max"}.get((below, above), "both")
        mappable = ax.contourf(data.axis_0, data.axis_1, masked, levels=contour_levels(norm, levels + 1),
                               norm=norm, cmap=cmap, extend=extend)
        mappable.set_gid(f"contour:{loss}")
    else:
        mappable = ScalarMappable(norm=norm, cmap=cmap)
        ax.text(0.5, 0.5, f"{loss}: no finite value on this grid", transform=ax.transAxes, ha="center",
                va="center", fontsize="small")
        ax.set_xlim(data.axis_0[0], data.axis_0[-1])
        ax.set_ylim(data.axis_1[0], data.axis_1[-1])
    extrapolated = mark_extrapolated(ax, data)
    for i, name in enumerate(names):
        diag = data.trajectories[name]
        draw_trajectory(ax, diag.coords, true[i], norm=mappable.norm, cmap=mappable.cmap,
                        color=TRAJECTORY_COLORS[i % len(TRAJECTORY_COLORS)], label=name)
    ax.set_xlabel("latent $z_0$")
    ax.set_ylabel("latent $z_1$")
    if legend:
        add_legend(ax, trajectories=bool(names), extrapolated=extrapolated,
                   nan=bool(np.isnan(grid).any()))
    return mappable


def add_legend(ax: Axes, *, trajectories: bool, extrapolated: bool, nan: bool) -> None:
    """A small legend: the trajectory lines, start and end markers, and the region markings present.

    Placed where it covers no start or end marker (`MarkerAwareLegend`).
    """
    handles, _ = ax.get_legend_handles_labels()
    if trajectories:
        handles += [
            Line2D([], [], ls="none", marker=START_MARKER, ms=7, mfc="none", mec="black", mew=2.0, label="start"),
            Line2D([], [], ls="none", marker=END_MARKER, ms=10, mfc="none", mec="black", mew=1.0, label="end"),
        ]
    if extrapolated:
        handles.append(Patch(facecolor="0.55", edgecolor="white", hatch="///", label="extrapolated"))
    if nan:
        handles.append(Patch(facecolor=NAN_COLOR, edgecolor="0.4", label="not evaluable"))
    if handles:
        legend = add_marker_aware_legend(ax, handles, fontsize="x-small", framealpha=0.75, handlelength=1.6,
                                         borderpad=0.3, labelspacing=0.25)
        legend.set_zorder(10)
