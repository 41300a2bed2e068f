"""What every command shares: the consoles, friendly errors, a training progress bar."""

from __future__ import annotations

import functools
import os
import time
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pinnviz.errors import PinnvizError

PIPED_WIDTH = 160  # piped or captured without COLUMNS: do not squeeze tables into 80 columns


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr)
    fit_width(console)
    return console


def fit_width(console: Console) -> int:
    """Set `console`'s width from COLUMNS when given (also when piped), else 160 when not a terminal."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        console.width = int(columns)
    elif not console.is_terminal:
        console.width = PIPED_WIDTH
    return console.width


out = _console(stderr=False)  # results: stdout
err = _console(stderr=True)  # progress and errors: stderr

EXIT_USAGE = 2  # what typer uses for a bad parameter


def friendly_errors(command):
    """Turn a PinnvizError into one line on stderr and exit code 2; anything else keeps its traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PinnvizError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper


def split_names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


@contextmanager
def step_progress(description: str, loss_name: str | None = None, every_seconds: float = 0.1):
    """A transient rich bar for a training loop; yields progress(step, total, losses)."""
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=None, loss="")
        last = [0.0]

        def progress(step: int, total: int, losses: dict) -> None:
            now = time.monotonic()
            if now - last[0] < every_seconds and step != total:
                return
            last[0] = now
            text = ""
            if loss_name in losses:
                values = losses[loss_name]
                text = f"{loss_name}={float(values.min()):.4g}" + (" (best seed)" if len(values) > 1 else "")
            bar.update(task, completed=step, total=total, loss=text)

        yield progress
