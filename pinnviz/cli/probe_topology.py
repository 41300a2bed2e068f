"""`pinnviz probe hessian-landscape` (1-4-D landscapes along Hessian eigenvectors at a row: the Hessian case of
`pinnviz landscape --dims`) and `pinnviz probe topology` (merge tree, persistence, topological landscape profile
of a stored landscape)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pinnviz.cli._common import (
    Force,
    check_device,
    device_option,
    err,
    friendly_errors,
    out,
    refuse_device,
    split_names,
)
from pinnviz.cli.probe import probe_app
from pinnviz.store import open_run
from pinnviz.visualizer import save_figure
from pinnviz.visualizer._export import figure_format

StorePath = Annotated[Path, typer.Argument(help="A pinnviz store (run.zarr).")]
FigurePath = Annotated[Path | None, typer.Option("--output", "-o", help="Figure to write (.png, .svg or .pdf).")]
HessianLandscapeDevice = device_option(" (the Hessian or its products and the grid's losses; the eigensolver, "
                                       "LAPACK or ARPACK, on the CPU)")


@probe_app.command("hessian-landscape")
@friendly_errors
def hessian_landscape_command(
    store: StorePath,
    trajectory: Annotated[str | None, typer.Option("--trajectory", "-t",
                                                   help="Trajectory (default: the first).")] = None,
    dims: Annotated[int, typer.Option(help="Number of Hessian directions (1-4).")] = 3,
    row: Annotated[int, typer.Option(help="Trajectory row at the centre (negative: from the end).")] = -1,
    resolution: Annotated[int | None, typer.Option(help="Grid points per axis (default 101, 51, 21, 11 for "
                                                   "1-4 dimensions).")] = None,
    span: Annotated[float | None, typer.Option(help="The grid reaches +-span along each unit eigenvector "
                                               "(default 5% of the centre's norm).")] = None,
    loss: Annotated[str | None, typer.Option(help="Loss whose Hessian gives the directions (default: the "
                                             "trajectory's objective).")] = None,
    losses: Annotated[str | None, typer.Option(help="Losses on the grid, comma-separated (default: --loss).")] = None,
    method: Annotated[str, typer.Option(help="auto (exact up to 2,000 parameters), exact or lanczos.")] = "auto",
    name: Annotated[str | None, typer.Option(help="Store as probes/NAME (default hessian-landscape-TRAJ-Dd).")] = None,
    device: HessianLandscapeDevice = "cpu",
    force: Force = False,
) -> None:
    """A d-dimensional landscape along the top-d Hessian eigenvectors at a trajectory point (probes/NAME)."""
    from pinnviz.probes.hessian_landscape import hessian_landscape

    check_device(device)
    run = open_run(store, mode="r+", overwrite=force)
    with err.status("Hessian directions and the grid"):
        result = hessian_landscape(run, trajectory, dims=dims, row=row, resolution=resolution, span=span, loss=loss,
                                   losses=split_names(losses), method=method, name=name, device=device)
    attrs = result["attrs"]
    values = ", ".join(f"{v:.4g}" for v in attrs["eigenvalues"])
    out.print(f"{attrs['trajectory']} step {attrs['step']} ({attrs['loss']}): eigenvalues {values} "
              f"({attrs['method']}); {attrs['points']:,} points, span {attrs['span']:.3g}, "
              f"{attrs['evaluate_seconds']:.1f} s")
    out.print(f"stored in probes/{attrs['name']}")


@probe_app.command("topology")
@friendly_errors
def topology_command(
    store: StorePath,
    landscape: Annotated[str, typer.Option(help="A landscape: landscapes/NAME (2-D) or a d-dim landscape "
                                           "(landscape --dims) in probes/NAME.")],
    loss: Annotated[str | None, typer.Option(help="Which loss of the landscape (default: the objective).")] = None,
    min_persistence: Annotated[float, typer.Option(help="Drop minima of persistence (loss) below this.")] = 0.0,
    connectivity: Annotated[str, typer.Option(help="face (2d neighbours) or full (3^d - 1).")] = "face",
    name: Annotated[str | None, typer.Option(help="Store as probes/NAME (default topology-LANDSCAPE).")] = None,
    figure: FigurePath = None,
    dpi: Annotated[float, typer.Option(help="Resolution of a PNG figure.")] = 100,
    device: Annotated[str, typer.Option("--device", help="cpu only: the merge tree of a stored grid is built "
                                        "in NumPy (no loss is evaluated).")] = "cpu",
    force: Force = False,
) -> None:
    """Merge tree of a landscape's sublevel sets: minima, saddles, basins, persistence, the landscape profile."""
    from pinnviz.probes.topology import landscape_field, topology
    from pinnviz.visualizer._topology import topology_figure

    refuse_device(device, "probe topology", "builds the merge tree of a stored grid in NumPy")
    if figure is not None:
        figure_format(figure)
    run = open_run(store, mode="r+", overwrite=force)
    tree, attrs = topology(run, landscape, loss=loss, connectivity=connectivity, min_persistence=min_persistence,
                           name=name)
    m = attrs["metrics"]
    out.print(f"{landscape} ({attrs['loss']}, {attrs['dims']}-D, {connectivity}): {m['minima']} minima, "
              f"{m['saddles']} saddles at persistence >= {min_persistence:g}; loss {m['loss_min']:.4g} .. "
              f"{m['loss_max']:.4g}; flat fraction {m['flat_fraction']:.3f}, second persistence "
              f"{m['second_persistence']:.3f} of the range")
    out.print(f"stored in probes/{attrs['name']}")
    if figure is not None:
        source = landscape_field(run, landscape, attrs["loss"])
        out.print(f"figure: {save_figure(topology_figure(tree, source), figure, dpi=dpi)}")
