"""One sweep at a time per folder: an exclusive `flock` on DIR/sweep.lock, which records who holds it.

The kernel releases a `flock` when its process dies, however it dies, so a killed sweep never leaves a
stale lock behind; the pid, host and start time in the file are only there for the refusal message.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from pinnviz.errors import PinnvizError


class SweepBusyError(PinnvizError, RuntimeError):
    """Another sweep writes into the same folder."""


class FolderLock:
    """Exclusive lock of a sweep folder, held from `acquire` to `release` (or the end of the process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise SweepBusyError(
                f"{self.path.parent} is being written by another sweep (pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, since {holder.get('since', '?')}); wait for it to finish") from None
        os.ftruncate(fd, 0)
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.now(UTC).isoformat(timespec="seconds")}
        os.write(fd, json.dumps(holder).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


def check_free(out_dir: Path) -> None:
    """Refuse at once when another sweep holds `out_dir` (before a cluster is started for nothing)."""
    path = Path(out_dir) / "sweep.lock"
    if path.exists():
        lock = FolderLock(path)
        lock.acquire()
        lock.release()
