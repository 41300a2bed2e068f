"""The optional 3-D view of a landscape: height and colour on the contour panel's own scale."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize

from pinnviz.landscape import LandscapeData
from pinnviz.visualizer._landscape import (
    DEFAULT_CMAP,
    END_MARKER,
    START_MARKER,
    TRAJECTORY_COLORS,
    check_loss,
    select_trajectories,
)
from pinnviz.visualizer._scales import loss_norm, scale_kind, scaled

#: the most grid cells drawn per side; larger grids are strided (a 3-D view shows no finer detail)
MAX_SURFACE_CELLS = 60


def surface_axes(ax, data: LandscapeData, loss: str, *, trajectories: Sequence[str] | None = None,
                 cmap=DEFAULT_CMAP, norm: Normalize | None = None) -> None:
    """Draw `loss` as a 3-D surface on a ``projection="3d"`` axes, the trajectories on it.

    The height is the loss in the colour scale's own units (log10 for a log scale, the symmetric-log
    transform for an energy that crosses zero), so the surface and the contour panel agree. Trajectory
    points sit at the height of their *true* loss and are coloured by it; NaN cells are left out.

    Parameters
    ----------
    ax : mpl_toolkits.mplot3d.Axes3D
        From ``fig.add_subplot(..., projection="3d")``.
    data, loss, trajectories, cmap
        As for `landscape_axes`.
    norm : Normalize, optional
        The contour panel's norm; built from the data when None.
    """
    grid = check_loss(data, loss)
    names = select_trajectories(data, trajectories)
    true = [data.trajectories[n].true_loss.get(loss) for n in names]
    if norm is None:
        norm = loss_norm(grid, *true)
    r1, r0 = grid.shape
    s1, s0 = max(1, -(-r1 // MAX_SURFACE_CELLS)), max(1, -(-r0 // MAX_SURFACE_CELLS))
    x0, x1 = np.meshgrid(data.axis_0[::s0], data.axis_1[::s1])
    sub = grid[::s1, ::s0]
    height = scaled(norm, sub)
    finite = np.isfinite(height)
    if finite.any():
        colours = np.asarray(norm(np.ma.masked_invalid(sub)).filled(np.nan))
        facecolors = ax_cmap(cmap)(np.where(np.isfinite(colours), colours, 0.0))
        facecolors[~finite, 3] = 0.0  # NaN cells transparent
        ax.computed_zorder = False  # keep the trajectory drawn over the surface from every view
        ax.plot_surface(x0, x1, np.where(finite, height, np.nanmin(height)), facecolors=facecolors,
                        rstride=1, cstride=1, linewidth=0, antialiased=False, shade=False, rasterized=True,
                        zorder=1)
    for i, name in enumerate(names):
        coords = np.asarray(data.trajectories[name].coords, dtype=float)
        if true[i] is None:
            continue
        z = scaled(norm, true[i])
        color = TRAJECTORY_COLORS[i % len(TRAJECTORY_COLORS)]
        ax.plot(coords[:, 0], coords[:, 1], z, color="black" if color == "white" else color, lw=1.2, zorder=5)
        ax.scatter(coords[:, 0], coords[:, 1], z, c=true[i], cmap=cmap, norm=norm, s=8, edgecolors="black",
                   linewidths=0.3, depthshade=False, zorder=6)
        for idx, marker, size in ((0, START_MARKER, 50), (-1, END_MARKER, 120)):
            ax.scatter(coords[idx, 0], coords[idx, 1], z[idx], marker=marker, s=size, c=[true[i][idx]], cmap=cmap,
                       norm=norm, edgecolors="black", linewidths=1.5, depthshade=False, zorder=7)
    height_unit = {"log": f"log10 {loss}", "symlog": f"symlog {loss}"}.get(scale_kind(norm), loss)
    ax.set_xlabel("$z_0$", fontsize="small", labelpad=-6)
    ax.set_ylabel("$z_1$", fontsize="small", labelpad=-6)
    ax.tick_params(labelsize="x-small", pad=-2)
    ax.set_box_aspect((1.0, 1.0, 0.75), zoom=0.88)  # keeps the z tick labels inside the panel
    ax.set_title(f"{loss} (3-D; height = {height_unit})", fontsize="medium")


def ax_cmap(cmap):
    """A Colormap from a name or a Colormap."""
    return colormaps[cmap] if isinstance(cmap, str) else cmap
