"""pinnviz: loss landscapes of physics-informed networks, with honest projection diagnostics."""

__version__ = "0.1.0"
