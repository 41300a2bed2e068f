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
    """`loc="best"` that first avoids the start and end markers, then what matplotlib's "best" avoids.

    matplotlib's "best" counts the line vertices, scatter offsets and patches under each candidate
    position and takes the least; a few markers among thousands of trajectory points count for
    little there. Here the candidates are ranked by how many marker boxes they overlap first, so a
    position that hides a marker is chosen only when every position does.
    """

    def _find_best_position(self, width, height, renderer):
        bboxes, lines, offsets = self._auto_legend_data(renderer)
        offsets = np.asarray(offsets, dtype=float).reshape(-1, 2)
        markers = marker_boxes(self.parent)
        size = Bbox.from_bounds(0, 0, width, height)
        candidates = []
        for code in range(1, len(self.codes)):  # every location but "best" itself
            left, bottom = self._get_anchored_bbox(code, size, self.get_bbox_to_anchor(), renderer)
            box = Bbox.from_bounds(left, bottom, width, height)
            hidden = box.count_overlaps(markers) if markers else 0
            covered = (sum(box.count_contains(line.vertices) for line in lines) + box.count_contains(offsets)
                       + (box.count_overlaps(bboxes) if bboxes else 0)
                       + sum(line.intersects_bbox(box, filled=False) for line in lines))
            candidates.append((hidden, covered, code, (left, bottom)))
            if hidden == 0 and covered == 0:
                break
        return min(candidates)[3]


def add_marker_aware_legend(ax: Axes, handles, **options) -> Legend:
    """Attach a `MarkerAwareLegend` of `handles` to `ax` (replacing its legend) and return it."""
    legend = MarkerAwareLegend(ax, handles, [h.get_label() for h in handles], loc="best", **options)
    ax.legend_ = legend
    legend._remove_method = ax._remove_legend
    return legend
