"""Latent grids decoded to parameters, losses evaluated there in batches, projection diagnostics."""

from pinnviz.landscape._data import LandscapeData as LandscapeData
from pinnviz.landscape._data import TrajectoryDiagnostics as TrajectoryDiagnostics
from pinnviz.landscape._data import landscape_names as landscape_names
from pinnviz.landscape._data import load_landscape as load_landscape
from pinnviz.landscape._data import save_landscape as save_landscape
from pinnviz.landscape._evaluate import check_landscape_options as check_landscape_options
from pinnviz.landscape._evaluate import compute_landscape as compute_landscape
from pinnviz.landscape._evaluate import latent_axes as latent_axes
from pinnviz.landscape._evaluate import trajectory_diagnostics as trajectory_diagnostics
from pinnviz.landscape._fresh import landscape_staleness as landscape_staleness

__all__ = ["LandscapeData", "TrajectoryDiagnostics", "check_landscape_options", "compute_landscape",
           "landscape_names", "landscape_staleness", "latent_axes",
           "load_landscape", "save_landscape", "trajectory_diagnostics"]
