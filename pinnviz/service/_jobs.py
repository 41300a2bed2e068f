"""Jobs: the CLI's own commands run as worker processes, with progress read from their progress bars.

A job is `python -m pinnviz <command> <store> --option value ...`. Its options are checked against the
very typer command first (names, types, required options), so a bad request fails before anything starts
and a job accepts exactly what the CLI accepts; what only the command can check (a manifold's name, say)
fails in the worker with the CLI's own one-line error. Workers never run in the web process. Every change
of state is written to `<root>/.pinnviz-serve/jobs/<id>.json`, so after a restart the jobs that were
running show as interrupted.
"""

from __future__ import annotations

import codecs
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import typing
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pinnviz.errors import InvalidSettingError, PinnvizError, unknown_name
from pinnviz.service._scan import StoreEntry

KINDS = {"fit-manifold": ("fit-manifold",), "landscape": ("landscape",), "compare": ("compare",),
         "probe": ("probe",)}
FINISHED = {"completed", "failed", "cancelled", "interrupted"}
STATE_FOLDER = ".pinnviz-serve/jobs"
KEEP_LINES = 60
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
# a rich progress row: "<stage> <bar> <done>/<total> ..." (the bar drawn with box characters)
PROGRESS = re.compile(r"^\W*(?P<stage>[^━╸╺╾╼]*?)\s*[━╸╺╾╼]+\s+(?P<done>\d+)/(?P<total>\d+|None)\b")


class JobError(PinnvizError, ValueError):
    """A job request the CLI would refuse (unknown option, wrong type, path outside the root)."""


@dataclass
class Job:
    """One job and everything the pages show about it (JSON-ready through `as_dict`)."""

    id: str
    run: str
    store: str
    kind: str
    probe: str | None
    options: dict
    argv: list[str]
    status: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    returncode: int | None = None
    pid: int | None = None
    progress: dict | None = None  # {stage, done, total}
    stages: dict = field(default_factory=dict)  # stage -> [done, total]
    error: str | None = None
    output: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    version: int = 0  # bumped on every change, so event streams send only news

    def as_dict(self) -> dict:
        return asdict(self)


def cli_command(path: tuple[str, ...]):
    """The typer (click) command object of `pinnviz <path...>`."""
    import typer.main

    from pinnviz.cli import app
    from pinnviz.cli._lazy import load_command

    command = typer.main.get_command(app)
    for part in path:
        lazy = getattr(command, "lazy_commands", {})
        if part not in command.commands and part in lazy:  # imported only when first used, as the CLI does
            command.commands[part] = load_command(part, lazy[part][0])
        command = command.commands[part]
    return command


def subcommand_names(command) -> list[str]:
    """The names under a (lazy) command group."""
    return sorted({*command.commands, *getattr(command, "lazy_commands", {})})


def _is_path(param) -> bool:
    annotation = param.type_descriptor.annotation
    return annotation is Path or Path in typing.get_args(annotation)


def _confined(value: str, root: Path, flag: str) -> str:
    path = (root / value).resolve()
    if not path.is_relative_to(root):
        raise JobError(f"{flag}={value!r} lies outside the served folder {root}")
    return str(path)


def job_arguments(path: tuple[str, ...], store: Path, options: dict, root: Path) -> list[str]:
    """The command line for `options` (long flag names, with or without dashes), validated by the command.

    Raises JobError naming the option and the fix, with the CLI's own message for a bad value.
    """
    import typer

    command = cli_command(path)
    arguments = [p for p in command.params if not hasattr(p, "is_flag")]
    if [p.name for p in arguments] != ["store"]:
        raise JobError(f"pinnviz {' '.join(path)} takes arguments other than a store; it cannot run as a job")
    flags = {}
    for param in command.params:
        if hasattr(param, "is_flag") and param.name != "help":
            for opt in param.opts:
                if opt.startswith("--"):
                    flags[opt[2:]] = (param, True)
            for opt in param.secondary_opts:
                flags[opt[2:]] = (param, False)
    argv = [str(store)]
    for key, value in options.items():
        flag = str(key).lstrip("-").replace("_", "-")
        if flag not in flags:
            raise unknown_name(f"option of pinnviz {' '.join(path)}", f"--{flag}", [f"--{f}" for f in flags])
        param, positive = flags[flag]
        if value is None:
            continue
        if param.is_flag:
            if not isinstance(value, bool):
                raise JobError(f"--{flag} is a switch: give true or false, not {value!r}")
            on = value if positive else not value
            if on:
                argv.append(param.opts[0] if param.opts[0].startswith("--") else param.opts[-1])
            elif param.secondary_opts:
                argv.append(param.secondary_opts[0])
            continue
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise JobError(f"--{flag}={value!r} must be a string or a number")
        text = str(value)
        if _is_path(param):
            text = _confined(text, root, f"--{flag}")
        argv += [f"--{flag}", text]
    try:
        command.make_context(" ".join(("pinnviz", *path)), list(argv)).close()
    except typer.exceptions.TyperException as exc:
        raise JobError(exc.format_message()) from None
    return argv


class JobManager:
    """Queue, run, cancel and remember jobs; `workers` of them run at a time, each in its own process."""

    def __init__(self, root: Path, *, workers: int = 1, python: str = sys.executable) -> None:
        if workers < 1:
            raise InvalidSettingError(f"workers={workers} must be >= 1")
        self.root = root
        self.state = root / STATE_FOLDER
        self.python = python
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.processes: dict[str, subprocess.Popen] = {}
        self._load()
        self.threads = [threading.Thread(target=self._worker, daemon=True, name=f"pinnviz-job-{i}")
                        for i in range(workers)]
        for thread in self.threads:
            thread.start()

    # ------------------------------------------------------------------ state
    def _load(self) -> None:
        """Jobs of earlier starts; those that were queued or running are interrupted now."""
        if not self.state.is_dir():
            return
        for path in sorted(self.state.glob("*.json")):
            try:
                job = Job(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue
            if job.status not in FINISHED:
                job.status, job.finished = "interrupted", time.time()
                job.error = job.error or "the server stopped while this job was " + (
                    "running" if job.started else "waiting")
                self._save(job)
            self.jobs[job.id] = job

    def _save(self, job: Job) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        tmp = self.state / f".{job.id}.tmp"
        tmp.write_text(json.dumps(job.as_dict()))
        os.replace(tmp, self.state / f"{job.id}.json")

    def _update(self, job: Job, save: bool = False, **changes) -> None:
        with self.changed:
            for key, value in changes.items():
                setattr(job, key, value)
            job.version += 1
            if save:
                self._save(job)
            self.changed.notify_all()

    # ------------------------------------------------------------------ API
    def submit(self, store: StoreEntry, kind: str, options: dict, probe: str | None = None) -> Job:
        """Validate a job against the CLI command and queue it; raises JobError before anything starts."""
        if kind not in KINDS:
            raise unknown_name("job kind", kind, KINDS)
        path = KINDS[kind]
        if kind == "probe":
            probes = subcommand_names(cli_command(path))
            if probe not in probes:
                raise unknown_name("probe", str(probe), probes)
            path = (*path, probe)
        elif probe is not None:
            raise JobError(f"'probe' applies to kind 'probe', not to {kind!r}")
        argv = [*path, *job_arguments(path, store.path, dict(options), self.root)]
        job = Job(uuid.uuid4().hex[:12], store.id, store.relative, kind, probe, dict(options), argv)
        with self.changed:
            self.jobs[job.id] = job
            self._save(job)
        self.queue.put(job.id)
        return job

    def get(self, job_id: str) -> Job:
        with self.lock:
            if job_id not in self.jobs:
                raise unknown_name("job", job_id, [])
            return self.jobs[job_id]

    def list(self) -> list[Job]:
        with self.lock:
            return sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)

    def cancel(self, job_id: str) -> Job:
        """A queued job is dropped; a running one gets SIGTERM (SIGKILL after 10 s), as a user's Ctrl-C."""
        job = self.get(job_id)
        with self.changed:
            if job.status == "queued":
                job.status, job.finished, job.error = "cancelled", time.time(), "cancelled before it started"
                job.version += 1
                self._save(job)
                self.changed.notify_all()
                return job
            process = self.processes.get(job_id)
        if process is not None and job.status == "running":
            self._update(job, error="cancelling")
            _signal_group(process, signal.SIGTERM)
            threading.Timer(10.0, _signal_group, (process, signal.SIGKILL)).start()
        return job

    def wait_for_change(self, job_id: str, version: int, timeout: float) -> Job:
        """Block until the job's version differs from `version` (or `timeout` seconds pass)."""
        job = self.get(job_id)
        with self.changed:
            self.changed.wait_for(lambda: job.version != version, timeout=timeout)
        return job

    def shutdown(self) -> None:
        """Stop the workers; running jobs are terminated and recorded as interrupted."""
        for _ in self.threads:
            self.queue.put(None)
        with self.lock:
            running = list(self.processes.items())
        for job_id, process in running:
            self._update(self.jobs[job_id], error="the server stopped while this job was running")
            _signal_group(process, signal.SIGTERM)
        for _, process in running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
        for job_id, _ in running:
            job = self.jobs[job_id]
            if job.status not in FINISHED:
                self._update(job, save=True, status="interrupted", finished=time.time())

    # ------------------------------------------------------------------ workers
    def _worker(self) -> None:
        while True:
            job_id = self.queue.get()
            if job_id is None:
                return
            job = self.jobs[job_id]
            if job.status != "queued":
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "200", "TERM": "xterm-256color",
               "PYTHONUNBUFFERED": "1"}
        env.pop("NO_COLOR", None)
        try:
            process = subprocess.Popen([self.python, "-m", "pinnviz", *job.argv], cwd=self.root, env=env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            self._update(job, save=True, status="failed", finished=time.time(), error=f"could not start: {exc}")
            return
        with self.lock:
            self.processes[job.id] = process
        self._update(job, save=True, status="running", started=time.time(), pid=process.pid)
        readers = [threading.Thread(target=self._read, args=(job, process.stdout, "output"), daemon=True),
                   threading.Thread(target=self._read, args=(job, process.stderr, "log"), daemon=True)]
        for reader in readers:
            reader.start()
        code = process.wait()
        for reader in readers:
            reader.join(timeout=5)
        process.stdout.close()
        process.stderr.close()
        with self.lock:
            self.processes.pop(job.id, None)
        error = next((line[len("error:"):].strip() for line in reversed(job.log) if line.startswith("error:")),
                     None)
        if job.error == "cancelling":
            status, error = "cancelled", "cancelled while running"
        elif job.error and job.error.startswith("the server stopped"):
            status, error = "interrupted", job.error
        elif code == 0:
            status = "completed"
        else:
            status = "failed"
            error = error or (job.log[-1] if job.log else f"exit code {code}")
        self._update(job, save=True, status=status, finished=time.time(), returncode=code, error=error)

    def _read(self, job: Job, stream, target: str) -> None:
        """Split a stream on newlines and carriage returns; progress rows update the job, others are kept."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        lines = deque(getattr(job, target), maxlen=KEEP_LINES)
        pending = ""
        while True:
            chunk = os.read(stream.fileno(), 65536)
            text = pending + decoder.decode(chunk, final=not chunk)
            parts = re.split(r"[\r\n]", text)
            pending = parts.pop() if chunk else ""
            changes = {}
            for part in parts + ([pending] if not chunk else []):
                clean = ANSI.sub("", part).rstrip()
                match = PROGRESS.match(clean)
                if match:
                    total = None if match["total"] == "None" else int(match["total"])
                    progress = {"stage": match["stage"].strip(), "done": int(match["done"]), "total": total}
                    stages = {**job.stages, progress["stage"]: [progress["done"], total]}
                    changes.update(progress=progress, stages=stages)
                elif clean.strip():
                    lines.append(clean)
                    changes[target] = list(lines)
            if changes:
                self._update(job, **changes)
            if not chunk:
                return


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
