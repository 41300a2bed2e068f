"""`pinnviz info`: what a store holds."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pinnviz.cli._common import err, fit_width, friendly_errors, out
from pinnviz.store._meta import SCHEMA, LocalMeta, display_status, last_losses

RESULT_KINDS = ("manifolds", "landscapes", "probes")


def trajectory_summary(name: str, attrs: dict, rows: int, last_step: int | None, final: dict) -> dict:
    """Settings, rows, status and final losses of one trajectory (JSON-ready)."""
    return {
        "name": name,
        "status": display_status(attrs),
        "rows": int(rows),
        "last_step": last_step,
        "steps": attrs.get("steps"),
        "loss": attrs.get("loss"),
        "optimizer": attrs.get("optimizer"),
        "lr": attrs.get("lr"),
        "seed": attrs.get("seed"),
        "init_scale": attrs.get("init_scale"),
        "final_losses": dict(sorted(final.items())),
        **({"failure": attrs["failure"]} if "failure" in attrs else {}),
    }


def stored_trajectory_summary(run, name: str) -> dict:
    """`trajectory_summary` of a trajectory read through zarr (its step and loss arrays, never its vectors)."""
    traj = run.trajectory(name, params=False)  # the vectors may be GBs
    n = len(traj.steps)
    final = {k: float(v[-1]) for k, v in traj.losses.items()} if n else {}
    return trajectory_summary(name, traj.attrs, n, int(traj.steps[-1]) if n else None, final)


def _model_summary(model: dict) -> dict:
    summary = {k: v for k, v in model.items() if k != "layout"}
    summary["params"] = sum(math.prod(e["shape"]) for e in model.get("layout", []))
    return summary


def run_summary(run) -> dict:
    """Everything `info` shows of an opened store (JSON-ready)."""
    from pinnviz.store._manage import names_of

    return {
        "path": str(run.path),
        "schema": run.group.attrs["pinnviz"]["schema"],
        "problem": run.problem,
        "model": _model_summary(run.model),
        "trajectories": [stored_trajectory_summary(run, n) for n in run.trajectory_names()],
        **{kind: [details(dict(run.group[f"{kind}/{n}"].attrs), kind, n) for n in names_of(run, kind)]
           for kind in RESULT_KINDS},
    }


def metadata_summary(store: Path) -> tuple[dict, list[str]] | None:
    """`run_summary` and the foreign entries of a local store read from its JSON metadata alone (no zarr),
    or None when the metadata does not say everything (then the store is read through zarr)."""
    if "://" in str(store):
        return None
    meta = LocalMeta(store)
    try:
        attrs = meta.attrs()
        schema = attrs["pinnviz"]["schema"]
        settings_ok = isinstance(attrs.get("problem"), dict) and isinstance(attrs.get("model"), dict)
        if int(schema) > SCHEMA or not settings_ok:
            return None  # the zarr reader says what is wrong
        trajectories, foreign = [], []
        for name in meta.groups("trajectories"):
            if not meta.has(f"trajectories/{name}/params"):
                foreign.append(f"trajectories/{name}")
                continue
            t = meta.attrs(f"trajectories/{name}")
            n = int(t.get("length", 0))
            if n and "last_losses" not in t:  # written before the writer recorded its last row
                return None
            final = last_losses(t) if n else {}
            trajectories.append(trajectory_summary(name, t, n, int(t["last_step"]) if n else None, final))
        results = {kind: [details(meta.attrs(f"{kind}/{n}"), kind, n) for n in meta.groups(kind)]
                   for kind in RESULT_KINDS}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    summary = {"path": str(store), "schema": schema, "problem": attrs["problem"],
               "model": _model_summary(attrs["model"]), "trajectories": trajectories, **results}
    return summary, foreign


_SOURCES = ("fitted_on", "manifold", "trajectory", "trajectories", "landscape")


def details(attrs: dict, kind: str, name: str) -> dict:
    """What `info` says about a manifold, landscape or probe: its kind, settings and what it was computed from."""
    info = {"name": name}
    if kind == "manifolds":
        report = attrs.get("report") or {}
        info.update(method=attrs.get("method"), every=attrs.get("every"), seed=attrs.get("seed"),
                    points=report.get("points"), mean_projection_error=report.get("mean_projection_error"))
    elif kind == "landscapes":
        info.update(method=attrs.get("method"), resolution=attrs.get("resolution"), losses=attrs.get("losses"),
                    margin=attrs.get("margin"), notes=attrs.get("notes") or None)
    else:
        info["probe"] = attrs.get("probe") or attrs.get("kind")
    info.update({key: attrs[key] for key in _SOURCES if attrs.get(key)})
    if attrs.get("created"):
        info["created"] = attrs["created"]
    return {k: v for k, v in info.items() if v is not None}


def _detail_line(info: dict) -> str:
    shown = []
    for key, value in info.items():
        if key == "name":
            continue
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        elif isinstance(value, float):
            value = f"{value:.3g}"
        shown.append(f"{key.replace('_', ' ')}: {value}")
    return f"  [bold]{info['name']}[/]  " + "; ".join(shown)


# (header, required, keep priority: higher stays longer when the terminal is narrow)
_COLUMNS = [("trajectory", True, 9), ("objective", False, 4), ("optimizer", False, 2), ("seed", False, 5),
            ("status", True, 9), ("rows", False, 1), ("step", False, 7)]
_BORDER = 3  # a column's padding and rule in rich's default box


def fit_columns(headers: list[str], cells: list[list[str]], keep: list[int], required: list[bool],
                width: int) -> list[int]:
    """Indices of the columns that fit in `width` characters at full cell width, in table order.

    The lowest `keep` of the optional columns go first; required ones (a trajectory's name, its status)
    always stay, so a narrow terminal loses columns, never the text that tells rows apart.
    """
    widths = [max([len(h), *(len(row[i]) for row in cells)]) + _BORDER for i, h in enumerate(headers)]
    shown = list(range(len(headers)))
    for i in sorted((i for i in shown if not required[i]), key=lambda i: (keep[i], -i)):
        if sum(widths[j] for j in shown) + 1 <= width:
            break
        shown.remove(i)
    return shown


def print_trajectory_table(rows: list[dict], title: str | None = None) -> None:
    """One row per trajectory summary; columns that do not fit the terminal are left out (and said so)."""
    loss_names = sorted({k for r in rows for k in r["final_losses"]})
    objectives = {r["loss"] for r in rows}
    headers = [c[0] for c in _COLUMNS] + [f"final {loss}" for loss in loss_names]
    required = [c[1] for c in _COLUMNS] + [False] * len(loss_names)
    keep = [c[2] for c in _COLUMNS] + [8 if loss in objectives else 3 for loss in loss_names]
    cells = []
    for r in rows:
        step = f"{r['last_step']}/{r['steps']}" if r["last_step"] is not None else f"-/{r['steps']}"
        row = [r["name"], str(r["loss"]), str(r["optimizer"]), str(r["seed"]), r["status"], str(r["rows"]), step]
        cells.append(row + [f"{r['final_losses'][k]:.4g}" if k in r["final_losses"] else "" for k in loss_names])
    shown = fit_columns(headers, cells, keep, required, out.width)
    table = Table(title=title)
    for i in shown:
        table.add_column(headers[i], justify="right" if i >= len(_COLUMNS) else "left", overflow="fold")
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    out.print(table)
    left_out = [headers[i] for i in range(len(headers)) if i not in shown]
    if left_out:
        out.print(f"(hidden at {out.width} columns: {', '.join(left_out)}; --json shows all)",
                  highlight=False)


@friendly_errors
def info_command(
    store: Annotated[Path, typer.Argument(help="A pinnviz store (run.zarr).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the problem, the model and every trajectory, manifold, landscape and probe of a store."""
    fit_width(out)  # COLUMNS as it is now (a long-lived process may run several commands)
    read = metadata_summary(store)
    if read is None:
        from pinnviz.store import open_run

        run = open_run(store)
        read = run_summary(run), run.foreign_entries()
    summary, foreign = read
    for entry in foreign:  # e.g. left by an old pinnviz that accepted a name with '/'
        err.print(f"[yellow]warning:[/] skipped {entry} of {store}: not a trajectory (no params array)",
                  highlight=False, soft_wrap=True)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    problem = ", ".join(f"{k}={v}" for k, v in summary["problem"].items())
    m = summary["model"]
    out.print(f"[bold]{store}[/] (schema {summary['schema']})")
    out.print(f"problem: {problem}")
    out.print(f"model: {m['inputs']}-" + "-".join([str(m["width"])] * m["depth"]) +
              f"-{m['outputs']} {m['activation']} MLP, bc={m['bc']}, output_bias={m['output_bias']}, "
              f"{m['params']} parameters")
    if summary["trajectories"]:
        print_trajectory_table(summary["trajectories"])
    else:
        out.print("no trajectories")
    for kind in ("manifolds", "landscapes", "probes"):
        if summary[kind]:
            out.print(f"{kind}:")
            for info in summary[kind]:
                out.print(_detail_line(info), highlight=False)
