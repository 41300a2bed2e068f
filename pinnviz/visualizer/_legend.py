"""A legend placed where it hides no trajectory start or end marker (matplotlib's "best", weighted)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import Collection
from matplotlib.legend import Legend
from matplotlib.transforms import Bbox

#: gid prefixes of the markers a legend must never cover (set by `draw_trajectory`)
KEEP_VISIBLE = ("trajectory-start:", "trajectory-end:")


def marker_boxes(ax: Axes) -> list[Bbox]:
    """Display-space boxes of every start and end marker drawn on `ax` (marker size included)."""
    boxes = []
    scale = ax.figure.dpi / 72.0  # marker sizes are in points^2
    for artist in ax.collections:
        if not isinstance(artist, Collection) or not str(artist.get_gid() or "").startswith(KEEP_VISIBLE):
            continue
        offsets = artist.get_offset_transform().transform(artist.get_offsets())
        sizes = np.broadcast_to(np.asarray(artist.get_sizes(), dtype=float), (len(offsets),))
        for (x, y), size in zip(offsets, sizes, strict=True):
            if np.isfinite(x) and np.isfinite(y):
                r = 0.5 * np.sqrt(size) * scale + 2.0
                boxes.append(Bbox.from_extents(x - r, y - r, x + r, y + r))
    return boxes


class MarkerAwareLegend(Legend):
    """`loc="best"`, where covering a start or end marker costs more than covering everything else.

    matplotlib's "best" counts the line vertices, scatter offsets and patches under each candidate
    position and takes the least; a few markers among thousands of trajectory points would count for
    little. Each marker box is counted as often as all other items together plus one, so a position
    that hides a marker is chosen only when every position does.
    """

    def _auto_legend_data(self, renderer):
        bboxes, lines, offsets = super()._auto_legend_data(renderer)
        markers = marker_boxes(self.parent)
        if markers:
            weight = 1 + len(bboxes) + len(offsets) + sum(2 * len(line.vertices) for line in lines)
            bboxes = list(bboxes) + markers * weight
        return bboxes, lines, offsets


def add_marker_aware_legend(ax: Axes, handles, **options) -> Legend:
    """Attach a `MarkerAwareLegend` of `handles` to `ax` (replacing its legend) and return it."""
    legend = MarkerAwareLegend(ax, handles, [h.get_label() for h in handles], loc="best", **options)
    ax.legend_ = legend
    legend._remove_method = ax._remove_legend
    return legend
