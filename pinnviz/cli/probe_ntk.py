"""`pinnviz probe ntk run.zarr [more.zarr ...]`: NTK traces, spectra and Delta K(t) along a trajectory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pinnviz.cli._common import Force, check_device, device_option, friendly_errors, out
from pinnviz.cli.probe import probe_app
from pinnviz.store import open_run
from pinnviz.visualizer import save_figure
from pinnviz.visualizer._export import figure_format
from pinnviz.visualizer._ntk import ntk_figure

NtkDevice = device_option(" (the Jacobians and K = J J^T; K's eigenvalues and norms on the CPU)")


@probe_app.command("ntk")
@friendly_errors
def ntk_command(
    stores: Annotated[list[Path], typer.Argument(help="One or more stores (one line each in the figure).")],
    trajectory: Annotated[str | None, typer.Option(help="Trajectory (default: each store's first).")] = None,
    every: Annotated[int | None, typer.Option(help="Probe every N-th stored row (default: ~20 rows).")] = None,
    points: Annotated[int, typer.Option(help="Collocation points and constraint points in the seeded "
                                        "subset.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the point subset.")] = 0,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the figure here "
                                                "(.png, .svg or .pdf).")] = None,
    device: NtkDevice = "cpu",
    force: Force = False,
) -> None:
    """NTK blocks K_uu, K_rr at logged steps: traces, eigenvalues, Delta K(t) (stored in probes/ntk-NAME)."""
    from pinnviz.probes.ntk import ntk

    check_device(device)
    if output is not None:
        figure_format(output)
    results = []
    for store in stores:
        run = open_run(store, mode="r+", overwrite=force)
        result = ntk(run, trajectory, every=every, points=points, seed=seed, device=device)
        label = f"{result['problem']} width {result['width']} depth {result['depth']}"
        results.append((label, result))
        out.print(f"{store}: {result['name']}  Delta K(end) = {result['delta'][-1]:.3g}  "
                  f"Tr K_rr/Tr K_uu (end) = {result['trace_rr'][-1] / result['trace_uu'][-1]:.3g}")
    if output is not None:
        path = save_figure(ntk_figure(results), output)
        out.print(f"figure written to {path}")
