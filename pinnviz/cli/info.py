"""`pinnviz info`: what a store holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from pinnviz.cli._common import friendly_errors, out
from pinnviz.store import Run, display_status, open_run


def trajectory_summary(run: Run, name: str) -> dict:
    """Settings, rows, status and final losses of one trajectory (JSON-ready)."""
    traj = run.trajectory(name)
    attrs = traj.attrs
    final = {k: float(v[-1]) for k, v in traj.losses.items()} if len(traj.steps) else {}
    return {
        "name": name,
        "status": display_status(attrs),
        "rows": int(len(traj.steps)),
        "last_step": int(traj.steps[-1]) if len(traj.steps) else None,
        "steps": attrs.get("steps"),
        "loss": attrs.get("loss"),
        "optimizer": attrs.get("optimizer"),
        "lr": attrs.get("lr"),
        "seed": attrs.get("seed"),
        "init_scale": attrs.get("init_scale"),
        "final_losses": final,
        **({"failure": attrs["failure"]} if "failure" in attrs else {}),
    }


def run_summary(run: Run) -> dict:
    model = {k: v for k, v in run.model.items() if k != "layout"}
    model["params"] = sum(int(np.prod(e["shape"])) for e in run.model.get("layout", []))
    return {
        "path": str(run.path),
        "schema": run.group.attrs["pinnviz"]["schema"],
        "problem": run.problem,
        "model": model,
        "trajectories": [trajectory_summary(run, n) for n in run.trajectory_names()],
        "manifolds": sorted(n for n, _ in run.group["manifolds"].groups()) if "manifolds" in run.group else [],
        "landscapes": sorted(n for n, _ in run.group["landscapes"].groups()) if "landscapes" in run.group else [],
    }


def print_trajectory_table(run: Run, names: list[str], title: str | None = None) -> None:
    rows = [trajectory_summary(run, n) for n in names]
    loss_names = sorted({k for r in rows for k in r["final_losses"]})
    table = Table(title=title)
    for column in ["trajectory", "objective", "optimizer", "seed", "status", "rows", "step"]:
        table.add_column(column)
    for loss in loss_names:
        table.add_column(f"final {loss}", justify="right")
    for r in rows:
        step = f"{r['last_step']}/{r['steps']}" if r["last_step"] is not None else f"-/{r['steps']}"
        cells = [r["name"], str(r["loss"]), str(r["optimizer"]), str(r["seed"]), r["status"], str(r["rows"]), step]
        cells += [f"{r['final_losses'][k]:.4g}" if k in r["final_losses"] else "" for k in loss_names]
        table.add_row(*cells)
    out.print(table)


@friendly_errors
def info_command(
    store: Annotated[Path, typer.Argument(help="A pinnviz store (run.zarr).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the problem, the model and every trajectory of a store."""
    run = open_run(store)
    summary = run_summary(run)
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
        print_trajectory_table(run, run.trajectory_names())
    else:
        out.print("no trajectories")
    for kind in ("manifolds", "landscapes"):
        if summary[kind]:
            out.print(f"{kind}: {', '.join(summary[kind])}")
