"""Writing figures: PNG, SVG or PDF, chosen by the file's suffix."""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

from pinnviz.errors import InvalidSettingError

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def figure_format(path: str | os.PathLike) -> str:
    """``"png"``, ``"svg"`` or ``"pdf"`` from `path`'s suffix (any case); `InvalidSettingError` otherwise."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        valid = ", ".join(FORMATS)
        raise InvalidSettingError(f"cannot write {path.name!r}: the suffix must be one of {valid}")
    return fmt


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: float | None = None) -> Path:
    """Write `fig` to `path` as PNG, SVG or PDF (by suffix), creating the parent folder.

    The figure keeps its size: a PNG is ``figsize * dpi`` pixels (no tight cropping).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path-like
        Ends in ``.png``, ``.svg`` or ``.pdf`` (any case).
    dpi : float, optional
        Resolution of the PNG (and of the rasterised parts of SVG/PDF); the figure's own dpi when None.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InvalidSettingError
        An unknown suffix, or a dpi that is not positive.
    """
    path = Path(path)
    fmt = figure_format(path)
    if dpi is not None and not dpi > 0:
        raise InvalidSettingError(f"dpi={dpi} must be > 0")
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Software": "pinnviz"} if fmt == "png" else {"Creator": "pinnviz"}
    fig.savefig(path, format=fmt, dpi=dpi if dpi is not None else fig.dpi, metadata=metadata)
    return path
