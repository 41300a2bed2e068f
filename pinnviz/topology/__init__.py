"""Topology of loss landscapes: merge trees of sublevel sets on d-dimensional grids, persistence, profiles.

The landscape profile of Geniesse et al. (topological landscape profiles) summarises a landscape of any
dimension by its merge tree: which basins exist, how wide (cells) and how deep (loss) each is, and where
they merge (saddles). Our own code on numpy/scipy; gudhi is only the tests' oracle.
"""

from pinnviz.topology._grid import CONNECTIVITIES as CONNECTIVITIES
from pinnviz.topology._merge_tree import merge_tree as merge_tree
from pinnviz.topology._tree import MergeTree as MergeTree

__all__ = ["CONNECTIVITIES", "MergeTree", "merge_tree"]
