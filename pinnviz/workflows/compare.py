"""`compare`: fit what is missing, evaluate every method on one resolution, one figure, one metrics table."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from pinnviz.errors import AlreadyExistsError, InvalidSettingError
from pinnviz.landscape import (
    LandscapeData,
    check_landscape_options,
    compute_landscape,
    landscape_names,
    landscape_staleness,
    load_landscape,
)
from pinnviz.manifolds import MANIFOLDS, fit_manifold, manifold_names, manifold_staleness
from pinnviz.store import Run
from pinnviz.store._names import check_name
from pinnviz.store._paths import writable_folder
from pinnviz.visualizer import comparison_figure, save_figure
from pinnviz.visualizer._export import FORMATS

METRIC_COLUMNS = ["method", "manifold", "trajectory", "points", "e_proj_mean", "e_proj_median", "abs_proj_mean"]

# log(message): one line per finished stage
Log = Callable[[str], None]


def metrics_rows(datas: dict[str, LandscapeData], losses: Sequence[str]) -> list[dict]:
    """One row per (method, trajectory): e_proj and, per loss, e_relative and the range-relative error."""
    rows = []
    for label, data in datas.items():
        for traj, diag in data.trajectories.items():
            summary = diag.summary()
            row = {"method": data.attrs.get("method", label), "manifold": data.attrs.get("manifold", label),
                   "trajectory": traj}
            row.update({k: summary[k] for k in METRIC_COLUMNS[3:]})
            for loss in losses:
                for stat in ("mean", "median"):
                    row[f"e_relative_{loss}_{stat}"] = summary.get(f"e_relative_{loss}_{stat}")
                row[f"e_range_{loss}_mean"] = summary.get(f"e_range_{loss}_mean")
            row["grid"] = f"{len(data.axis_0)}x{len(data.axis_1)}"
            row["notes"] = data.attrs.get("notes", "")
            rows.append(row)
    return rows


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


TRAILING_COLUMNS = ["grid", "notes"]


def metric_columns(rows: list[dict]) -> list[str]:
    """The table's columns: the fixed ones, then each loss's columns together, then grid and notes.

    Rows of different losses (the demo's pinn and drm comparisons) share one table; their loss
    columns are grouped per loss instead of following the order in which rows first named them.
    """
    seen = list(dict.fromkeys(k for r in rows for k in r))
    fixed = [c for c in METRIC_COLUMNS if c in seen] or METRIC_COLUMNS
    middle = [c for c in seen if c not in METRIC_COLUMNS and c not in TRAILING_COLUMNS]
    return fixed + middle + [c for c in TRAILING_COLUMNS if c in seen]


def markdown_table(columns: list[str], rows: list[dict]) -> str:
    """A GitHub-flavoured Markdown table, cells padded so the columns also line up as plain text."""
    cells = [[_fmt(r.get(c)).replace("|", "\\|").replace("\n", " ") for c in columns] for r in rows]
    widths = [max([len(c), 3, *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)]) + "\n"


def write_metrics(rows: list[dict], stem: Path) -> list[Path]:
    """The table as Markdown, CSV and JSON beside each other: `<stem>.md`, `.csv`, `.json`."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    columns = metric_columns(rows)
    md = stem.with_suffix(".md")
    md.write_text(markdown_table(columns, rows))
    csv_path = stem.with_suffix(".csv")
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    json_path = stem.with_suffix(".json")
    json_path.write_text(json.dumps(rows, indent=2))
    return [md, csv_path, json_path]


def check_output_folder(path: Path) -> Path:
    """Refuse, without creating anything, a folder for images and tables that is a file, inside a Zarr
    store, or not writable."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InvalidSettingError(f"--out {path} is a file; give a folder for the figure and the tables")
    for folder in (path, *path.resolve().parents):
        if (folder / "zarr.json").exists():
            raise InvalidSettingError(f"{path} is inside the Zarr store {folder}; write images and tables to "
                                      "another folder (--out)")
    writable_folder(path, "--out")
    return path


def output_folder(path: Path) -> Path:
    """Create and return a folder for images and tables, refusing one inside a Zarr store."""
    path = check_output_folder(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


# manifolds whose fit needs the physics (a Hessian, a Gram null vector): `fit-manifold` stores them, compare
# only reuses them
PHYSICS_METHODS = ("hessian-plane", "trench")


def _requested_resolution(attrs: dict):
    return attrs.get("requested_resolution", attrs.get("resolution"))


def _plan(run: Run, method: str, name: str, selected: list[str], resolution: int, loss_names: list[str], *,
          refit: bool, force: bool) -> tuple[bool, bool, str]:
    """(fit?, compute the landscape?, why) for one method; refuses, before any work, what needs --force."""
    stored = name in manifold_names(run)
    if method in PHYSICS_METHODS:
        if not stored:
            raise InvalidSettingError(f"compare cannot fit {method}; store it first with `pinnviz fit-manifold "
                                      f"{run.path} --method {method} --name {name}`")
        if refit:
            raise InvalidSettingError(f"--refit cannot fit {method}; fit it again with `pinnviz fit-manifold "
                                      f"--method {method} --force`")
    fit, why = refit, "--refit" if refit else ""
    if stored and not fit and method not in PHYSICS_METHODS:
        info = dict(run.group[f"manifolds/{name}"].attrs)
        fitted_on = list(info.get("fitted_on", []))
        if info.get("method") != method or fitted_on != selected:
            if not force:
                raise AlreadyExistsError(
                    f"manifold {name!r} is stored as {info.get('method')} fitted on {', '.join(fitted_on)}, not as "
                    f"{method} on {', '.join(selected)}; pass --force to replace it, or --tag to keep both")
            fit, why = True, "--force"
        elif manifold_staleness(run, name):
            fit, why = True, f"stale: {manifold_staleness(run, name)}"
    elif not stored:
        fit, why = True, "missing"
    if fit or name not in landscape_names(run.group):
        return fit, True, why or "missing"
    attrs = dict(run.group[f"landscapes/{name}"].attrs)
    stale = landscape_staleness(run, attrs)
    if stale:
        return fit, True, f"stale: {stale}"
    kept = _requested_resolution(attrs)
    if kept not in (resolution, None) or not set(loss_names) <= set(attrs.get("losses", [])):
        if not force:
            raise AlreadyExistsError(
                f"landscape {name!r} is stored at resolution {kept} with losses {', '.join(attrs.get('losses', []))}"
                f"; compare asks for {resolution} with {', '.join(loss_names)}: pass --force to replace it, or "
                "--tag to keep both")
        return fit, True, "--force"
    return fit, False, "reused"


def compare_methods(run: Run, methods: Sequence[str], *, out_dir: Path, losses: Sequence[str] | None = None,
                    trajectories: Sequence[str] | None = None, resolution: int = 100, every: int = 1,
                    tag: str | None = None, fit_options: dict[str, dict] | None = None, refit: bool = False,
                    force: bool = False, device: str = "cpu", dtype: str = "float64", image_format: str = "png",
                    max_slow_points: int = 900, log: Log | None = None, progress=None, client=None) -> dict:
    """Fit (where missing), evaluate and draw each method on the same trajectories and resolution.

    Manifolds and landscapes are stored as `<method>` or `<method>-<tag>`. Every option is checked before
    anything is computed or written. A stale landscape (its manifold refitted, a trajectory changed) is
    computed again; replacing a manifold fitted on other trajectories, or a landscape of another
    resolution or other losses, needs `force`. Returns a dict with the landscapes, the metrics rows, and
    the paths of the figure and the tables. With a `distributed.Client` each landscape's grid is
    evaluated in blocks on its workers (`compute_landscape(client=...)`).
    """
    methods = list(methods)
    unknown = [m for m in methods if m not in MANIFOLDS]
    if unknown:
        raise InvalidSettingError(f"unknown method {unknown[0]!r}; valid: {', '.join(sorted(MANIFOLDS))}")
    if not methods:
        raise InvalidSettingError("no method to compare; pass --methods pca,autoencoder,...")
    twice = sorted({m for m in methods if methods.count(m) > 1})
    if twice:
        raise InvalidSettingError(f"method {twice[0]!r} is named twice in --methods {','.join(methods)}")
    if image_format.lower() not in FORMATS.values():
        raise InvalidSettingError(f"--format {image_format!r} must be one of {', '.join(FORMATS.values())}")
    if not isinstance(every, int) or every < 1:
        raise InvalidSettingError(f"every={every} must be an integer >= 1")
    if tag is not None:
        check_name("--tag", tag)
    check_output_folder(out_dir)
    selected = list(trajectories) if trajectories else run.trajectory_names()
    if not selected:
        raise InvalidSettingError(f"{run.path} holds no trajectories; train one first")
    for traj in selected:
        run.trajectory_group(traj)  # an unknown name raises, listing the valid ones
    physics = run.physics()
    loss_names = physics.check_names(list(losses) if losses else
                                     sorted({run.trajectory_attrs(t).get("loss", "") for t in selected}
                                            & set(physics.names)) or list(physics.names))
    names = {method: f"{method}-{tag}" if tag else method for method in methods}
    plans = {}
    for method, name in names.items():
        check_name("manifold", name)
        fit, evaluate, why = _plan(run, method, name, selected, resolution, loss_names, refit=refit, force=force)
        if evaluate:  # the manifold's own checks only where it is not about to be fitted
            check_landscape_options(run, None if fit else name, resolution=resolution, losses=loss_names,
                                    margin=None, device=device, dtype=dtype, chunk=None, name=name, save=False)
        plans[method] = (fit, evaluate, why)
    output_folder(out_dir)

    say = log or (lambda _msg: None)
    datas: dict[str, LandscapeData] = {}
    previous, run.overwrite = run.overwrite, True  # every replacement was allowed by the plan above
    try:
        for method, name in names.items():
            fit, evaluate, why = plans[method]
            if fit:
                _, report = fit_manifold(run, method, selected, every, name,
                                         progress=None, **(fit_options or {}).get(method, {}))
                say(f"fitted {name} ({why}): {report['points']} points, mean relative projection error "
                    f"{_fmt(report['mean_projection_error'])}, {report['seconds']:.1f} s")
            if not evaluate:
                datas[method] = load_landscape(run.group, name)
                say(f"landscape {name}: reused")
                continue
            datas[method] = compute_landscape(run, name, resolution=resolution, losses=loss_names, device=device,
                                              dtype=dtype, name=name, max_slow_points=max_slow_points,
                                              progress=progress, client=client)
            say(f"landscape {name} ({why}): {datas[method].attrs['points']} points in "
                f"{datas[method].attrs['seconds']:.1f} s")
    finally:
        run.overwrite = previous
    stem = f"compare-{tag}" if tag else "compare"
    figure = comparison_figure(datas, loss_names)
    figure_path = save_figure(figure, out_dir / f"{stem}.{image_format.lower()}")
    rows = metrics_rows(datas, loss_names)
    tables = write_metrics(rows, out_dir / f"{stem}-metrics")
    return {"landscapes": datas, "rows": rows, "figure": figure_path, "tables": tables, "losses": loss_names}
