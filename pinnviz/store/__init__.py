"""The Zarr run store (schema 1): create, open, validate, read, and crash-safe trajectory writing."""

from pinnviz.store._run import SCHEMA as SCHEMA
from pinnviz.store._run import Run as Run
from pinnviz.store._run import Trajectory as Trajectory
from pinnviz.store._run import create_run as create_run
from pinnviz.store._run import display_status as display_status
from pinnviz.store._run import open_run as open_run
from pinnviz.store._writer import TrajectoryWriter as TrajectoryWriter

__all__ = ["SCHEMA", "Run", "Trajectory", "TrajectoryWriter", "create_run", "display_status", "open_run"]
