"""`pinnviz landscape`, `pinnviz compare` and `pinnviz demo`: from fitted manifolds to images."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pinnviz.cli._common import check_device, device_option, err, friendly_errors, out, split_names, step_progress
from pinnviz.cli.sweep import SchedulerFileOption, SchedulerOption, WorkersOption
from pinnviz.errors import InvalidSettingError, unknown_name
from pinnviz.landscape import compute_landscape
from pinnviz.store import open_run
from pinnviz.workflows import compare_methods, run_demo


@contextmanager
def stage_progress():
    """A transient bar per stage (decode, evaluate, diagnostics); yields progress(stage, done, total)."""
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress


def metrics_table(rows: list[dict], losses: list[str], title: str) -> Table:
    table = Table(title=title)
    columns = ["method", "trajectory", "points", "grid", "e_proj mean", "e_proj median"]
    for loss in losses:
        columns += [f"e_rel {loss} mean", f"e_rel {loss} median", f"e_range {loss} mean"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("method", "trajectory") else "right")
    for r in rows:
        cells = [r["method"], r["trajectory"], str(r["points"]), r["grid"], f"{r['e_proj_mean']:.3g}",
                 f"{r['e_proj_median']:.3g}"]
        for loss in losses:
            cells += [f"{r[f'e_relative_{loss}_mean']:.3g}", f"{r[f'e_relative_{loss}_median']:.3g}",
                      f"{r[f'e_range_{loss}_mean']:.3g}"]
        table.add_row(*cells)
    return table


def _maybe_dask(workers: int | None, scheduler: str | None, scheduler_file: Path | None):
    """A Dask client when one of the options asks for it; else nothing (the grid is evaluated here)."""
    from pinnviz.sweep import check_cluster_options, dask_client

    check_cluster_options(workers, scheduler, scheduler_file)
    if workers in (None, 0) and scheduler is None and scheduler_file is None:
        return nullcontext()
    return dask_client(workers, scheduler, scheduler_file)


def _manifold_unless_dims(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """--manifold stays required (at parse time, as before) unless --dims asks for a direction landscape.

    Click processes the options given on the command line first, so --dims is known here whenever it
    was given; when neither was, --manifold (declared before --dims) is processed first and is missing.
    """
    if value is None and ctx.params.get("dims") is None and not ctx.resilient_parsing:
        raise typer.core._click.exceptions.MissingParameter(ctx=ctx, param=param)
    return value


DIMS_PANEL = "d-dimensional landscapes (--dims)"
LandscapeDevice = device_option(" (decoding the grid and its losses; with --dims the Hessian and the grid, the "
                                "eigensolvers and a PCA's eigenvectors on the CPU)")
CompareDevice = device_option(" (the autoencoder fit and every landscape; the other fits on the CPU)")
DIMS_ONLY = ("directions", "trajectory", "at", "span", "method", "seed")
MANIFOLD_ONLY = ("margin", "workers", "scheduler", "scheduler_file")


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)  # typer's own click may have its own ParameterSource enum
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


@friendly_errors
def landscape_command(
    ctx: typer.Context,
    store: Annotated[Path, typer.Argument(help="A pinnviz store with a fitted manifold.")],
    manifold: Annotated[str | None, typer.Option("--manifold", "-m", help="Name of the fitted manifold.",
                                                 callback=_manifold_unless_dims)] = None,
    resolution: Annotated[int, typer.Option(help="Grid points per latent axis (with --dims: per axis, default "
                                            "101, 51, 21, 11 for 1-4 dimensions).")] = 100,
    loss: Annotated[str | None, typer.Option(help="Losses to evaluate, comma-separated (default all; with --dims "
                                             "the trajectory's objective).")] = None,
    margin: Annotated[float | None, typer.Option(help="Widen the extent by this fraction per side "
                                                    "(default 0.1; 0 for the autoencoder's box).")] = None,
    name: Annotated[str | None, typer.Option(help="Stored landscape name (default: the manifold's; with --dims "
                                             "probes/DIRECTIONS-landscape-TRAJ-Dd).")] = None,
    device: LandscapeDevice = "cpu",
    dtype: Annotated[str, typer.Option(help="float64 or float32.")] = "float64",
    chunk: Annotated[int | None, typer.Option(help="Parameter vectors per batch (default: by the "
                                                "number of quadrature points).")] = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    scheduler_file: SchedulerFileOption = None,
    dims: Annotated[int | None, typer.Option(help="A d-dimensional grid (1-4) around a trajectory's vector "
                                             "instead of a manifold's latent plane.", rich_help_panel=DIMS_PANEL)
                    ] = None,
    directions: Annotated[str, typer.Option(help="hessian (top-d Hessian eigenvectors), random (filter-normalised, "
                                            "Li et al. 2018) or pca (top-d principal components of the "
                                            "trajectory).", rich_help_panel=DIMS_PANEL)] = "hessian",
    trajectory: Annotated[str | None, typer.Option("--trajectory", "-t", help="The trajectory whose vector is "
                                                   "the centre.", rich_help_panel=DIMS_PANEL)] = None,
    at: Annotated[int | None, typer.Option(help="The stored step at the centre (default: the last row).",
                                           rich_help_panel=DIMS_PANEL)] = None,
    span: Annotated[float | None, typer.Option(help="Axes run over [-span, span] (default: 5% of the centre's "
                                               "norm for hessian and pca, 0.05 for random).",
                                               rich_help_panel=DIMS_PANEL)] = None,
    method: Annotated[str, typer.Option(help="Hessian: auto (exact up to 2,000 parameters), exact or lanczos.",
                                        rich_help_panel=DIMS_PANEL)] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the random directions.", rich_help_panel=DIMS_PANEL)] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace a stored landscape of that name.")] = False,
) -> None:
    """Decode a latent grid of a fitted manifold, evaluate the losses there, store it with diagnostics.

    With --workers, --scheduler or --scheduler-file the grid is evaluated in blocks on Dask workers.
    With --dims D (and --directions, --trajectory) it is a D-dimensional grid around the trajectory's vector
    along Hessian, random or PCA directions, stored in probes/NAME for `pinnviz probe topology`.
    """
    check_device(device)
    if dims is not None:
        _dims_landscape(ctx, store, dims=dims, directions=directions, trajectory=trajectory, at=at, span=span,
                        resolution=resolution if _given(ctx, "resolution") else None, loss=loss, method=method,
                        seed=seed, dtype=dtype, device=device, chunk=chunk, name=name, force=force)
        return
    given = [_option(n) for n in DIMS_ONLY if _given(ctx, n)]
    if given:
        raise InvalidSettingError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for a d-dimensional "
                                  "landscape (--dims); a manifold's landscape takes --manifold")
    run = open_run(store, mode="r+", overwrite=force)
    with _maybe_dask(workers, scheduler, scheduler_file) as client, stage_progress() as progress:
        data = compute_landscape(run, manifold, resolution=resolution, losses=split_names(loss), margin=margin,
                                 device=device, dtype=dtype, chunk=chunk, name=name, progress=progress, client=client)
    from pinnviz.workflows import metrics_rows

    losses = data.attrs["losses"]
    out.print(metrics_table(metrics_rows({data.name: data}, losses), losses, f"{store}: landscapes/{data.name}"))
    out.print(f"{data.attrs['points']} grid points: decoded in {data.attrs['decode_seconds']:.2f} s, losses "
              f"in {data.attrs['evaluate_seconds']:.2f} s ({device}, {dtype})")
    if data.attrs.get("notes"):
        out.print(f"note: {data.attrs['notes']}")
    out.print(f"stored in {store}/landscapes/{data.name}; draw it with: pinnviz render {store} --landscape {data.name}")


def _dims_landscape(ctx: typer.Context, store: Path, *, dims: int, directions: str, trajectory: str | None,
                    at: int | None, span: float | None, resolution: int | None, loss: str | None, method: str,
                    seed: int, dtype: str, device: str, chunk: int | None, name: str | None, force: bool) -> None:
    """`landscape --dims`: every option checked before the store is opened for writing, then the grid."""
    from pinnviz.probes.direction_landscape import check_dims_options, direction_landscape
    from pinnviz.probes.hessian_landscape import METHODS

    clash = [_option(n) for n in ("manifold", *MANIFOLD_ONLY) if _given(ctx, n)]
    if clash:
        verb, them = ("is an option", "it") if len(clash) == 1 else ("are options", "them")
        raise InvalidSettingError(f"--dims makes a landscape around a trajectory's vector; {', '.join(clash)} "
                                  f"{verb} of a manifold's landscape: leave {them} out")
    check_dims_options(dims, directions, resolution, span)
    if method not in METHODS:
        raise unknown_name("Hessian method (--method)", method, METHODS)
    if chunk is not None and chunk < 1:
        raise InvalidSettingError(f"chunk={chunk} must be an integer >= 1 (parameter vectors per batch)")
    if trajectory is None:
        raise InvalidSettingError("--dims needs --trajectory: the trajectory whose vector is the centre")
    losses = split_names(loss)
    if losses is not None and len(set(losses)) != len(losses):
        raise InvalidSettingError(f"--loss {loss} names a loss twice")
    if losses is not None and not losses:
        raise InvalidSettingError("the loss selection is empty; name at least one loss, e.g. --loss pinn")
    run = open_run(store, mode="r+", overwrite=force)
    with stage_progress() as progress:
        result = direction_landscape(run, trajectory, dims=dims, directions=directions, step=at, resolution=resolution,
                                     span=span, losses=losses, method=method, seed=seed, dtype=dtype, chunk=chunk,
                                     device=device, name=name,
                                     progress=lambda done, total: progress("evaluate", done, total))
    attrs = result["attrs"]
    detail = {"hessian": lambda: "eigenvalues " + ", ".join(f"{v:.4g}" for v in attrs["eigenvalues"])
              + f" ({attrs['method']})",
              "random": lambda: f"seed {attrs['seed']}, filter-normalised",
              "pca": lambda: "explained variance " + ", ".join(f"{v:.3g}" for v in attrs["explained_variance_ratio"])}
    out.print(f"{attrs['trajectory']} step {attrs['step']}: {dims} {directions} directions, "
              f"{detail[directions]()}; {attrs['points']:,} points, span {attrs['span']:.3g}, "
              f"{attrs['evaluate_seconds']:.2f} s")
    for grid_loss in attrs["losses"]:
        grid = result[f"loss/{grid_loss}"]
        centre = f" (centre {grid[tuple(s // 2 for s in grid.shape)]:.4g})" if attrs["resolution"] % 2 else ""
        out.print(f"{grid_loss}: {np.nanmin(grid):.4g} .. {np.nanmax(grid):.4g}{centre}")
    out.print(f"stored in {store}/probes/{attrs['name']}; its merge tree: pinnviz probe topology {store} "
              f"--landscape {attrs['name']}")


@friendly_errors
def compare_command(
    store: Annotated[Path, typer.Argument(help="A pinnviz store.")],
    methods: Annotated[str, typer.Option(help="Comma-separated methods.")] = "pca,random,kpca,umap,autoencoder",
    loss: Annotated[str | None, typer.Option(help="Losses, comma-separated (default: the objectives).")] = None,
    trajectories: Annotated[str | None, typer.Option(help="Trajectories to fit on (default all).")] = None,
    resolution: Annotated[int, typer.Option(help="Grid points per latent axis, the same for every method.")] = 100,
    every: Annotated[int, typer.Option(help="Fit on every N-th stored step.")] = 1,
    tag: Annotated[str | None, typer.Option(help="Suffix of the stored names (method-TAG).")] = None,
    refit: Annotated[bool, typer.Option(help="Fit and evaluate again even where stored.")] = False,
    ae_seconds: Annotated[float, typer.Option(help="Time budget of the autoencoder fit.")] = 30.0,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the figure and tables.")] = Path("."),
    image_format: Annotated[str, typer.Option("--format", help="png, svg or pdf.")] = "png",
    device: CompareDevice = "cpu",
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    scheduler_file: SchedulerFileOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace stored manifolds fitted on other trajectories "
                                        "and landscapes of another resolution.")] = False,
) -> None:
    """Fit what is missing, evaluate every method on one grid, write one figure and a metrics table.

    With --workers, --scheduler or --scheduler-file each grid is evaluated in blocks on Dask workers.
    Stale landscapes (their manifold was refitted) are computed again.
    """
    check_device(device)
    if not ae_seconds > 0 or ae_seconds == float("inf"):
        raise InvalidSettingError(f"--ae-seconds {ae_seconds} must be a finite number > 0")
    run = open_run(store, mode="r+")
    with _maybe_dask(workers, scheduler, scheduler_file) as client, stage_progress() as progress:
        result = compare_methods(
            run, split_names(methods) or [], out_dir=out_dir, losses=split_names(loss), force=force,
            trajectories=split_names(trajectories), resolution=resolution, every=every, tag=tag, refit=refit,
            fit_options={"autoencoder": {"seconds": ae_seconds, "epochs": 1_000_000, "device": device}},
            device=device, image_format=image_format, log=lambda m: err.print(m, highlight=False),
            progress=progress, client=client)
    out.print(metrics_table(result["rows"], result["losses"], f"{store}: e_proj and e_relative"))
    for path in [result["figure"], *result["tables"]]:
        out.print(f"wrote {path}")


@friendly_errors
def demo_command(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the store, images and tables.")] = Path(
        "demo-out"),
    quick: Annotated[bool, typer.Option(help="Small settings (seconds, for tests), not the paper's.")] = False,
) -> None:
    """The whole story on the default Poisson problem: train drm and pinn, fit every method, render, tabulate."""
    with step_progress("train", None) as train_progress, stage_progress() as progress:
        made = run_demo(out_dir, quick=quick, log=lambda m: err.print(m, highlight=False),
                        train_progress=train_progress, progress=progress)
    rows = [r for r in __import__("json").loads((out_dir / "metrics.json").read_text())]
    losses = sorted({k[len("e_relative_"):-len("_mean")] for r in rows for k in r
                     if k.startswith("e_relative_") and k.endswith("_mean") and r[k] is not None})
    for loss in losses:
        subset = [r for r in rows if r.get(f"e_relative_{loss}_mean") is not None]
        out.print(metrics_table(subset, [loss], f"{loss} trajectory"))
    for path in made:
        out.print(f"wrote {path}")
    out.print(f"browse it all: pinnviz serve {out_dir}")
