"""What every command shares: the consoles, friendly errors, a training progress bar."""

from __future__ import annotations

import errno
import functools
import os
import time
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pinnviz.devices import DEVICE_FORMS
from pinnviz.devices import check_device as check_device
from pinnviz.devices import refuse_device as refuse_device
from pinnviz.errors import PinnvizError
from pinnviz.store._paths import writable_file as writable_file
from pinnviz.store._paths import writable_folder as writable_folder

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


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

# modules whose exceptions mean "the bytes on disk are not what Zarr wrote" (a truncated chunk file)
_CODEC_MODULES = ("numcodecs", "zarr.codecs", "zarr.core.codec", "zarr.core.buffer", "zarr.core.indexing")


def _raised_in_codec(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(_CODEC_MODULES):
            return True
        tb = tb.tb_next
    return False


def os_error_line(exc: OSError) -> str:
    """One line for a failed file operation: what, where, and the likely fix."""
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc)
    hint = {errno.EACCES: "; the store or folder is read-only: choose a writable path or fix its permissions",
            errno.EPERM: "; the store or folder is read-only: choose a writable path or fix its permissions",
            errno.EROFS: "; the file system is read-only: choose another path",
            errno.ENOSPC: "; the disk is full: free space and run it again",
            errno.ENOTDIR: "; a part of that path is a file, not a folder",
            errno.EEXIST: "; remove it or choose another path",
            errno.EISDIR: "; give a file name, not a folder"}.get(exc.errno, "")
    return f"cannot access{where}: {reason}{hint}"


def print_error(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)


def friendly_errors(command):
    """One line on stderr and exit code 2 for what a user can cause: a PinnvizError, a file that cannot be
    written or read (read-only store, a path through a file, a full disk), a damaged chunk file; Ctrl-C gives
    one line and exit code 130. Anything else is a bug and keeps its traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PinnvizError as exc:
            print_error(_one_line(str(exc)))
        except OSError as exc:
            print_error(_one_line(os_error_line(exc)))
        except (RuntimeError, ValueError, TypeError) as exc:
            if not _raised_in_codec(exc):
                raise
            print_error(_one_line(f"cannot read the store: a chunk file is damaged ({type(exc).__name__}: {exc}); "
                                  "restore the store from a copy"))
        except KeyboardInterrupt:
            print_error("interrupted (Ctrl-C); results this command finished before it are kept, the one in "
                        "progress was not stored")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        raise typer.Exit(EXIT_USAGE) from None

    return wrapper


def _one_line(text: str) -> str:
    return " ".join(text.split())


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


Force = Annotated[bool, typer.Option("--force", help="Replace stored results of the same name.")]


def device_option(where: str = "") -> object:
    """The `--device` option of a command (checked by `check_device` first thing in its body, so that a
    device this machine lacks costs nothing); `where` says which parts run on it or stay on the CPU."""
    return Annotated[str, typer.Option("--device", help=f"Torch device: {DEVICE_FORMS}{where}.")]


Device = device_option()
