"""Figures of landscapes and their diagnostics, and their export to PNG, SVG and PDF.

Figures are built as `matplotlib.figure.Figure` objects and written with the Agg/SVG/PDF renderers by
`save_figure`; pyplot is never imported, so no backend is switched and no figure is kept alive globally.

Example (with a store holding a landscape named "pca")::

    from pinnviz.landscape import load_landscape
    from pinnviz.store import open_run
    from pinnviz.visualizer import landscape_figure, save_figure

    data = load_landscape(open_run("run.zarr").group, "pca")
    save_figure(landscape_figure(data, ["pinn"], surface=True), "pca.svg")
"""

from pinnviz.visualizer._diagnostics import data_distance_axes as data_distance_axes
from pinnviz.visualizer._diagnostics import loss_error_axes as loss_error_axes
from pinnviz.visualizer._diagnostics import projection_error_axes as projection_error_axes
from pinnviz.visualizer._export import FORMATS as FORMATS
from pinnviz.visualizer._export import save_figure as save_figure
from pinnviz.visualizer._figures import comparison_figure as comparison_figure
from pinnviz.visualizer._figures import error_means as error_means
from pinnviz.visualizer._figures import landscape_figure as landscape_figure
from pinnviz.visualizer._figures import landscape_figure_size as landscape_figure_size
from pinnviz.visualizer._landscape import landscape_axes as landscape_axes
from pinnviz.visualizer._scales import colorbar_ticks as colorbar_ticks
from pinnviz.visualizer._scales import loss_norm as loss_norm
from pinnviz.visualizer._scales import scale_kind as scale_kind
from pinnviz.visualizer._surface import surface_axes as surface_axes
from pinnviz.visualizer._sweep import sweep_heatmap as sweep_heatmap

__all__ = [
    "FORMATS",
    "colorbar_ticks",
    "comparison_figure",
    "data_distance_axes",
    "error_means",
    "landscape_axes",
    "landscape_figure",
    "landscape_figure_size",
    "loss_error_axes",
    "loss_norm",
    "projection_error_axes",
    "save_figure",
    "scale_kind",
    "surface_axes",
    "sweep_heatmap",
]
