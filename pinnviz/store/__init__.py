"""The Zarr run store (schema 1): create, open, validate, read, and crash-safe trajectory writing.

The names below are imported on first use, so that a module needing only `store._paths` or
`store._meta` (`pinnviz info`, `--help`) does not pay for importing zarr.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_PUBLIC = {"SCHEMA": "_run", "Run": "_run", "Trajectory": "_run", "create_run": "_run", "open_run": "_run",
           "display_status": "_meta", "TrajectoryWriter": "_writer"}

__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:
    from pinnviz.store._meta import display_status as display_status
    from pinnviz.store._run import SCHEMA as SCHEMA
    from pinnviz.store._run import Run as Run
    from pinnviz.store._run import Trajectory as Trajectory
    from pinnviz.store._run import create_run as create_run
    from pinnviz.store._run import open_run as open_run
    from pinnviz.store._writer import TrajectoryWriter as TrajectoryWriter


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'pinnviz.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pinnviz.store.{_PUBLIC[name]}"), name)
    globals()[name] = value
    return value
