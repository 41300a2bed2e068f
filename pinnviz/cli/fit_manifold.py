"""`pinnviz fit-manifold`: fit a 2-D projection (pca, random, kpca, umap, autoencoder) on stored trajectories."""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pinnviz.cli._common import check_device, err, friendly_errors, out, split_names
from pinnviz.devices import DEVICE_FORMS
from pinnviz.errors import InvalidSettingError
from pinnviz.manifolds import MANIFOLDS, fit_manifold, manifold_class
from pinnviz.manifolds._fit import select_points
from pinnviz.store import open_run
from pinnviz.store._names import check_name

AE = "Autoencoder"
OTHER = "Other methods"

# which CLI option feeds which constructor argument of which method
_OPTION_METHODS = {
    "anchor": ("anchor", {"autoencoder"}),
    "anchor_weight": ("anchor_weight", {"autoencoder"}),
    "grid_scale": ("grid_scale", {"autoencoder"}),
    "grid_weight": ("grid_weight", {"autoencoder"}),
    "spacing_weight": ("spacing_weight", {"autoencoder"}),
    "epochs": ("epochs", {"autoencoder"}),
    "seconds": ("seconds", {"autoencoder"}),
    "lr": ("lr", {"autoencoder"}),
    "hidden": ("hidden", {"autoencoder"}),
    "patience": ("patience", {"autoencoder"}),
    "threads": ("threads", {"autoencoder"}),
    "subspace": ("subspace", {"autoencoder"}),
    "gamma": ("gamma", {"kpca"}),
    "alpha": ("alpha", {"kpca"}),
    "n_neighbors": ("n_neighbors", {"umap"}),
    "min_dist": ("min_dist", {"umap"}),
    "normalise": ("normalise", {"random"}),
    "span": ("span", {"trench"}),
}


def _hyper(method: str, options: dict) -> dict:
    hyper = {}
    for option, value in options.items():
        if value is None:
            continue
        key, methods = _OPTION_METHODS[option]
        if method not in methods:
            flag = "--" + option.replace("_", "-")
            raise InvalidSettingError(f"{flag} applies to {', '.join(sorted(methods))}, not to --method {method}")
        hyper[key] = value
    return hyper


@contextmanager
def _fit_progress(method: str):
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(f"fit {method}", total=None if method != "autoencoder" else 1000, info="")

        def progress(fraction: float, epoch: int, losses: dict) -> None:
            info = f"epoch {epoch} " + " ".join(f"{k}={v:.3g}" for k, v in losses.items())
            bar.update(task, completed=int(1000 * fraction), info=info)

        yield progress


PHYSICS_METHODS = ("hessian-plane", "trench")  # planes made from the physics at the trajectory's last row


def _physics_plane(run, method: str, selection: list[str] | None, loss: str | None, every: int):
    """The one trajectory and the directions a hessian-plane or trench manifold is fitted with."""
    names = selection or run.trajectory_names()[:1]
    if len(names) != 1:
        raise InvalidSettingError(f"--method {method} is fitted on one trajectory; pass --trajectories NAME "
                                  f"(got {len(names)}: {', '.join(names) or 'none'})")
    select_points(run, names, every)  # unknown, empty or non-finite trajectories fail before any Hessian
    if method == "hessian-plane":
        from pinnviz.probes.hessian_plane import hessian_plane

        plane, _ = hessian_plane(run, names[0], loss=loss, save=False)
        return names, {"center": plane.center_, "directions": plane.directions_,
                       "eigenvalues": [float(v) for v in plane.eigenvalues]}
    from pinnviz.probes.basis import basis

    result = basis(run, names[0], landscape=False, save=False)
    return names, {"direction": result["null_direction"]}


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3g}"


@friendly_errors
def fit_manifold_command(
    store: Annotated[Path, typer.Argument(help="A pinnviz store (run.zarr).")],
    method: Annotated[str, typer.Option(help=f"Projection: {', '.join(MANIFOLDS)}.")] = "pca",
    trajectories: Annotated[str | None, typer.Option(help="Comma-separated trajectories fitted together "
                                                        "(default: all).")] = None,
    every: Annotated[int, typer.Option(help="Fit on every N-th stored row (and the last).")] = 1,
    name: Annotated[str | None, typer.Option(help="Name under manifolds/ (default: the method).")] = None,
    seed: Annotated[int, typer.Option(help="Seed (random, kpca, umap, autoencoder).")] = 0,
    anchor: Annotated[str | None, typer.Option(help="none, polar, center or circle.", rich_help_panel=AE)] = None,
    anchor_weight: Annotated[float | None, typer.Option(help="Weight of the anchoring loss (10).",
                                                           rich_help_panel=AE)] = None,
    grid_scale: Annotated[float | None, typer.Option(help="Zoom s of the grid-scaling loss (off by default); "
                                                        "larger zooms in on the trajectory.",
                                                      rich_help_panel=AE)] = None,
    grid_weight: Annotated[float | None, typer.Option(help="Weight of the grid-scaling loss (0.01).",
                                                         rich_help_panel=AE)] = None,
    spacing_weight: Annotated[float | None, typer.Option(help="Weight of the trajectory-spacing loss (0).",
                                                            rich_help_panel=AE)] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs (2000).", rich_help_panel=AE)] = None,
    seconds: Annotated[float | None, typer.Option(help="Time budget in seconds; the learning-rate schedule "
                                                     "is sized to it.", rich_help_panel=AE)] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate (1e-3).", rich_help_panel=AE)] = None,
    hidden: Annotated[str | None, typer.Option(help="Encoder hidden widths, e.g. 122,31,8 (default: "
                                                  "geometric from P to 2).", rich_help_panel=AE)] = None,
    patience: Annotated[int | None, typer.Option(help="Early stopping: epochs without improvement (300).",
                                                    rich_help_panel=AE)] = None,
    subspace: Annotated[int | None, typer.Option(help="Fit in the top-K principal subspace (0: on the full "
                                                 "vectors; default: K=64 above 20,000 parameters, else 0).",
                                                 rich_help_panel=AE)] = None,
    device: Annotated[str, typer.Option("--device", help=f"Torch device: {DEVICE_FORMS} (autoencoder; pca's "
                                        "snapshot Gram products; other methods run on the CPU).",
                                        rich_help_panel=AE)] = "cpu",
    threads: Annotated[int | None, typer.Option(help="torch CPU threads while training (1 is faster on a busy "
                                                "machine).", rich_help_panel=AE)] = None,
    gamma: Annotated[float | None, typer.Option(help="kpca: rbf gamma (default 1/P).",
                                                   rich_help_panel=OTHER)] = None,
    alpha: Annotated[float | None, typer.Option(help="kpca: pre-image ridge alpha (1).",
                                                   rich_help_panel=OTHER)] = None,
    n_neighbors: Annotated[int | None, typer.Option(help="umap: n_neighbors (15).", rich_help_panel=OTHER)] = None,
    min_dist: Annotated[float | None, typer.Option(help="umap: min_dist (0.1).", rich_help_panel=OTHER)] = None,
    through: Annotated[str | None, typer.Option(help="random: the trajectory whose last point the plane "
                                                   "passes through (default: the first).",
                                                   rich_help_panel=OTHER)] = None,
    normalise: Annotated[str | None, typer.Option(help="random: filter, layer or none (filter).",
                                                     rich_help_panel=OTHER)] = None,
    span: Annotated[float | None, typer.Option(help="trench: half-width of the plane (unit directions, 2).",
                                               rich_help_panel=OTHER)] = None,
    loss: Annotated[str | None, typer.Option(help="hessian-plane: the loss whose Hessian is used (default: "
                                             "the trajectory's objective).",
                                             rich_help_panel=OTHER)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a stored manifold of that name (its "
                                        "landscapes become stale).")] = False,
) -> None:
    """Fit a 2-D manifold on trajectories of a store and save it under manifolds/NAME.

    hessian-plane (the top two Hessian eigenvectors at the trajectory's last row) and trench (the basis
    functions' Gram null direction and a random direction) are fitted on one trajectory."""
    check_device(device)
    cls = manifold_class(method)  # an unknown method fails before the store is read
    widths = None
    if hidden is not None:
        try:
            widths = [int(w) for w in split_names(hidden) or []]
        except ValueError:
            raise InvalidSettingError(f"--hidden {hidden!r} must be comma-separated integers, e.g. 122,31,8") from None
    hyper = _hyper(method, {
        "anchor": anchor, "anchor_weight": anchor_weight, "grid_scale": grid_scale, "grid_weight": grid_weight,
        "spacing_weight": spacing_weight, "epochs": epochs, "seconds": seconds, "lr": lr, "hidden": widths,
        "patience": patience, "threads": threads, "gamma": gamma, "alpha": alpha, "n_neighbors": n_neighbors,
        "min_dist": min_dist, "subspace": subspace,
        "normalise": normalise,
    })
    if method in ("autoencoder", "pca"):
        hyper["device"] = device
    elif device != "cpu":
        raise InvalidSettingError(f"--device applies to autoencoder and pca, not to --method {method}")
    if method == "autoencoder" and seconds is not None and epochs is None:
        hyper["epochs"] = None  # the time budget alone sizes the schedule
    if "seed" in cls.hyper_names():
        hyper["seed"] = seed
    if through is not None and method != "random":
        raise InvalidSettingError(f"--through applies to random, not to --method {method}")
    if loss is not None and method != "hessian-plane":
        raise InvalidSettingError(f"--loss applies to hessian-plane, not to --method {method}")
    if span is not None and not (math.isfinite(span) and span > 0):
        raise InvalidSettingError(f"--span {span} must be a finite number > 0")
    run = open_run(store, mode="r+", overwrite=force)
    selection = split_names(trajectories)
    if method in PHYSICS_METHODS:
        check_name("manifold", name or method)
        run.check_overwrite("manifold", name or method)
        selection, physics_hyper = _physics_plane(run, method, selection, loss, every)
        hyper.update(physics_hyper)
    with _fit_progress(method) as progress:
        _, report = fit_manifold(run, method, selection, every, name, through=through,
                                 progress=progress, **hyper)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(title=f"{store}: manifolds/{report['name']}")
    for column in ("method", "points fitted", "mean rel. projection error", "held-out error", "seconds"):
        table.add_column(column, justify="left" if column == "method" else "right")
    table.add_row(method, str(report["points"]), _fmt(report["mean_projection_error"]),
                  _fmt(report["heldout_projection_error"]), f"{report['seconds']:.1f}")
    out.print(table)
    if report["undecodable_points"] or report["undecodable_heldout_points"]:
        err.print(f"[yellow]warning:[/] {method} cannot decode {report['undecodable_points']} of "
                  f"{report['points']} fitted and {report['undecodable_heldout_points']} of "
                  f"{report['heldout_points']} held-out codes (outside its embedding); they are left out of the "
                  f"errors, and decode() returns NaN there", highlight=False)
    if method == "autoencoder":
        anchors = ", ".join(f"{d:.3f}" for d in report["anchor_distances"]) or "-"
        out.print(f"epochs {report['epochs']} (best {report['best_epoch']}, stopped: {report['stopped']}); "
                  f"anchor distances {anchors}; grid concentration {report['grid_concentration']:.3g}")
    if report.get("subspace"):
        out.print(f"fitted in the top-{report['subspace']} principal subspace: mean relative subspace residual "
                  f"{report['subspace_residual']:.3g} (the floor of the projection error, measured on full vectors)")
    if method == "pca":
        ratios = ", ".join(f"{r:.3f}" for r in report["explained_variance_ratio"][:4])
        out.print(f"explained variance ratio: {ratios}, ...")
    out.print(f"stored in {Path(store).resolve()}/manifolds/{report['name']}")
