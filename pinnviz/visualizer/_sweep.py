"""The heat map of a sweep: one cell per (x, y) setting, the mean over seeds (topological-profiles figure 3)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from pinnviz.visualizer._scales import loss_norm


def sweep_heatmap(means: np.ndarray, counts: np.ndarray, x_labels: Sequence[str], y_labels: Sequence[str], *,
                  x: str, y: str, value: str, expected: int | None = None, title: str | None = None) -> Figure:
    """Cells coloured by `means` (n_y, n_x) on the loss scale, each labelled with its mean and count.

    A cell with no finished configuration is left blank and labelled "none"; a cell with fewer than
    `expected` finished configurations says how many of them it averages (``n=3/5``).
    """
    n_y, n_x = means.shape
    fig = Figure(figsize=(1.2 + 1.1 * n_x, 1.0 + 0.8 * n_y), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    norm = loss_norm(means)
    mesh = ax.pcolormesh(np.arange(n_x + 1) - 0.5, np.arange(n_y + 1) - 0.5, np.ma.masked_invalid(means),
                         norm=norm, cmap="viridis")
    ax.set_facecolor("0.85")
    cmap = mesh.get_cmap()
    for i in range(n_y):
        for j in range(n_x):
            if counts[i, j] == 0:
                ax.text(j, i, "none", ha="center", va="center", fontsize=8, color="0.3")
                continue
            shade = np.asarray(cmap(norm(means[i, j])))[:3] @ np.array([0.299, 0.587, 0.114])
            text = f"{means[i, j]:.3g}"
            if expected is not None and counts[i, j] != expected:
                text += f"\nn={counts[i, j]}/{expected}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="black" if shade > 0.5 else "white")
    ax.set_xticks(range(n_x), list(x_labels))
    ax.set_yticks(range(n_y), list(y_labels))
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or f"mean {value} over seeds")
    fig.colorbar(mesh, ax=ax, label=value)
    return fig
