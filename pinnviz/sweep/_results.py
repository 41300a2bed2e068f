"""The results of a sweep, read from its stores: the final value of every logged loss per configuration."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from pinnviz.store import open_run
from pinnviz.sweep._spec import format_value, sweep_paths

FINAL = "final_"  # column prefix of a loss's value at the last stored row


def final_losses(run, trajectory: str) -> dict[str, float]:
    """Each logged loss at the last complete row of a stored trajectory, and that row's step."""
    group = run.group[f"trajectories/{trajectory}"]
    n = int(group.attrs.get("length", 0))
    if n == 0:
        return {}
    values = {"step": int(group["step"][n - 1])}
    for name, array in group["loss"].arrays():
        values[FINAL + name] = float(array[n - 1])
    return values


def result_rows(out_dir: Path, document: dict) -> list[dict]:
    """One row per configuration: grid values, state, seconds, error, final losses (from the stores)."""
    runs: dict[str, object] = {}
    rows = []
    for task in document["tasks"]:
        row = {"store": task["store"], "trajectory": task["trajectory"], **task["values"], "state": task["state"],
               "seconds": task.get("seconds"), "error": task.get("error", "")}
        if task["state"] == "done":
            if task["store"] not in runs:
                runs[task["store"]] = open_run(out_dir / task["store"])
            row.update(final_losses(runs[task["store"]], task["trajectory"]))
        rows.append(row)
    return rows


def _fmt(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def write_tables(out_dir: Path, document: dict) -> list[Path]:
    """DIR/sweep.csv (full precision) and DIR/sweep.md (4 significant digits)."""
    rows = result_rows(out_dir, document)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    paths = sweep_paths(out_dir)
    with paths["csv"].open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows([{k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()} for r in rows])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    paths["md"].write_text("\n".join(lines) + "\n")
    return [paths["csv"], paths["md"]]


def grid_means(rows: list[dict], x: str, y: str, value: str, x_values: list, y_values: list,
               where: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean of `value` over the rows of each (x, y) cell: (len(y_values), len(x_values)) means and counts.

    Rows not matching `where` are left out; a cell without a finished configuration is NaN with count 0.
    """
    sums = np.zeros((len(y_values), len(x_values)))
    counts = np.zeros((len(y_values), len(x_values)), dtype=int)
    index_x = {format_value(v): i for i, v in enumerate(x_values)}
    index_y = {format_value(v): i for i, v in enumerate(y_values)}
    for row in rows:
        if any(format_value(row.get(k)) != format_value(v) for k, v in (where or {}).items()):
            continue
        number = row.get(value)
        if row.get("state") != "done" or number is None or not math.isfinite(number):
            continue
        i, j = index_y[format_value(row[y])], index_x[format_value(row[x])]
        sums[i, j] += number
        counts[i, j] += 1
    with np.errstate(invalid="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means, counts
