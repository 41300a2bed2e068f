"""One sweep task, run on a Dask worker (or in the driver): train a configuration and publish its trajectory.

A task writes only below its own temporary store (``DIR/.partial/<store>/<trajectory>.zarr``). When the
training completed, it renames the finished trajectory group into ``trajectories/`` of the shared store:
one atomic `rename` on the same file system, so a trajectory in a shared store is always complete and a
task killed at any moment leaves at most its temporary store, which the next attempt resumes
(`pinnviz.trainers.resume`) or starts again. The shared stores' root metadata is written by the driver only.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from pinnviz.errors import IncompatibleRunError, PinnvizError
from pinnviz.store import open_run

# The per-task distributed.Lock is a lease the holder refreshes; after a worker is killed its lease lapses
# after this long, and a retry of the task on another worker may take over.
LEASE_TIMEOUT = "10s"


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and its first line of text."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def run_task(task: dict) -> dict:
    """Train one configuration (a task dict made by the driver) and move its trajectory into place.

    Returns ``{"state": "done" | "failed", ...}``: the error as one line, the seconds spent, the step a
    resumed training continued from, and the worker (host:pid). Never raises for a failing configuration.
    """
    from pinnviz._malloc import keep_freed_memory

    keep_freed_memory()  # a Dask worker process, as `pinnviz` itself does (pinnviz/_malloc.py)
    if task.get("threads"):
        import torch

        torch.set_num_threads(int(task["threads"]))
    with _exclusive(task.get("lock")):
        return _run(task)


def published(store: Path, trajectory: str) -> bool:
    """Whether `trajectory` is in the shared `store` (only complete trajectories are ever moved there)."""
    return (store / "trajectories" / trajectory / "zarr.json").exists()


def _run(task: dict) -> dict:
    store, name, partial = Path(task["store"]), task["trajectory"], Path(task["partial"])
    worker = f"{socket.gethostname()}:{os.getpid()}"
    if published(store, name):  # an earlier attempt got there (e.g. killed after the move)
        shutil.rmtree(partial, ignore_errors=True)
        return {"state": "done", "worker": worker, "seconds": 0.0, "note": "already published"}
    start = time.perf_counter()
    try:
        resumed_from = _train_partial(task, partial)
        moved = _publish(partial, store, name)
    except Exception as exc:  # a failing configuration is a result, not a crash of the sweep
        return {"state": "failed", "error": one_line(exc), "worker": worker,
                "seconds": time.perf_counter() - start}
    shutil.rmtree(partial, ignore_errors=True)
    result = {"state": "done", "worker": worker, "seconds": time.perf_counter() - start}
    if resumed_from is not None:
        result["resumed_from"] = resumed_from
    if not moved:
        result["note"] = "already published"
    return result


def _train_partial(task: dict, partial: Path) -> int | None:
    """Train into the temporary store, resuming an interrupted attempt; returns the step resumed from."""
    from pinnviz.trainers import build_training, resume, train

    name = task["trajectory"]
    attrs = _partial_attrs(partial, name)
    if attrs is not None and attrs.get("status") == "complete":
        return int(attrs.get("steps", 0))  # killed between training and publishing
    if attrs is not None and _interrupted(attrs):
        length = int(attrs.get("length", 0))
        step = int(open_run(partial).group[f"trajectories/{name}/step"][length - 1]) if length else 0
        try:
            resume(partial, second_process=False)  # the sweep's workers already use every core
            return step
        except IncompatibleRunError:  # e.g. stopped during L-BFGS, whose history is not stored: start again
            pass
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    physics, config = build_training(task["problem"], task["problem_options"], **task["options"])
    train(partial, physics, config, name=name, second_process=False)
    return None


def _partial_attrs(partial: Path, name: str) -> dict | None:
    try:
        return open_run(partial).trajectory_attrs(name)
    except (PinnvizError, OSError, ValueError):  # nothing, or a store cut short before its metadata
        return None


def _interrupted(attrs: dict) -> bool:
    return attrs.get("status") == "running" or str(attrs.get("failure", "")).startswith("interrupted")


def _publish(partial: Path, store: Path, name: str) -> bool:
    """Rename the finished trajectory group into the shared store; False if it is there already."""
    source, target = open_run(partial), open_run(store)
    if (source.problem, source.model) != (target.problem, target.model):
        raise IncompatibleRunError(f"{partial} was trained for another problem or model than {store}")
    try:
        os.rename(partial / "trajectories" / name, store / "trajectories" / name)
    except OSError:
        if published(store, name):
            return False
        raise
    _fsync_dir(store / "trajectories")
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _exclusive(lock_name: str | None):
    """Hold the named distributed.Lock (no lock in the driver's own process, where tasks run one by one)."""
    if lock_name is None:
        yield
        return
    import dask
    from distributed import Lock

    with dask.config.set({"distributed.scheduler.locks.lease-timeout": LEASE_TIMEOUT}):
        lock = Lock(lock_name)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
