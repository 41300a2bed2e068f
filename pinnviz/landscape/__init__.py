"""Latent grids decoded to parameters, losses evaluated there in batches, projection diagnostics."""

from pinnviz.landscape._data import LandscapeData as LandscapeData
from pinnviz.landscape._data import TrajectoryDiagnostics as TrajectoryDiagnostics
from pinnviz.landscape._data import landscape_names as landscape_names
from pinnviz.landscape._data import load_landscape as load_landscape
from pinnviz.landscape._data import save_landscape as save_landscape

__all__ = ["LandscapeData", "TrajectoryDiagnostics", "landscape_names", "load_landscape", "save_landscape"]
