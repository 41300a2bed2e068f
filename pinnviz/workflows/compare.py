"""`compare`: fit what is missing, evaluate every method on one resolution, one figure, one metrics table."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from pinnviz.errors import InvalidSettingError
from pinnviz.landscape import LandscapeData, compute_landscape, landscape_names, load_landscape
from pinnviz.manifolds import MANIFOLDS, fit_manifold, manifold_info, manifold_names
from pinnviz.store import Run
from pinnviz.visualizer import comparison_figure, save_figure

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


def output_folder(path: Path) -> Path:
    """Create and return a folder for images and tables, refusing one inside a Zarr store."""
    path = Path(path)
    for folder in (path, *path.resolve().parents):
        if (folder / "zarr.json").exists():
            raise InvalidSettingError(f"{path} is inside the Zarr store {folder}; write images and tables to "
                                      "another folder (--out)")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fitted_as_wanted(run: Run, name: str, method: str, trajectories: list[str]) -> bool:
    if name not in manifold_names(run):
        return False
    info = manifold_info(run, name)
    return info.get("method") == method and list(info.get("fitted_on", [])) == trajectories


def compare_methods(run: Run, methods: Sequence[str], *, out_dir: Path, losses: Sequence[str] | None = None,
                    trajectories: Sequence[str] | None = None, resolution: int = 100, every: int = 1,
                    tag: str | None = None, fit_options: dict[str, dict] | None = None, refit: bool = False,
                    device: str = "cpu", dtype: str = "float64", image_format: str = "png",
                    max_slow_points: int = 900, log: Log | None = None, progress=None, client=None) -> dict:
    """Fit (where missing), evaluate and draw each method on the same trajectories and resolution.

    Manifolds and landscapes are stored as `<method>` or `<method>-<tag>`. Returns a dict with the
    landscapes, the metrics rows, and the paths of the figure and the tables. With a `distributed.Client`
    each landscape's grid is evaluated in blocks on its workers (`compute_landscape(client=...)`).
    """
    unknown = [m for m in methods if m not in MANIFOLDS]
    if unknown:
        raise InvalidSettingError(f"unknown method {unknown[0]!r}; valid: {', '.join(sorted(MANIFOLDS))}")
    if not methods:
        raise InvalidSettingError("no method to compare; pass --methods pca,autoencoder,...")
    output_folder(out_dir)
    selected = list(trajectories) if trajectories else run.trajectory_names()
    physics = run.physics()
    loss_names = physics.check_names(list(losses) if losses else
                                     sorted({run.trajectory_attrs(t).get("loss", "") for t in selected}
                                            & set(physics.names)) or list(physics.names))
    say = log or (lambda _msg: None)
    datas: dict[str, LandscapeData] = {}
    for method in methods:
        name = f"{method}-{tag}" if tag else method
        if refit or not _fitted_as_wanted(run, name, method, selected):
            _, report = fit_manifold(run, method, selected, every, name,
                                     progress=None, **(fit_options or {}).get(method, {}))
            say(f"fitted {name}: {report['points']} points, mean relative projection error "
                f"{_fmt(report['mean_projection_error'])}, {report['seconds']:.1f} s")
        if not refit and name in landscape_names(run.group) and \
                load_landscape(run.group, name).attrs.get("resolution") in (resolution, None):
            data = load_landscape(run.group, name)
            if set(loss_names) <= set(data.losses):
                datas[method] = data
                say(f"landscape {name}: reused")
                continue
        datas[method] = compute_landscape(run, name, resolution=resolution, losses=loss_names, device=device,
                                          dtype=dtype, name=name, max_slow_points=max_slow_points,
                                          progress=progress, client=client)
        say(f"landscape {name}: {datas[method].attrs['points']} points in {datas[method].attrs['seconds']:.1f} s")
    stem = f"compare-{tag}" if tag else "compare"
    figure = comparison_figure(datas, loss_names)
    figure_path = save_figure(figure, out_dir / f"{stem}.{image_format}")
    rows = metrics_rows(datas, loss_names)
    tables = write_metrics(rows, out_dir / f"{stem}-metrics")
    return {"landscapes": datas, "rows": rows, "figure": figure_path, "tables": tables, "losses": loss_names}
