"""`pinnviz probe mli | hessian-walk | mode-connectivity | random-planes | spectrum | hessian-plane`."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pinnviz.cli._common import (
    Force,
    check_device,
    device_option,
    err,
    friendly_errors,
    out,
    split_names,
    step_progress,
)
from pinnviz.cli.probe import probe_app
from pinnviz.cli.sweep import SchedulerFileOption, SchedulerOption, WorkersOption
from pinnviz.errors import InvalidSettingError
from pinnviz.probes import (
    hessian_plane,
    hessian_walk,
    load_probe,
    mli,
    mode_connectivity,
    random_planes,
    spectrum,
)
from pinnviz.probes.mli import check_mli, plan_mli_ensembles, train_mli_ensembles
from pinnviz.probes.random_planes import check_random_planes
from pinnviz.store import open_run
from pinnviz.store._names import check_name
from pinnviz.visualizer import save_figure
from pinnviz.visualizer._export import figure_format
from pinnviz.visualizer._probes_a import (
    hessian_walk_figure,
    mli_figure,
    mode_connectivity_figure,
    random_planes_figure,
    spectrum_figure,
)

Store = Annotated[Path, typer.Argument(help="A pinnviz store (run.zarr).")]
Figure = Annotated[Path | None, typer.Option("--output", "-o", help="Write the figure here (.png, .svg or .pdf).")]
Trajectories = Annotated[str | None, typer.Option("--trajectories", "-t",
                                                  help="Trajectories, comma-separated (default: the first).")]
Loss = Annotated[str | None, typer.Option(help="Loss to probe (default: each trajectory's objective).")]
LossDevice = device_option(" (losses; ensemble training with --scales)")
HessianDevice = device_option(" (Hessians or their products, and losses; the eigensolvers, LAPACK or ARPACK, on "
                              "the CPU)")
PathDevice = device_option(" (the Bezier fit and the paths' losses)")
PlaneDevice = device_option(" (losses; directions and Monte Carlo points drawn on the CPU)")


@contextmanager
def bar(description: str):
    """A transient rich bar; yields progress(done, total)."""
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(description, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def _open(store: Path, figure: Path | None, force: bool = False):
    if figure is not None:
        figure_format(figure)  # a bad suffix fails now, not after the computation
    return open_run(store, mode="r+", overwrite=force)


def _trajectories(run, text: str | None, count: int | None = None) -> list[str]:
    names = split_names(text) or run.trajectory_names()[: count or 1]
    if not names:
        raise InvalidSettingError(f"{run.path} holds no trajectories; train one first")
    for name in names:
        run.trajectory_group(name)  # an unknown name raises, listing the valid ones
    return names


def _write(fig, figure: Path | None) -> None:
    if figure is not None:
        out.print(f"figure: {save_figure(fig, figure)}")


def _floats(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in split_names(text)]
    except ValueError:
        raise InvalidSettingError(f"{what}={text!r} must be comma-separated numbers") from None


@probe_app.command("mli")
@friendly_errors
def mli_command(
    store: Store,
    trajectories: Annotated[str | None, typer.Option("--trajectories", "-t",
                                                     help="Trajectories (default: all, or the trained ensembles).")]
    = None,
    scales: Annotated[str | None, typer.Option(help="Train ensembles at these initial scales first (e.g. 1,2,5); "
                                                    "ensembles already stored are reused.")] = None,
    losses: Annotated[str, typer.Option(help="Losses of the ensembles to train.")] = "drm,pinn",
    seeds: Annotated[int, typer.Option(help="Seeds per ensemble.")] = 10,
    steps: Annotated[int, typer.Option(help="Training steps of the ensembles.")] = 7500,
    lr: Annotated[float, typer.Option(help="Adam learning rate of the ensembles.")] = 1e-3,
    log_every: Annotated[int, typer.Option(help="Store every N-th training step.")] = 250,
    points: Annotated[int, typer.Option(help="Interpolation points alpha in [0, 1].")] = 51,
    tolerance: Annotated[float, typer.Option(help="Largest rise, relative to a curve's range, still monotonic.")]
    = 1e-6,
    device: LossDevice = "cpu",
    figure: Figure = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    scheduler_file: SchedulerFileOption = None,
    force: Force = False,
) -> None:
    """Monotonic linear interpolation (section 2.1): loss from initial to final parameters, per trajectory.

    With --workers, --scheduler or --scheduler-file each ensemble of --scales is trained by a Dask worker and
    the curves are evaluated in shares there.
    """
    from pinnviz.cli.landscape import _maybe_dask

    check_device(device)
    run = _open(store, figure, force)
    names = split_names(trajectories)
    scale_list = _floats(scales, "scales")
    ensembles = {"losses": split_names(losses) or [], "scales": scale_list, "seeds": seeds, "steps": steps,
                 "lr": lr, "log_every": log_every, "device": device}
    if scale_list:  # the ensembles' trajectories are checked after they are trained
        check_mli(run, [], points=points, empty=True)
        plan_mli_ensembles(run, **ensembles)
    else:
        names = check_mli(run, names, points=points)  # before a cluster is started
    with _maybe_dask(workers, scheduler, scheduler_file) as client:
        if scale_list:
            with step_progress("training ensembles") as progress:
                trained = train_mli_ensembles(run, progress=None if client is not None else progress, client=client,
                                              **ensembles)
            names = names or trained
        result = mli(run, names, points=points, tolerance=tolerance, device=device, client=client)
    out.print(f"{result['n_monotonic']} of {result['n_curves']} curves decrease monotonically")
    for loss in sorted(set(result["losses"])):
        for scale in sorted(set(result["scale"].tolist())):
            rows = [k for k, v in enumerate(result["losses"]) if v == loss and result["scale"][k] == scale]
            if rows:
                out.print(f"  {loss}, init x{scale:g}: {int(result['monotonic'][rows].sum())}/{len(rows)}")
    out.print(f"stored in {store}/probes/mli")
    _write(mli_figure(load_probe(run, "mli")), figure)


@probe_app.command("hessian-walk")
@friendly_errors
def hessian_walk_command(
    store: Store,
    trajectories: Trajectories = None,
    eta: Annotated[float, typer.Option(help="Step size.")] = 1.0,
    steps: Annotated[int, typer.Option(help="Number of steps.")] = 500,
    loss: Loss = None,
    device: HessianDevice = "cpu",
    figure: Figure = None,
    force: Force = False,
) -> None:
    """Hessian walk (section 2.2): steps along the smallest-|eigenvalue| eigenvector from the final point."""
    check_device(device)
    run = _open(store, figure, force)
    stored = []
    for traj in _trajectories(run, trajectories):
        with bar(f"walk {traj}") as progress:
            result = hessian_walk(run, traj, eta=eta, steps=steps, loss=loss, device=device, progress=progress)
        out.print(f"{traj} ({result['objective']}): |theta_f| = {result['theta_norm']:.4g}, travelled "
                  f"{result['distance'].max():.4g}, max |loss change| {abs(result['change']).max():.3g} "
                  f"({result['seconds']:.1f} s); stored in {store}/probes/{result['name']}")
        stored.append(load_probe(run, result["name"]))
    _write(hessian_walk_figure(stored), figure)


@probe_app.command("mode-connectivity")
@friendly_errors
def mode_connectivity_command(
    store: Store,
    trajectories: Annotated[str | None, typer.Option("--trajectories", "-t",
                                                     help="Pairs of trajectories, comma-separated (a,b[,c,d...]); "
                                                          "default: the first two.")] = None,
    loss: Loss = None,
    iterations: Annotated[int, typer.Option(help="L-BFGS evaluations for the control point.")] = 500,
    nodes: Annotated[int, typer.Option(help="Midpoint nodes in t for equation (5).")] = 32,
    points: Annotated[int, typer.Option(help="Points in t where the paths are drawn.")] = 101,
    device: PathDevice = "cpu",
    figure: Figure = None,
    force: Force = False,
) -> None:
    """Mode connectivity (section 2.3): straight and quadratic Bezier paths between two solutions."""
    check_device(device)
    run = _open(store, figure, force)
    names = _trajectories(run, trajectories, count=2)
    if trajectories is None and len(names) < 2:
        raise InvalidSettingError(f"mode-connectivity needs two trajectories and {store} holds only "
                                  f"{', '.join(names)}; train another seed (pinnviz train --seed 1 --out {store})")
    if len(names) % 2 or not names:
        raise InvalidSettingError(f"--trajectories needs pairs of trajectories, got {len(names)}: {', '.join(names)}")
    stored = []
    for first, second in zip(names[::2], names[1::2], strict=True):
        with bar(f"Bezier {first} - {second}") as progress:
            result = mode_connectivity(run, first, second, loss=loss, iterations=iterations, nodes=nodes,
                                       points=points, device=device, progress=progress)
        out.print(f"{first} - {second} ({result['loss']}): barrier straight {result['barrier_straight']:.4g}, "
                  f"Bezier {result['barrier_curved']:.4g}; stored in {store}/probes/{result['name']}")
        stored.append(load_probe(run, result["name"]))
    _write(mode_connectivity_figure(stored), figure)


@probe_app.command("random-planes")
@friendly_errors
def random_planes_command(
    store: Store,
    trajectories: Trajectories = None,
    at: Annotated[str, typer.Option(help="Centre: the trajectory's final or initial point.")] = "final",
    pairs: Annotated[int, typer.Option(help="Planes (pairs of random directions).")] = 9,
    resolution: Annotated[int, typer.Option(help="Grid points per axis.")] = 31,
    extent: Annotated[float, typer.Option(help="Coordinates in [-extent, extent].")] = 1.0,
    loss: Annotated[str | None, typer.Option(help="Losses, comma-separated (default: the objective).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the first plane.")] = 0,
    stochastic: Annotated[int | None, typer.Option(help="Re-draw B Monte Carlo points at every evaluation.")]
    = None,
    device: PlaneDevice = "cpu",
    figure: Figure = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    scheduler_file: SchedulerFileOption = None,
    force: Force = False,
) -> None:
    """Random planes (sections 2.4, 2.5): the loss on planes of filter-normalised random directions.

    With --workers, --scheduler or --scheduler-file the grid vectors are evaluated in shares on Dask workers.
    """
    from pinnviz.cli.landscape import _maybe_dask

    check_device(device)
    run = _open(store, figure, force)
    traj = _trajectories(run, trajectories)[0]
    options = {"at": at, "pairs": pairs, "resolution": resolution, "extent": extent, "losses": split_names(loss),
               "stochastic": stochastic}
    check_random_planes(run, traj, **options)  # before a cluster is started
    with _maybe_dask(workers, scheduler, scheduler_file) as client:
        result = random_planes(run, traj, seed=seed, device=device, client=client, **options)
    for name, value in result["variance"].items():
        out.print(f"integrand variance of {name} at the centre: {value:.4g}")
    out.print(f"stored in {store}/probes/{result['name']}")
    _write(random_planes_figure(load_probe(run, result["name"])), figure)


@probe_app.command("spectrum")
@friendly_errors
def spectrum_command(
    store: Store,
    trajectories: Trajectories = None,
    every: Annotated[int, typer.Option(help="Every N-th stored row (and the last).")] = 1,
    loss: Loss = None,
    activation: Annotated[str | None, typer.Option(help="Retrain with this activation first (x+tanh: the "
                                                        "non-saturating check).")] = None,
    lanczos: Annotated[bool, typer.Option(help="Only the smallest and largest eigenvalue (and the spectral norm), "
                                               "by Lanczos on Hessian-vector products: no P x P Hessian, for wide "
                                               "networks (the NTK paper's figure 1b).")] = False,
    device: HessianDevice = "cpu",
    figure: Figure = None,
    force: Force = False,
) -> None:
    """Hessian spectrum (section 2.6) at stored rows of a trajectory."""
    check_device(device)
    run = _open(store, figure, force)
    stored = []
    for traj in _trajectories(run, trajectories):
        with bar(f"spectrum {traj}") as progress:
            result = spectrum(run, traj, every=every, loss=loss, activation=activation, device=device,
                              progress=progress, lanczos=lanczos)
        eig = result["eigenvalues"][-1]
        if lanczos:
            norms = ", ".join(f"{s}: {v:.4g}" for s, v in zip(result["step"], result["spectral_norm"], strict=True))
            out.print(f"{traj} ({result['loss']}, {result['activation']}, Lanczos): Hessian spectral norm at step "
                      f"{norms}; stored in {store}/probes/{result['name']}")
            stored.append(load_probe(run, result["name"]))
            continue
        near_zero = int((abs(eig) < 1e-3 * abs(eig).max()).sum())
        out.print(f"{traj} ({result['loss']}, {result['activation']}): final largest {eig[-1]:.4g}, most negative "
                  f"{eig[0]:.4g}, {near_zero}/{len(eig)} with |lambda| < 1e-3 max; stored in {store}/probes/"
                  f"{result['name']}")
        stored.append(load_probe(run, result["name"]))
    _write(spectrum_figure(stored), figure)


@probe_app.command("hessian-plane")
@friendly_errors
def hessian_plane_command(
    store: Store,
    trajectories: Trajectories = None,
    row: Annotated[int, typer.Option(help="Row of the trajectory at the plane's centre (-1: last).")] = -1,
    loss: Loss = None,
    name: Annotated[str, typer.Option(help="Stored manifold name.")] = "hessian-plane",
    device: HessianDevice = "cpu",
    force: Force = False,
) -> None:
    """The plane of the two largest-eigenvalue Hessian eigenvectors at a point, stored as a manifold."""
    check_device(device)
    run = open_run(store, mode="r+", overwrite=force)
    check_name("manifold", name)
    run.check_overwrite("manifold", name)  # before the Hessian is computed
    traj = _trajectories(run, trajectories)[0]
    _, report = hessian_plane(run, traj, row=row, loss=loss, name=name, device=device)
    out.print(f"eigenvalues {report['eigenvalues'][0]:.4g}, {report['eigenvalues'][1]:.4g}; mean projection error "
              f"of {traj}: {report['mean_projection_error']:.3g}")
    out.print(f"stored in {store}/manifolds/{name}; draw it with: pinnviz landscape {store} --manifold {name}")
