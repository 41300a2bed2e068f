"""Whole figures: one landscape with its diagnostics, and a side-by-side comparison of methods."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from pinnviz.errors import InvalidSettingError
from pinnviz.landscape import LandscapeData
from pinnviz.visualizer._diagnostics import data_distance_axes, loss_error_axes, projection_error_axes
from pinnviz.visualizer._landscape import DEFAULT_CMAP, DEFAULT_LEVELS, check_loss, landscape_axes, select_trajectories
from pinnviz.visualizer._scales import loss_norm, scale_kind, style_colorbar
from pinnviz.visualizer._surface import surface_axes

DEFAULT_DPI = 120
#: inches per panel column (landscape with colour bar, 3-D surface, error curves) and per row
PANEL_WIDTH = {"landscape": 5.6, "surface": 4.6, "errors": 5.4}
PANEL_HEIGHT = 4.3
MAX_PIXELS = 120e6


def select_losses(data: LandscapeData, losses: Sequence[str] | None) -> list[str]:
    """The losses to draw: the landscape's own order (``attrs["losses"]``) when None, else checked."""
    if losses is None:
        order = [name for name in data.attrs.get("losses", []) if name in data.losses]
        losses = order + sorted(name for name in data.losses if name not in order)
        if not losses:
            raise InvalidSettingError(f"landscape {data.name!r} holds no loss to draw")
    elif not losses:
        raise InvalidSettingError(f"no loss given; landscape {data.name!r} holds {', '.join(data.losses)}")
    for name in losses:
        check_loss(data, name)
    return list(losses)


def error_means(data: LandscapeData, loss: str | None, trajectories: Sequence[str]) -> tuple[float, float]:
    """(e_proj, e_relative of `loss`): means over every point of the given trajectories (NaN if none)."""
    proj = [np.asarray(data.trajectories[n].relative_projection_error, dtype=float) for n in trajectories]
    rel = [np.asarray(data.trajectories[n].relative_loss_error[loss], dtype=float) for n in trajectories
           if loss is not None and loss in data.trajectories[n].relative_loss_error]

    def mean(parts):
        flat = np.concatenate(parts) if parts else np.empty(0)
        flat = flat[np.isfinite(flat)]
        return float(flat.mean()) if flat.size else float("nan")

    return mean(proj), mean(rel)


def _fmt(value: float) -> str:
    return f"{value:.2e}" if np.isfinite(value) else "n/a"


#: the smallest figure area per panel (inches) before constrained layout collapses the axes
MIN_PANEL = (2.0, 1.8)


def _check_size(size, default: tuple[float, float], dpi: float, panels: tuple[int, int]) -> tuple[float, float]:
    if not dpi > 0:
        raise InvalidSettingError(f"dpi={dpi} must be > 0")
    size = (None, None) if size is None else tuple(size)
    if len(size) != 2:
        raise InvalidSettingError(f"size={size} must be (width, height) in inches")
    width, height = (default[i] if size[i] is None else float(size[i]) for i in range(2))
    if not (width > 0 and height > 0):
        raise InvalidSettingError(f"size=({width}, {height}) inches: width and height must be > 0")
    least = (MIN_PANEL[0] * panels[0], MIN_PANEL[1] * panels[1])
    if width < least[0] or height < least[1]:
        raise InvalidSettingError(
            f"size=({width:g}, {height:g}) inches is too small for {panels[0]} x {panels[1]} panels; "
            f"give at least ({least[0]:g}, {least[1]:g}) (default {default[0]:g} x {default[1]:g})")
    if width * height * dpi * dpi > MAX_PIXELS:
        raise InvalidSettingError(
            f"size=({width:g}, {height:g}) inches at dpi={dpi:g} is {width * dpi:.0f} x {height * dpi:.0f} "
            f"pixels, more than {MAX_PIXELS / 1e6:.0f} megapixels; lower the size or the dpi")
    return width, height


def _header(data: LandscapeData) -> str:
    attrs = data.attrs
    method, manifold = attrs.get("method"), attrs.get("manifold")
    where = f"{method} manifold {manifold!r}" if method and manifold and method != manifold else \
        f"{method or manifold or 'manifold'}"
    return f"landscape {data.name!r}: {where}, {len(data.axis_0)}x{len(data.axis_1)} grid"


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(part, width) for part in str(text).splitlines())


def landscape_figure_size(n_losses: int, *, diagnostics: bool = True, surface: bool = False) -> tuple[float, float]:
    """The default (width, height) in inches of `landscape_figure` for this many losses and panels."""
    width = PANEL_WIDTH["landscape"] + surface * PANEL_WIDTH["surface"] + diagnostics * PANEL_WIDTH["errors"]
    height = PANEL_HEIGHT * (n_losses + diagnostics) + 0.9
    return width, height


def landscape_figure(data: LandscapeData, losses: Sequence[str] | None = None, *,
                     trajectories: Sequence[str] | None = None, diagnostics: bool = True, surface: bool = False,
                     size: tuple[float | None, float | None] | None = None, dpi: float = DEFAULT_DPI,
                     cmap=DEFAULT_CMAP, levels: int = DEFAULT_LEVELS) -> Figure:
    """One landscape: a row per loss, and how far to trust it.

    Each row holds the loss's contour panel (`landscape_axes`) with its colour bar, the optional 3-D
    surface, and (with `diagnostics`) that loss's relative error along each trajectory. With
    `diagnostics`, a last row holds the data-distance map and the relative projection error along each
    trajectory. The title names the manifold and gives e_proj and e_relative per trajectory;
    ``data.attrs["notes"]`` (how the grid was approximated, ...) is printed at the bottom.

    Each axes is labelled for scripts and tests (``ax.get_label()``): ``"landscape:<loss>"``,
    ``"surface:<loss>"``, ``"loss-error:<loss>"``, ``"data-distance"``, ``"projection-error"``.

    Parameters
    ----------
    data : LandscapeData
    losses : sequence of str, optional
        Losses to draw, one row each; all of the landscape's by default.
    trajectories : sequence of str, optional
        Trajectories to draw; all by default.
    diagnostics : bool, default=True
        Add the error panels and the data-distance map.
    surface : bool, default=False
        Add a 3-D surface panel per loss.
    size : (width, height) in inches, optional
        The figure's size; either may be None to keep its default (`landscape_figure_size`).
    dpi : float, default=120
        Dots per inch; a PNG is ``size * dpi`` pixels.
    cmap : str or Colormap, default="viridis"
    levels : int, default=24
        Contour levels per landscape panel.

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot; write it with `save_figure`.

    Raises
    ------
    UnknownNameError
        A loss or trajectory the landscape does not hold.
    InvalidSettingError
        A non-positive size or dpi, or an image of more than 120 megapixels.
    """
    losses = select_losses(data, losses)
    names = select_trajectories(data, trajectories)
    width, height = _check_size(size, landscape_figure_size(len(losses), diagnostics=diagnostics, surface=surface),
                                dpi, (1 + surface + diagnostics, len(losses) + diagnostics))
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    ncols = 1 + surface + diagnostics
    grid = fig.add_gridspec(len(losses) + diagnostics, ncols,
                            width_ratios=[PANEL_WIDTH[k] for k, on in
                                          (("landscape", True), ("surface", surface), ("errors", diagnostics)) if on])
    for row, loss in enumerate(losses):
        ax = fig.add_subplot(grid[row, 0], label=f"landscape:{loss}")
        mappable = landscape_axes(ax, data, loss, trajectories=names, cmap=cmap, levels=levels)
        kind = scale_kind(mappable.norm)
        ax.set_title(f"{loss} ({kind} colour scale)", fontsize="medium")
        style_colorbar(fig.colorbar(mappable, ax=ax, label=loss, shrink=0.95))
        col = 1
        if surface:
            ax3 = fig.add_subplot(grid[row, col], projection="3d", label=f"surface:{loss}")
            surface_axes(ax3, data, loss, trajectories=names, cmap=cmap, norm=mappable.norm)
            col += 1
        if diagnostics:
            loss_error_axes(fig.add_subplot(grid[row, col], label=f"loss-error:{loss}"), data, loss,
                            trajectories=names)
    if diagnostics:
        ax = fig.add_subplot(grid[-1, 0], label="data-distance")
        mappable = data_distance_axes(ax, data, trajectories=names)
        style_colorbar(fig.colorbar(mappable, ax=ax, label="parameter distance", shrink=0.95))
        projection_error_axes(fig.add_subplot(grid[-1, 1:], label="projection-error"), data, trajectories=names)
    lines = [_header(data)]
    for name in names:
        e_proj, _ = error_means(data, None, [name])
        rel = ", ".join(f"{loss} {_fmt(error_means(data, loss, [name])[1])}" for loss in losses
                        if loss in data.trajectories[name].relative_loss_error)
        lines.append(f"{name}: e_proj {_fmt(e_proj)}" + (f", e_relative {rel}" if rel else ""))
    chars = int(width * 11)
    fig.suptitle(_wrap("\n".join(lines), chars), fontsize="medium")
    if data.attrs.get("notes"):
        fig.supxlabel(_wrap(f"Note: {data.attrs['notes']}", int(width * 13)), fontsize="small", style="italic")
    return fig


def comparison_figure(datas: Mapping[str, LandscapeData], losses: Sequence[str], *,
                      trajectories: Sequence[str] | None = None, shared_scale: bool = False,
                      size: tuple[float | None, float | None] | None = None, dpi: float = DEFAULT_DPI,
                      cmap=DEFAULT_CMAP, levels: int = DEFAULT_LEVELS) -> Figure:
    """Methods side by side: a column per landscape, a row per loss.

    Each panel is a `landscape_axes` with its own colour bar; its title gives the method and, on a
    second line, that panel's e_proj and e_relative (means over every point of the drawn
    trajectories). A landscape's ``attrs["notes"]`` is printed under its panels. Each axes is labelled
    ``"compare:<label>:<loss>"``.

    Parameters
    ----------
    datas : mapping of str to LandscapeData
        Column label (a method name) -> its landscape, in column order.
    losses : sequence of str
        Losses to draw, one row each; every landscape must hold them.
    trajectories : sequence of str, optional
        Trajectories to draw in every panel; all of each landscape's by default.
    shared_scale : bool, default=False
        One colour scale per row (all methods' grids and true losses) for a like-for-like reading of
        colours; by default each panel is scaled to its own grid.
    size, dpi, cmap, levels
        As for `landscape_figure`; the default size is 5 x 4.4 inches per panel.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    UnknownNameError
        A landscape does not hold one of `losses` or `trajectories`.
    InvalidSettingError
        No landscape or no loss given, or a bad size or dpi.
    """
    if not datas:
        raise InvalidSettingError("comparison_figure needs at least one landscape")
    losses = list(losses)
    if not losses:
        raise InvalidSettingError("comparison_figure needs at least one loss")
    for data in datas.values():
        for loss in losses:
            check_loss(data, loss)
    chosen = {label: select_trajectories(data, trajectories) for label, data in datas.items()}
    noted = any(data.attrs.get("notes") for data in datas.values())
    default = (5.0 * len(datas), 4.4 * len(losses) + 0.6 + 0.6 * noted)
    width, height = _check_size(size, default, dpi, (len(datas), len(losses)))
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    grid = fig.add_gridspec(len(losses), len(datas))
    shared = {}
    if shared_scale:
        for loss in losses:
            arrays = []
            for label, data in datas.items():
                arrays.append(data.losses[loss])
                arrays += [data.trajectories[n].true_loss.get(loss) for n in chosen[label]]
            shared[loss] = loss_norm(*arrays)
    for col, (label, data) in enumerate(datas.items()):
        for row, loss in enumerate(losses):
            ax = fig.add_subplot(grid[row, col], label=f"compare:{label}:{loss}")
            mappable = landscape_axes(ax, data, loss, trajectories=chosen[label], cmap=cmap, levels=levels,
                                      norm=shared.get(loss), legend=(row == 0))
            e_proj, e_rel = error_means(data, loss, chosen[label])
            ax.set_title(f"{label}: {loss} ({scale_kind(mappable.norm)} scale)\n"
                         f"e_proj {_fmt(e_proj)}, e_relative {_fmt(e_rel)}", fontsize="medium")
            style_colorbar(fig.colorbar(mappable, ax=ax, shrink=0.95))
            if col > 0:
                ax.set_ylabel("")
            if row < len(losses) - 1:
                ax.set_xlabel("")
            elif data.attrs.get("notes"):
                ax.set_xlabel("latent $z_0$\n" + _wrap(f"Note: {data.attrs['notes']}", int(width / len(datas) * 12)),
                              fontsize="small")
    return fig
