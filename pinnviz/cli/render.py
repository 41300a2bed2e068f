"""`pinnviz render`: draw a stored landscape and its diagnostics to PNG, SVG or PDF."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from pinnviz.cli._common import friendly_errors, out, split_names, writable_file
from pinnviz.errors import InvalidSettingError, NonFiniteError, StaleResultError, unknown_name
from pinnviz.landscape import landscape_names, landscape_staleness, load_landscape
from pinnviz.store import open_run
from pinnviz.visualizer import landscape_figure, save_figure
from pinnviz.visualizer._export import figure_format
from pinnviz.visualizer._figures import DEFAULT_DPI

FIGURE = "Figure"


def default_output(store: Path, landscape: str) -> Path:
    """`<store stem>-<landscape>.png` beside the store (run.zarr -> run-<landscape>.png)."""
    store = Path(store)
    return store.parent / f"{store.stem}-{landscape}.png"


@friendly_errors
def render_command(
    store: Annotated[Path, typer.Argument(help="A pinnviz store (run.zarr) holding the landscape.")],
    landscape: Annotated[str | None, typer.Option("--landscape", "-l", help="Name of the stored landscape.")]
    = None,
    probe: Annotated[str | None, typer.Option("--probe", "-p", help="Redraw stored probes instead (comma-separated "
                                              "names of one kind), without recomputing them.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Image to write: .png, .svg or .pdf (default: <store stem>-<landscape>.png "
        "beside the store).")] = None,
    loss: Annotated[str | None, typer.Option(help="Losses to draw, comma-separated, e.g. pinn,drm "
                                             "(default: all of the landscape's).")] = None,
    surface: Annotated[bool, typer.Option("--surface", help="Add a 3-D surface panel per loss.",
                                          rich_help_panel=FIGURE)] = False,
    no_diagnostics: Annotated[bool, typer.Option(
        "--no-diagnostics", help="Leave out the error panels and the data-distance map.",
        rich_help_panel=FIGURE)] = False,
    dpi: Annotated[float | None, typer.Option(help=f"Dots per inch (default: {DEFAULT_DPI:g}; a probe's own).",
                                              rich_help_panel=FIGURE)] = None,
    width: Annotated[float | None, typer.Option(help="Figure width in inches (default: from the panels).",
                                                rich_help_panel=FIGURE)] = None,
    height: Annotated[float | None, typer.Option(help="Figure height in inches (default: from the panels).",
                                                 rich_help_panel=FIGURE)] = None,
) -> None:
    """Draw a stored landscape: contours with the trajectories coloured by their true loss, and how far
    to trust the picture (projection and loss errors along each trajectory, distance to the data).

    With --probe, redraw the figures of stored probes instead, from the store alone."""
    if (landscape is None) == (probe is None):
        raise InvalidSettingError("give one of --landscape NAME or --probe NAME")
    path = output if output is not None else default_output(store, landscape or probe.replace(",", "-"))
    figure_format(path)  # a bad suffix fails before any drawing
    writable_file(path, "--output")
    for label, value in (("--dpi", dpi), ("--width", width), ("--height", height)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InvalidSettingError(f"{label} {value} must be a finite number > 0")
    run = open_run(store)
    if probe is not None:
        from pinnviz.visualizer._probe_figure import probe_figure

        written = save_figure(probe_figure(run, split_names(probe), loss=loss), path, dpi=dpi)
        out.print(str(written), highlight=False, soft_wrap=True)
        return
    dpi = DEFAULT_DPI if dpi is None else dpi
    if landscape not in landscape_names(run.group):
        raise unknown_name(f"landscape in {store}", landscape, landscape_names(run.group))
    attrs = dict(run.group[f"landscapes/{landscape}"].attrs)
    stale = landscape_staleness(run, attrs)
    if stale:
        manifold = attrs.get("manifold", landscape)
        raise StaleResultError(f"landscape {landscape!r} is stale: {stale}; compute it again with: pinnviz "
                               f"landscape {store} --manifold {manifold} --name {landscape} --force")
    data = load_landscape(run.group, landscape)
    drawn = split_names(loss) or list(data.losses)
    for name in drawn:
        if name in data.losses and not np.isfinite(data.losses[name]).any():
            raise NonFiniteError(f"landscape {landscape!r} has no finite {name} value (every grid point is NaN "
                                 "or infinite): nothing to draw; check the manifold's decode and the margin")
    fig = landscape_figure(data, split_names(loss), diagnostics=not no_diagnostics, surface=surface,
                           size=(width, height), dpi=dpi)
    written = save_figure(fig, path, dpi=dpi)
    out.print(str(written), highlight=False, soft_wrap=True)
