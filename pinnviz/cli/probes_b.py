"""`pinnviz probe basis | goldilocks | intrinsic-dim | trajectory-pca | acceleration | bad-minima`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pinnviz.cli._common import err, friendly_errors, out, split_names
from pinnviz.cli.probe import probe_app
from pinnviz.errors import InvalidSettingError
from pinnviz.landscape import load_landscape
from pinnviz.probes._store import load_probe
from pinnviz.store import open_run
from pinnviz.visualizer import save_figure
from pinnviz.visualizer._export import figure_format

StorePath = Annotated[Path, typer.Argument(help="A pinnviz store (run.zarr).")]
FigurePath = Annotated[Path | None, typer.Option("--output", "-o", help="Figure to write (.png, .svg or .pdf).")]
TrajectoryName = Annotated[str | None, typer.Option("--trajectory", "-t",
                                                    help="Trajectory to probe (default: the store's first).")]
LossNames = Annotated[str | None, typer.Option("--loss", help="Losses, comma-separated (default: the objectives "
                                               "of the store's trajectories).")]
Dpi = Annotated[float, typer.Option(help="Resolution of a PNG figure.")]


def open_for_probe(store: Path, figure: Path | None):
    """The store opened for writing; a bad figure suffix is rejected before any computation."""
    if figure is not None:
        figure_format(figure)
    return open_run(store, mode="r+")


def numbers(text: str | None, what: str, kind=float) -> list | None:
    """Comma-separated numbers, or an InvalidSettingError naming the option."""
    if text is None:
        return None
    try:
        values = [kind(v) for v in split_names(text)]
    except ValueError:
        raise InvalidSettingError(f"{what}={text!r} must be comma-separated {kind.__name__} values") from None
    if not values:
        raise InvalidSettingError(f"{what}={text!r} holds no value")
    return values


def default_losses(run, text: str | None) -> list[str]:
    """--loss, else the objectives the store's trajectories were trained on, else the problem's default."""
    physics = run.physics()
    names = split_names(text)
    if not names:
        names = sorted({run.trajectory_attrs(t).get("loss") for t in run.trajectory_names()} - {None})
    if not names:
        names = [physics.problem.default_loss]
    return physics.check_names(names)


def finish(fig, figure: Path | None, dpi: float, name: str) -> None:
    out.print(f"stored in probes/{name}")
    if figure is not None:
        out.print(f"figure: {save_figure(fig, figure, dpi=dpi)}")


@probe_app.command("basis")
@friendly_errors
def basis_command(
    store: StorePath,
    trajectory: TrajectoryName = None,
    step: Annotated[int, typer.Option(help="Row of the trajectory (negative: from the end).")] = -1,
    tolerance: Annotated[float, typer.Option(help="Rank: eigenvalues above this times the largest.")] = 1e-12,
    span: Annotated[float, typer.Option(help="Half-width of the trench plane (unit directions).")] = 2.0,
    resolution: Annotated[int, typer.Option(help="Grid points per axis of the trench plane.")] = 41,
    seed: Annotated[int, typer.Option(help="Seed of the random direction.")] = 0,
    no_landscape: Annotated[bool, typer.Option("--no-landscape", help="Skip the trench plane.")] = False,
    figure: FigurePath = None,
    dpi: Dpi = 100,
) -> None:
    """Learned basis functions, the rank of their Gram matrix and the null-direction "trench" (paper 2.6)."""
    from pinnviz.probes.basis import basis
    from pinnviz.visualizer._probes_b import basis_figure

    run = open_for_probe(store, figure)
    result = basis(run, trajectory, step=step, tolerance=tolerance, span=span, resolution=resolution, seed=seed,
                   landscape=not no_landscape)
    attrs = result["attrs"]
    out.print(f"{attrs['trajectory']} ({attrs['loss']}), step {attrs['step']}: Gram rank {attrs['rank']} of "
              f"{attrs['width']} (tolerance {attrs['tolerance']:g}); loss change along [Delta, 0]: "
              f"{attrs['null_relative_change']:.2e} (relative)")
    name = f"basis-{attrs['trajectory']}"
    landscape = load_landscape(run.group, attrs["landscape"]) if attrs["landscape"] else None
    finish(basis_figure(load_probe(run, name), landscape), figure, dpi, name)



@probe_app.command("trajectory-pca")
@friendly_errors
def trajectory_pca_command(
    store: StorePath,
    trajectory: TrajectoryName = None,
    resolution: Annotated[int, typer.Option(help="Grid points per axis of each plane.")] = 41,
    no_landscape: Annotated[bool, typer.Option("--no-landscape", help="Only the explained variance.")] = False,
    figure: FigurePath = None,
    dpi: Dpi = 100,
) -> None:
    """Explained variance of the trajectory's principal components; contours on planes (1,2), (1,3), (2,3) (2.9)."""
    from pinnviz.probes.trajectory_pca import trajectory_pca
    from pinnviz.visualizer._probes_b import trajectory_pca_figure

    run = open_for_probe(store, figure)
    with err.status("principal planes and their landscapes"):
        result = trajectory_pca(run, trajectory, resolution=resolution, landscape=not no_landscape)
    attrs = result["attrs"]
    ratios = ", ".join(f"{100 * r:.1f}%" for r in attrs["ratios"][:3])
    out.print(f"{attrs['trajectory']} ({attrs['loss']}): explained variance of PC1-3 {ratios}; "
              f"PC1+PC2 {100 * attrs['first_two']:.1f}%")
    name = f"trajectory-pca-{attrs['trajectory']}"
    planes = {p: load_landscape(run.group, p) for p in attrs["planes"]}
    finish(trajectory_pca_figure(load_probe(run, name), planes), figure, dpi, name)


@probe_app.command("acceleration")
@friendly_errors
def acceleration_command(
    store: StorePath,
    trajectories: Annotated[str | None, typer.Option("--trajectories", "-t", help="Trajectories, comma-separated "
                                                     "(default: every trajectory of the store).")] = None,
    lr: Annotated[float | None, typer.Option(help="Pseudo-time step (default: each trajectory's lr).")] = None,
    figure: FigurePath = None,
    dpi: Dpi = 100,
) -> None:
    """|theta''| and |theta''| / |theta'|^2 along trajectories, by finite differences (paper 2.10, eq. 6)."""
    from pinnviz.probes.acceleration import acceleration
    from pinnviz.visualizer._probes_b import acceleration_figure

    run = open_for_probe(store, figure)
    names = split_names(trajectories) or run.trajectory_names()
    probes = []
    for traj in names:
        attrs = acceleration(run, traj, lr=lr)["attrs"]
        out.print(f"{traj}: |theta''| {attrs['acceleration_first']:.3g} (start) -> {attrs['acceleration_last']:.3g} "
                  f"(end); median |theta''|/|theta'|^2 {attrs['normalised_median']:.3g}")
        probes.append(load_probe(run, f"acceleration-{traj}"))
    if not probes:
        raise InvalidSettingError(f"{run.path} holds no trajectory; train one first")
    finish(acceleration_figure(probes), figure, dpi, ", ".join(f"acceleration-{t}" for t in names))
