"""Networks as flat parameter vectors with batched value and input-derivative evaluation."""

from pinnviz.nets._layout import ParamEntry as ParamEntry
from pinnviz.nets._layout import ParamLayout as ParamLayout
from pinnviz.nets._mlp import ACTIVATIONS as ACTIVATIONS
from pinnviz.nets._mlp import MLP as MLP
from pinnviz.nets._mlp import Fields as Fields

__all__ = ["ACTIVATIONS", "MLP", "Fields", "ParamEntry", "ParamLayout"]
