"""The sweep driver: validate, lock the folder, create the stores, run the missing tasks, record their states.

Only the driver writes shared metadata (the stores' roots, sweep.json, the result tables); the shared
stores are the truth about what is done, so a re-run after any crash recomputes the states from them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pinnviz.errors import IncompatibleRunError, InvalidSettingError
from pinnviz.store import create_run, open_run
from pinnviz.sweep._lock import FolderLock
from pinnviz.sweep._results import write_tables
from pinnviz.sweep._spec import SweepSpec, Task, sweep_paths, validate
from pinnviz.sweep._task import one_line, published, run_task

SWEEP_FORMAT = 1
# progress(finished, total, failed) after every finished task
Progress = Callable[[int, int, int], None]
Log = Callable[[str], None]


@dataclass
class SweepResult:
    """What a sweep did: every task's record (as in sweep.json) and the files written."""

    out_dir: Path
    tasks: list[dict]
    ran: int
    seconds: float
    files: list[Path]

    def count(self, state: str) -> int:
        return sum(1 for t in self.tasks if t["state"] == state)


def read_sweep(out_dir: Path) -> dict:
    """The recorded sweep of a folder (spec and task records)."""
    path = sweep_paths(Path(out_dir))["json"]
    if not path.is_file():
        raise InvalidSettingError(f"{out_dir} holds no sweep (no sweep.json); run `pinnviz sweep` first")
    return json.loads(path.read_text())


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _check_folder(out_dir: Path, spec: SweepSpec, tasks: list[Task], stores: dict) -> None:
    """Refuse a folder inside a store, another sweep's folder, or stores that do not fit, before writing."""
    paths = sweep_paths(out_dir)
    if paths["json"].is_file():
        recorded = SweepSpec.from_json(json.loads(paths["json"].read_text())["spec"])
        if recorded.to_json() != json.loads(json.dumps(spec.to_json())):
            raise InvalidSettingError(f"{out_dir} holds another sweep (its sweep.json records different "
                                      "settings or grid); re-run that sweep as it was or choose another --out")
    for name, (problem, model) in stores.items():
        path = out_dir / name
        if not path.exists():
            continue
        run = open_run(path)
        if (run.problem, run.model) != (problem, model):
            raise IncompatibleRunError(f"{path} holds another problem or model than this sweep trains there")
    for task in tasks:
        path = out_dir / task.store
        if published(path, task.trajectory):
            status = open_run(path).trajectory_attrs(task.trajectory).get("status")
            if status != "complete":
                raise IncompatibleRunError(f"{path} holds trajectory {task.trajectory} with status {status!r}, "
                                           "which this sweep did not write; remove it or choose another --out")


def _payload(task: Task, spec: SweepSpec, out_dir: Path, threads: int | None, lock: str | None) -> dict:
    root = out_dir.resolve()
    return {"id": task.id, "store": str(root / task.store), "trajectory": task.trajectory,
            "partial": str(sweep_paths(root)["partial"] / task.store[:-5] / f"{task.trajectory}.zarr"),
            "problem": spec.problem, "problem_options": task.problem_options, "options": task.options,
            "threads": threads, "lock": lock}


def run_sweep(spec: SweepSpec, out_dir: str | os.PathLike, *, client=None, threads: int | None = 1,
              progress: Progress | None = None, log: Log | None = None) -> SweepResult:
    """Train every configuration of `spec` that is not yet in `out_dir`, one task each.

    Parameters
    ----------
    client : a `distributed.Client` whose workers run the tasks; None runs them here, one by one
    threads : torch threads of each task (1: one single-threaded task per core)

    Every configuration is validated before anything is written. A failing configuration is recorded
    with its one-line error and does not stop the others; re-running finishes what is missing, resumes
    what was interrupted and repeats nothing that completed.
    """
    out_dir = Path(out_dir)
    tasks, stores = validate(spec)
    if threads is not None and threads < 1:
        raise InvalidSettingError(f"threads={threads} must be >= 1")
    created = not out_dir.exists()
    if not created and not out_dir.is_dir():
        raise InvalidSettingError(f"--out {out_dir} is a file, not a folder")
    for folder in (out_dir, *out_dir.resolve().parents):  # before the lock file is made
        if (folder / "zarr.json").exists():
            raise InvalidSettingError(f"{out_dir} is inside the Zarr store {folder}; choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(sweep_paths(out_dir)["lock"])
    lock_existed = lock.path.exists()
    try:
        lock.acquire()
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    try:
        try:
            _check_folder(out_dir, spec, tasks, stores)
        except BaseException:
            lock.release()
            if created:
                shutil.rmtree(out_dir, ignore_errors=True)
            elif not lock_existed:
                lock.path.unlink(missing_ok=True)
            raise
        return _run_locked(spec, out_dir, tasks, stores, client, threads, progress, log)
    finally:
        lock.release()


def _run_locked(spec, out_dir, tasks, stores, client, threads, progress, log) -> SweepResult:
    start = time.perf_counter()
    paths = sweep_paths(out_dir)
    for name, (problem, model) in stores.items():  # the driver writes every shared root
        create_run(out_dir / name, problem, model)
    previous = {}
    if paths["json"].is_file():
        previous = {t["id"]: t for t in json.loads(paths["json"].read_text()).get("tasks", [])}
    records = []
    for task in tasks:
        record = {"id": task.id, "store": task.store, "trajectory": task.trajectory, "values": task.values}
        if published(out_dir / task.store, task.trajectory):
            old = previous.get(task.id, {})
            record.update({k: old[k] for k in ("seconds", "worker", "resumed_from") if k in old})
            record["state"] = "done"
            shutil.rmtree(paths["partial"] / task.store[:-5] / f"{task.trajectory}.zarr", ignore_errors=True)
        else:
            record["state"] = "queued"
        records.append(record)
    document = {"pinnviz_sweep": SWEEP_FORMAT, "spec": spec.to_json(), "tasks": records}
    todo = [i for i, r in enumerate(records) if r["state"] == "queued"]
    if log is not None:
        log(f"{len(tasks)} configurations in {len(stores)} store(s): {len(tasks) - len(todo)} done, "
            f"{len(todo)} to run")
    _save(paths["json"], document)
    finished = failed = 0
    last_save = time.monotonic()

    def record_result(i: int, result: dict) -> None:
        nonlocal finished, failed, last_save
        records[i] = {**{k: records[i][k] for k in ("id", "store", "trajectory", "values")}, **result}
        finished += 1
        failed += result["state"] == "failed"
        if log is not None and result["state"] == "failed":
            log(f"{records[i]['id']} failed: {result['error']}")
        if progress is not None:
            progress(finished, len(todo), failed)
        if time.monotonic() - last_save > 1.0 or finished == len(todo):
            _save(paths["json"], document)
            last_save = time.monotonic()

    sweep_id = uuid.uuid4().hex[:8]
    lock_prefix = f"pinnviz-sweep:{out_dir.resolve()}:"
    try:
        if client is None:
            for i in todo:
                record_result(i, run_task(_payload(tasks[i], spec, out_dir, threads, None)))
        else:
            _run_on_cluster(client, [(i, _payload(tasks[i], spec, out_dir, threads, lock_prefix + tasks[i].id))
                                     for i in todo], sweep_id, record_result)
    finally:
        _save(paths["json"], document)
    files = write_tables(out_dir, document)
    return SweepResult(out_dir, records, len(todo), time.perf_counter() - start, files)


def _run_on_cluster(client, payloads: list[tuple[int, dict]], sweep_id: str, record_result) -> None:
    from distributed import as_completed

    futures = {}
    for i, payload in payloads:
        future = client.submit(run_task, payload, key=f"pinnviz-sweep-{sweep_id}-{i}", pure=False)
        futures[future] = i
    try:
        for future in as_completed(list(futures)):
            try:
                result = future.result()
            except Exception as exc:  # e.g. KilledWorker: the task's worker died too often
                result = {"state": "failed", "error": one_line(exc)}
            record_result(futures[future], result)
    except BaseException:
        client.cancel(list(futures))
        raise


def _save(path: Path, document: dict) -> None:
    document["updated"] = datetime.now(UTC).isoformat(timespec="seconds")
    counts: dict[str, int] = {}
    for task in document["tasks"]:
        counts[task["state"]] = counts.get(task["state"], 0) + 1
    document["counts"] = counts
    _write_json(path, document)
