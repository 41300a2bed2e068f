"""`pinnviz landscape`, `pinnviz compare` and `pinnviz demo`: from fitted manifolds to images."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pinnviz.cli._common import err, friendly_errors, out, split_names, step_progress
from pinnviz.cli.sweep import SchedulerFileOption, SchedulerOption, WorkersOption
from pinnviz.errors import InvalidSettingError
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


@friendly_errors
def landscape_command(
    store: Annotated[Path, typer.Argument(help="A pinnviz store with a fitted manifold.")],
    manifold: Annotated[str, typer.Option("--manifold", "-m", help="Name of the fitted manifold.")],
    resolution: Annotated[int, typer.Option(help="Grid points per latent axis.")] = 100,
    loss: Annotated[str | None, typer.Option(help="Losses to evaluate, comma-separated (default all).")] = None,
    margin: Annotated[float | None, typer.Option(help="Widen the extent by this fraction per side "
                                                    "(default 0.1; 0 for the autoencoder's box).")] = None,
    name: Annotated[str | None, typer.Option(help="Stored landscape name (default: the manifold's).")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    dtype: Annotated[str, typer.Option(help="float64 or float32.")] = "float64",
    chunk: Annotated[int | None, typer.Option(help="Parameter vectors per batch (default: by the "
                                                "number of quadrature points).")] = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    scheduler_file: SchedulerFileOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a stored landscape of that name.")] = False,
) -> None:
    """Decode a latent grid of a fitted manifold, evaluate the losses there, store it with diagnostics.

    With --workers, --scheduler or --scheduler-file the grid is evaluated in blocks on Dask workers.
    """
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
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
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
