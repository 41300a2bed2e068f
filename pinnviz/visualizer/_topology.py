"""Figures of a merge tree: the topological landscape profile, the tree, the persistence diagram and the
critical points on a 2-D contour. Minima are red, saddles orange, everywhere."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from pinnviz.errors import InvalidSettingError
from pinnviz.topology import MergeTree
from pinnviz.visualizer._landscape import DEFAULT_CMAP, NAN_COLOR, landscape_axes
from pinnviz.visualizer._scales import contour_levels, loss_norm, scale_kind, scaled, style_colorbar

MINIMUM_COLOR, SADDLE_COLOR = "red", "orange"
MAX_DRAWN_MINIMA = 400  # a tree with more minima is drawn simplified to its most persistent ones
BANDS = 8  # colour bands per growth step of a basin (the fill follows the loss within a basin)


def drawable(tree: MergeTree, max_minima: int = MAX_DRAWN_MINIMA) -> MergeTree:
    """The tree, or its simplification keeping about the `max_minima` most persistent minima."""
    if tree.is_minimum.sum() <= max_minima:
        return tree
    persistence = np.sort(tree.persistence[np.isfinite(tree.persistence)])[::-1]
    return tree.simplify(float(np.nextafter(persistence[max_minima - 1], np.inf)))


def set_loss_scale(ax: Axes, norm: Normalize, axis: str = "y") -> None:
    """Log or symlog loss axis matching the colour scale."""
    kind = scale_kind(norm)
    setter = ax.set_yscale if axis == "y" else ax.set_xscale
    if kind == "log":
        setter("log")
        (ax.yaxis if axis == "y" else ax.xaxis).set_minor_formatter(NullFormatter())
    elif kind == "symlog":
        setter("symlog", linthresh=float(norm.linthresh))


def profile_layout(tree: MergeTree) -> tuple[np.ndarray, np.ndarray]:
    """Centre x of every node and, for a merge, the x where its two children meet (its saddle).

    Children sit side by side inside their parent's bottom edge, the older (deeper) one first; the
    younger goes alternately to its right and its left down a chain of merges, so small basins line
    both flanks of a large one.
    """
    kids = tree.children()
    centre = np.zeros(tree.n_nodes)
    junction = np.zeros(tree.n_nodes)
    roots = [int(r) for r in np.flatnonzero(tree.parent < 0)]
    roots.sort(key=lambda r: tree.low[r])
    x = 0.0
    stack = []
    for r in roots:
        centre[r] = junction[r] = x + tree.size[r] / 2
        x += tree.size[r] * 1.04
        stack.append(r)
    flip = 0
    while stack:
        node = stack.pop()
        arranged = sorted(kids[node], key=lambda c: tree.low[c])
        if len(arranged) == 2 and flip % 2:
            arranged.reverse()
        flip += len(arranged) == 2
        total = sum(int(tree.size[c]) for c in arranged)
        left = centre[node] - total / 2
        for i, c in enumerate(arranged):
            centre[c] = junction[c] = left + tree.size[c] / 2
            left += tree.size[c]
            if i == 0 and len(arranged) > 1:
                junction[node] = left
            stack.append(c)
    return centre, junction


def _basin_polygons(tree: MergeTree, centre: np.ndarray, norm: Normalize):
    polygons, levels = [], []
    for node in range(tree.n_nodes):
        heights, widths = tree.growth(node)
        if heights.size < 2:
            continue
        s = scaled(norm, heights) if scale_kind(norm) != "linear" else heights
        for j in range(heights.size - 1):
            if not heights[j + 1] > heights[j]:
                continue
            t = np.linspace(0.0, 1.0, BANDS + 1)
            sh = s[j] + t * (s[j + 1] - s[j])
            hh = _unscale(norm, sh)
            ww = widths[j] + t * (widths[j + 1] - widths[j])
            for b in range(BANDS):
                c, w0, w1 = centre[node], ww[b], ww[b + 1]
                polygons.append([(c - w0 / 2, hh[b]), (c + w0 / 2, hh[b]), (c + w1 / 2, hh[b + 1]),
                                 (c - w1 / 2, hh[b + 1])])
                levels.append(_unscale(norm, np.array([(sh[b] + sh[b + 1]) / 2]))[0])
    return polygons, np.asarray(levels)


def _unscale(norm: Normalize, values: np.ndarray) -> np.ndarray:
    kind = scale_kind(norm)
    if kind == "log":
        return 10.0 ** np.asarray(values)
    if kind == "symlog":
        from matplotlib.scale import SymmetricalLogTransform

        from pinnviz.visualizer._scales import SYMLOG_BASE, SYMLOG_LINSCALE

        inverse = SymmetricalLogTransform(SYMLOG_BASE, norm.linthresh, SYMLOG_LINSCALE).inverted()
        return inverse.transform(np.asarray(values, dtype=float).reshape(-1, 1)).ravel()
    return np.asarray(values, dtype=float)


def profile_axes(ax: Axes, tree: MergeTree, *, norm: Normalize | None = None, cmap=DEFAULT_CMAP,
                 markers: bool = True) -> ScalarMappable:
    """The topological landscape profile: nested basins, width = basin size (cells), height = loss.

    Each basin is a band from its minimum (or saddle) up to where it merges, as wide at height h as
    the number of its cells with loss <= h, filled with the colour of the loss; children sit inside
    their parent's bottom edge. Minima are red dots, saddles orange.
    """
    tree = drawable(tree)
    if norm is None:
        norm = loss_norm(tree.growth_height)
    centre, junction = profile_layout(tree)
    polygons, levels = _basin_polygons(tree, centre, norm)
    mappable = ScalarMappable(norm=norm, cmap=cmap)
    if polygons:
        ax.add_collection(PolyCollection(polygons, facecolors=mappable.to_rgba(levels), edgecolors="face",
                                         linewidths=0.3))
    set_loss_scale(ax, norm)
    total = float(tree.size[tree.parent < 0].sum() * 1.04) if tree.n_nodes else 1.0
    ax.set_xlim(-0.02 * total, total)
    finite = tree.growth_height[np.isfinite(tree.growth_height)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        if scale_kind(norm) == "log":
            ax.set_ylim(lo / 1.15, hi * 1.15)
        else:
            pad = 0.04 * (hi - lo if hi > lo else 1.0)
            ax.set_ylim(lo - pad, hi + pad)
    if markers and tree.n_nodes:
        _critical_markers(ax, np.where(tree.is_minimum, centre, junction), tree)
    ax.set_xlabel("basin size (grid cells)")
    ax.set_ylabel("loss")
    return mappable


def _critical_markers(ax: Axes, x: np.ndarray, tree: MergeTree, size: float = 18) -> None:
    leaves = tree.is_minimum
    ax.scatter(x[~leaves], tree.value[~leaves], s=size, color=SADDLE_COLOR, edgecolors="black", linewidths=0.4,
               zorder=4, label="saddle", clip_on=False)
    ax.scatter(x[leaves], tree.value[leaves], s=size, color=MINIMUM_COLOR, edgecolors="black", linewidths=0.4,
               zorder=5, label="minimum", clip_on=False)


def merge_tree_axes(ax: Axes, tree: MergeTree, *, norm: Normalize | None = None) -> None:
    """The merge tree as a dendrogram: x from the profile's layout, y = loss; each root runs up to its top."""
    tree = drawable(tree)
    if norm is None:
        norm = loss_norm(tree.growth_height)
    x, _ = profile_layout(tree)
    segments = []
    for node in range(tree.n_nodes):
        p = tree.parent[node]
        top = tree.value[p] if p >= 0 else tree.high[node]
        segments.append([(x[node], tree.value[node]), (x[node], top)])
        if p >= 0:
            segments.append([(x[node], top), (x[p], top)])
    ax.add_collection(LineCollection(segments, colors="0.25", linewidths=0.8))
    set_loss_scale(ax, norm)
    ax.autoscale_view()
    if tree.n_nodes:
        _critical_markers(ax, x, tree, size=14)
    ax.set_xticks([])
    ax.set_xlabel("basins (profile order)")
    ax.set_ylabel("loss")


def persistence_axes(ax: Axes, tree: MergeTree, *, norm: Normalize | None = None) -> None:
    """Birth against death of each 0-dimensional pair; a component's global minimum sits on the "inf" line."""
    if norm is None:
        norm = loss_norm(tree.birth, tree.death[np.isfinite(tree.death)])
    finite = np.isfinite(tree.death)
    lo, hi = float(norm.vmin), float(norm.vmax)  # the landscape's loss range
    top = hi * (hi / lo) ** 0.08 if scale_kind(norm) == "log" else hi + 0.08 * (hi - lo if hi > lo else 1.0)
    ax.plot([lo, top], [lo, top], color="0.5", lw=0.8, ls="--", zorder=1)
    ax.scatter(tree.birth[finite], tree.death[finite], s=12, color=MINIMUM_COLOR, edgecolors="black",
               linewidths=0.3, zorder=3, label="minimum (birth) killed at a saddle (death)")
    ax.scatter(tree.birth[~finite], np.full((~finite).sum(), top), s=30, marker="^", color=MINIMUM_COLOR,
               edgecolors="black", linewidths=0.4, zorder=3, label="never dies (global minimum)")
    ax.axhline(top, color="0.6", lw=0.6)
    set_loss_scale(ax, norm, "x")
    set_loss_scale(ax, norm, "y")
    ax.text(0.99, top, "inf ", transform=ax.get_yaxis_transform(), ha="right", va="bottom", fontsize="small",
            color="0.4")
    ax.set_xlabel("birth (loss at the minimum)")
    ax.set_ylabel("death (loss at the saddle)")
    shown = f"pairs with persistence >= {tree.min_persistence:.3g}" if tree.min_persistence > 0 else None
    ax.legend(fontsize="x-small", loc="lower right", title=shown, title_fontsize="x-small")


def critical_points_axes(ax: Axes, tree: MergeTree, source: dict, *, norm: Normalize | None = None,
                         cmap=DEFAULT_CMAP) -> ScalarMappable:
    """Minima and saddles on the landscape's 2-D contour (for d > 2, the slice through the grid centre).

    `source` is what `pinnviz.probes.topology.landscape_field` returns.
    """
    field = source["field"]
    if field.ndim < 2:
        raise InvalidSettingError("critical points on a contour need a landscape of 2 or more dimensions")
    minima, saddles = tree.coordinates(tree.minima), tree.coordinates(tree.saddles)
    if source["landscape"] is not None:  # a stored 2-D landscape: loss[i1, i0]
        data = source["landscape"]
        mappable = landscape_axes(ax, data, source["loss"], trajectories=[], norm=norm, cmap=cmap, legend=False)
        for cells, color, label in ((saddles, SADDLE_COLOR, "saddle"), (minima, MINIMUM_COLOR, "minimum")):
            ax.scatter(data.axis_0[cells[:, 1]], data.axis_1[cells[:, 0]], s=16, color=color, edgecolors="black",
                       linewidths=0.4, zorder=5, label=label, clip_on=False)
        ax.legend(fontsize="x-small", loc="upper right")
        return mappable
    axes, labels = source["axes"], source["labels"]
    middle = tuple(len(a) // 2 for a in axes[2:])
    plane = field[(slice(None), slice(None), *middle)]  # (R0, R1)
    if norm is None:
        norm = loss_norm(field)
    ax.set_facecolor(NAN_COLOR)
    masked = np.ma.masked_invalid(plane.T)
    if scale_kind(norm) == "log":
        masked = np.ma.masked_less_equal(masked, 0.0)
    mappable = ax.contourf(axes[0], axes[1], masked, levels=contour_levels(norm, 25), norm=norm, cmap=cmap,
                           extend="both")
    for cells, color, label in ((saddles, SADDLE_COLOR, "saddle"), (minima, MINIMUM_COLOR, "minimum")):
        on = np.all(cells[:, 2:] == np.asarray(middle, dtype=np.int64), axis=1) if middle else np.ones(len(cells), bool)
        if on.any():
            ax.scatter(axes[0][cells[on, 0]], axes[1][cells[on, 1]], s=26, color=color, edgecolors="black",
                       linewidths=0.5, zorder=5, label=f"{label} on the slice", clip_on=False)
        if (~on).any():
            ax.scatter(axes[0][cells[~on, 0]], axes[1][cells[~on, 1]], s=22, facecolors="none", edgecolors=color,
                       linewidths=1.0, zorder=4, label=f"{label} off the slice (projected)", clip_on=False)
    rest = ", ".join(f"{labels[k + 2]} = 0" for k in range(len(middle)))
    ax.set_title(f"slice {rest}" if rest else "", fontsize="small")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend(fontsize="xx-small", loc="upper right")
    return mappable


def topology_figure(tree: MergeTree, source: dict, *, title: str | None = None, dpi: float = 100) -> Figure:
    """Four panels: (a) the topological landscape profile, (b) the merge tree, (c) the persistence diagram,
    (d) the critical points on the 2-D contour (or the slice through the centre of a d-dim landscape)."""
    field = source["field"]
    norm = loss_norm(field)
    fig = Figure(figsize=(12.5, 9.5), dpi=dpi, layout="constrained")
    (ax_profile, ax_tree), (ax_pd, ax_contour) = fig.subplots(2, 2)
    drawn = drawable(tree)
    mappable = profile_axes(ax_profile, drawn, norm=norm)
    fig.colorbar(mappable, ax=ax_profile, label="loss", shrink=0.9)
    n_min, n_sad = int(drawn.is_minimum.sum()), int(np.unique(drawn.saddles).size)
    shown = "" if drawn is tree else f", drawn at persistence >= {drawn.min_persistence:.3g}"
    ax_profile.set_title(f"(a) topological landscape profile: {_count(n_min, 'minimum', 'minima')}, "
                         f"{_count(n_sad, 'saddle', 'saddles')}{shown}",
                         fontsize="medium")
    ax_profile.legend(handles=[Line2D([], [], marker="o", ls="", color=MINIMUM_COLOR, label="minimum"),
                               Line2D([], [], marker="o", ls="", color=SADDLE_COLOR, label="saddle")],
                      fontsize="x-small", loc="lower right")
    merge_tree_axes(ax_tree, drawn, norm=norm)
    ax_tree.set_title("(b) merge tree (join tree of sublevel sets)", fontsize="medium")
    persistence_axes(ax_pd, tree, norm=norm)
    ax_pd.set_title(f"(c) persistence diagram: {_count(tree.birth.size, 'pair', 'pairs')}", fontsize="medium")
    if field.ndim >= 2:
        contour = critical_points_axes(ax_contour, drawn, source, norm=norm)
        style_colorbar(fig.colorbar(contour, ax=ax_contour, label="loss", shrink=0.9))
        sub = ax_contour.get_title()
        ax_contour.set_title("(d) critical points on the landscape" + (f" ({sub})" if sub else ""),
                             fontsize="medium")
    else:
        ax_contour.plot(source["axes"][0], field, color="0.2")
        set_loss_scale(ax_contour, norm)
        ax_contour.set_title("(d) the 1-D landscape", fontsize="medium")
    dims = "x".join(str(s) for s in field.shape)
    fig.suptitle(title or f"{source['loss']} on a {dims} grid, {tree.connectivity} connectivity")
    return fig


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
