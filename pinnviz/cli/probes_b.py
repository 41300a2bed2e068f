"""`pinnviz probe basis | goldilocks | intrinsic-dim | trajectory-pca | acceleration | bad-minima`."""

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
from pinnviz.cli.sweep import SchedulerFileOption, SchedulerOption, WorkersOption
from pinnviz.devices import DEVICE_FORMS
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
TrainingDevice = device_option(" (the batched trainings; initialisations drawn on the CPU)")


def open_for_probe(store: Path, figure: Path | None, force: bool = False):
    """The store opened for writing; a bad figure suffix is rejected before any computation."""
    if figure is not None:
        figure_format(figure)
    return open_run(store, mode="r+", overwrite=force)


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
    device: Annotated[str, typer.Option("--device", help=f"Torch device: {DEVICE_FORMS} (basis functions and "
                                        "losses; the Gram matrix and its eigenvectors on the CPU).")] = "cpu",
    figure: FigurePath = None,
    dpi: Dpi = 100,
    force: Force = False,
) -> None:
    """Learned basis functions, the rank of their Gram matrix and the null-direction "trench" (paper 2.6)."""
    from pinnviz.probes.basis import basis
    from pinnviz.visualizer._probes_b import basis_figure

    check_device(device)
    run = open_for_probe(store, figure, force)
    result = basis(run, trajectory, step=step, tolerance=tolerance, span=span, resolution=resolution, seed=seed,
                   landscape=not no_landscape, device=device)
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
    device: Annotated[str, typer.Option("--device", help=f"Torch device: {DEVICE_FORMS} (the planes' "
                                        "landscapes; the PCA is NumPy's SVD on the CPU).")] = "cpu",
    figure: FigurePath = None,
    dpi: Dpi = 100,
    force: Force = False,
) -> None:
    """Explained variance of the trajectory's principal components; contours on planes (1,2), (1,3), (2,3) (2.9)."""
    from pinnviz.probes.trajectory_pca import trajectory_pca
    from pinnviz.visualizer._probes_b import trajectory_pca_figure

    check_device(device)
    run = open_for_probe(store, figure, force)
    with err.status("principal planes and their landscapes"):
        result = trajectory_pca(run, trajectory, resolution=resolution, landscape=not no_landscape, device=device)
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
    device: Annotated[str, typer.Option("--device", help="cpu only: finite differences of stored vectors in "
                                        "NumPy (no loss is evaluated).")] = "cpu",
    figure: FigurePath = None,
    dpi: Dpi = 100,
    force: Force = False,
) -> None:
    """|theta''| and |theta''| / |theta'|^2 along trajectories, by finite differences (paper 2.10, eq. 6)."""
    from pinnviz.probes.acceleration import acceleration
    from pinnviz.visualizer._probes_b import acceleration_figure

    refuse_device(device, "probe acceleration", "takes finite differences of the stored vectors in NumPy")
    run = open_for_probe(store, figure, force)
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


Steps = Annotated[int, typer.Option(help="Optimizer steps.")]
Lr = Annotated[float, typer.Option(help="Learning rate.")]
Seed = Annotated[int, typer.Option(help="Seed of the first initialisation.")]
LogEvery = Annotated[int, typer.Option(help="Record the loss every N steps.")]


def step_bar(description: str):
    """A transient rich bar over optimizer steps; yields progress(step, total)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn(description), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeElapsedColumn(), console=err, transient=True)
    task = progress.add_task(description, total=None)
    return progress, lambda step, total: progress.update(task, completed=step, total=total)


@probe_app.command("goldilocks")
@friendly_errors
def goldilocks_command(
    store: StorePath,
    loss: LossNames = None,
    radii: Annotated[str, typer.Option(help="Hypersphere radii, comma-separated.")] = "1,2,5,10,15,20,30,50,75,100",
    trials: Annotated[int, typer.Option(help="Initialisations per radius (and per scale).")] = 5,
    scales: Annotated[str, typer.Option(help="Initial scales of the unconstrained runs.")] = "0.01,0.5,1",
    steps: Steps = 5000,
    free_steps: Annotated[int | None, typer.Option(help="Steps of the unconstrained runs (default --steps).")] = None,
    lr: Lr = 1e-3,
    seed: Seed = 0,
    log_every: LogEvery = 50,
    device: TrainingDevice = "cpu",
    figure: FigurePath = None,
    dpi: Dpi = 100,
    force: Force = False,
) -> None:
    """Adam confined to hyperspheres of given radii, and free parameter norms from scaled inits (paper 2.7)."""
    from pinnviz.probes.goldilocks import goldilocks
    from pinnviz.visualizer._probes_b import goldilocks_figure

    check_device(device)
    run = open_for_probe(store, figure, force)
    losses = default_losses(run, loss)
    bar, progress = step_bar("goldilocks")
    with bar:
        result = goldilocks(run, losses, radii=numbers(radii, "--radii"), trials=trials,
                            scales=numbers(scales, "--scales"), steps=steps, free_steps=free_steps, lr=lr,
                            seed=seed, log_every=log_every, device=device, progress=progress)
    attrs = result["attrs"]
    for name, info in attrs["summary"].items():
        finals = ", ".join(f"R={r:g}: {v:.3g}" for r, v in zip(attrs["radii"], info["median_final"], strict=True))
        norms = ", ".join(f"x{s:g}: {a:.3g} -> {b:.3g}" for s, a, b in
                          zip(attrs["scales"], info["free_norm_start"], info["free_norm_end"], strict=True))
        out.print(f"{name}: median final loss {finals}; best radius {info['best_radius']:g}")
        out.print(f"{name}: free |theta| {norms}")
    finish(goldilocks_figure(load_probe(run, "goldilocks")), figure, dpi, "goldilocks")


@probe_app.command("intrinsic-dim")
@friendly_errors
def intrinsic_dim_command(
    store: StorePath,
    loss: LossNames = None,
    dims: Annotated[str, typer.Option(help="Subspace dimensions, comma-separated.")] = "2,5,10,20,50",
    steps: Steps = 20000,
    lr: Lr = 1e-3,
    seed: Seed = 0,
    no_reference: Annotated[bool, typer.Option("--no-reference", help="Skip the full-space run.")] = False,
    log_every: LogEvery = 100,
    device: TrainingDevice = "cpu",
    figure: FigurePath = None,
    dpi: Dpi = 100,
    force: Force = False,
) -> None:
    """Training in random affine subspaces theta_0 + A w of given dimensions, against full training (2.8)."""
    from pinnviz.probes.intrinsic_dim import intrinsic_dim
    from pinnviz.visualizer._probes_b import intrinsic_dim_figure

    check_device(device)
    run = open_for_probe(store, figure, force)
    losses = default_losses(run, loss)
    bar, progress = step_bar("intrinsic-dim")
    with bar:
        result = intrinsic_dim(run, losses, dims=numbers(dims, "--dims", int), steps=steps, lr=lr, seed=seed,
                               reference=not no_reference, log_every=log_every, device=device, progress=progress)
    attrs = result["attrs"]
    for name, info in attrs["summary"].items():
        finals = ", ".join(f"d={d}: {v:.4g}" for d, v in zip(attrs["dims"], info["final"], strict=True))
        ref = f"; full: {info['reference_final']:.4g}" if "reference_final" in info else ""
        out.print(f"{name}: final loss {finals}{ref}")
    finish(intrinsic_dim_figure(load_probe(run, "intrinsic-dim")), figure, dpi, "intrinsic-dim")


@probe_app.command("bad-minima")
@friendly_errors
def bad_minima_command(
    store: StorePath,
    loss: LossNames = None,
    widths: Annotated[str, typer.Option(help="Hidden widths, comma-separated.")] = "20,5",
    optimizers: Annotated[str, typer.Option(help="Optimizers, comma-separated (adam, sgd).")] = "adam,sgd",
    runs: Annotated[int, typer.Option(help="Initialisations per (loss, width, optimizer).")] = 10,
    steps: Steps = 5000,
    lr: Lr = 1e-3,
    seed: Seed = 0,
    log_every: LogEvery = 25,
    device: TrainingDevice = "cpu",
    figure: FigurePath = None,
    dpi: Dpi = 100,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    scheduler_file: SchedulerFileOption = None,
    force: Force = False,
) -> None:
    """Adam and plain gradient descent, several widths, many runs each: loss curves (paper 2.11).

    With --workers, --scheduler or --scheduler-file each (width, optimizer) is one task on Dask workers.
    """
    from pinnviz.cli.landscape import _maybe_dask
    from pinnviz.probes.bad_minima import bad_minima, check_bad_minima
    from pinnviz.visualizer._probes_b import bad_minima_figure

    check_device(device)
    run = open_for_probe(store, figure, force)
    losses = default_losses(run, loss)
    width_list, optimizer_list = numbers(widths, "--widths", int), split_names(optimizers) or []
    check_bad_minima(run, losses, widths=width_list, optimizers=optimizer_list, runs=runs)  # before a cluster
    bar, progress = step_bar("bad-minima")
    with _maybe_dask(workers, scheduler, scheduler_file) as client, bar:
        result = bad_minima(run, losses, widths=width_list,
                            optimizers=optimizer_list, runs=runs, steps=steps, lr=lr, seed=seed,
                            log_every=log_every, device=device, progress=None if client is not None else progress,
                            client=client)
    for key, info in result["attrs"]["summary"].items():
        out.print(f"{key}: final loss min {info['min']:.4g}, median {info['median']:.4g}, max {info['max']:.4g}")
    finish(bad_minima_figure(load_probe(run, "bad-minima")), figure, dpi, "bad-minima")
