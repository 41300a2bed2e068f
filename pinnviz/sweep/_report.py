"""`sweep-report`: the mean over seeds of one final value on a grid of two swept settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pinnviz.errors import InvalidSettingError
from pinnviz.sweep._driver import read_sweep
from pinnviz.sweep._results import FINAL, grid_means, result_rows
from pinnviz.sweep._spec import format_value

AVERAGED = "seed"  # the key a report averages over


@dataclass
class SweepReport:
    """Means (n_y, n_x) and counts of `value` per (x, y) cell, with the axis values and what was fixed."""

    x: str
    y: str
    value: str
    x_values: list
    y_values: list
    means: np.ndarray
    counts: np.ndarray
    expected: int
    where: dict

    def figure(self):
        from pinnviz.visualizer import sweep_heatmap

        fixed = ", ".join(f"{k}={format_value(v)}" for k, v in self.where.items())
        title = f"mean {self.value} over {self.expected} seed(s)" + (f" ({fixed})" if fixed else "")
        return sweep_heatmap(self.means, self.counts, [format_value(v) for v in self.x_values],
                             [format_value(v) for v in self.y_values], x=self.x, y=self.y, value=self.value,
                             expected=self.expected, title=title)


def sweep_report(out_dir: str | Path, x: str, y: str, value: str, where: dict[str, Any] | None = None) -> SweepReport:
    """The heat map data of a sweep folder, read from its stores (never from a stale table).

    Parameters
    ----------
    x, y : two swept keys (the grid's names, e.g. beta and lr)
    value : a logged loss (its final value) or another numeric column (seconds, step)
    where : a value for every other swept key except seed, which is averaged over
    """
    out_dir = Path(out_dir)
    document = read_sweep(out_dir)
    grid = document["spec"]["grid"]
    for label, key in (("--x", x), ("--y", y)):
        if key not in grid:
            raise InvalidSettingError(f"{label} {key!r} is not a swept key; swept: {', '.join(grid)}")
    if x == y:
        raise InvalidSettingError(f"--x and --y are both {x!r}; choose two different swept keys")
    where = dict(where or {})
    for key, wanted in list(where.items()):
        if key not in grid:
            raise InvalidSettingError(f"--where {key}: not a swept key; swept: {', '.join(grid)}")
        matches = [v for v in grid[key] if format_value(v) == format_value(wanted)]
        if not matches:
            raise InvalidSettingError(f"--where {key}={wanted} is not one of the swept values "
                                      f"{', '.join(map(format_value, grid[key]))}")
        where[key] = matches[0]
    loose = [k for k in grid if k not in (x, y, AVERAGED, *where) and len(grid[k]) > 1]
    if loose:
        raise InvalidSettingError(f"the sweep also varies {', '.join(loose)}; fix each with --where KEY=VALUE")
    rows = result_rows(out_dir, document)
    column = FINAL + value if any(FINAL + value in r for r in rows) else value
    if not any(column in r for r in rows):
        losses = sorted({k[len(FINAL):] for r in rows for k in r if k.startswith(FINAL)})
        raise InvalidSettingError(f"--value {value!r} is not a logged loss of this sweep; logged: "
                                  f"{', '.join(losses) or '(no finished configuration yet)'}")
    means, counts = grid_means(rows, x, y, column, grid[x], grid[y], where)
    expected = len(grid.get(AVERAGED, [None]))
    return SweepReport(x, y, value, grid[x], grid[y], means, counts, expected, where)
