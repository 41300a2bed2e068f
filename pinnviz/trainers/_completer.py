"""Filling in the losses a training step did not compute, for each block of logged rows.

On a fixed quadrature a step computes only its objective (and the components of a `total`); the
writer (store/_writer.py) hands the finished rows of its block to a `RowCompleter`, on its flusher
thread, which evaluates the other losses of those very vectors, batched and without autograd.

On that thread the work shares the interpreter lock with the training step and steals time from it
even with a spare core (a hyperelastic2d `drm` row's `pinn` costs half a step). So on Linux, for a run
long enough, the completer forks a `LossProcess` when training starts (before the flusher's thread
exists): a copy of this process, with the same physics and quadrature, that evaluates the blocks sent to
it on another core. Blocks travel as raw float64 bytes after a JSON line, over two pipes: nothing is
pickled. If the process fails, or does not answer in time, blocks are evaluated here: the values are
the same.

After a run the process is kept, idle, for the next run in this process with the same physics object,
unchanged settings and an equal quadrature batch (a notebook's or a benchmark's repeated runs); any other
run ends it, and so does this process's exit. A fork makes every page of this process shared until one
side writes it: the training then pays a copy for each page it writes, 9,000-11,000 of them (40-80 ms) in
a process that has trained before, and a kept process spares the runs after the first that cost.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence

import numpy as np
import torch

# a chunk's channel buffer while training runs beside it: about one core's L2 cache. Beside hyperelastic2d
# drm training, 1-vector chunks (this budget) gave 1.06-1.19x of training without a store where a
# landscape's 5 MiB chunks gave 1.13-1.30x, in three paired experiments (benchmarks/bench_train_speed.py)
CHUNK_BYTES = 1 << 20
PROCESS_MIN_ROWS = 100  # rows a run logs before a second process pays for its fork (~20 ms)
REPLY_SECONDS = 60.0  # a block the process has not answered in this long is evaluated here instead


class LossProcess:
    """A forked copy of this process that evaluates named losses of blocks of parameter vectors."""

    def __init__(self, physics, batch: dict) -> None:
        child_reads, parent_writes = os.pipe()
        parent_reads, child_writes = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 0
            try:
                os.close(parent_writes)
                os.close(parent_reads)
                _serve(physics, batch, os.fdopen(child_reads, "rb"), os.fdopen(child_writes, "wb"))
            except BaseException:  # noqa: BLE001 - the parent sees the pipe close and evaluates itself
                code = 1
            finally:
                os._exit(code)
        os.close(child_reads)
        os.close(child_writes)
        self.pid = pid
        self.answered = True  # False from a request until its whole reply is read: a process left with half
        # a conversation is not kept for another run
        self._send_to = os.fdopen(parent_writes, "wb")
        self._receive_from = os.fdopen(parent_reads, "rb")

    def evaluate(self, params: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
        """{name: (n,)} for params (n, n_params), evaluated in the process."""
        block = np.ascontiguousarray(params, dtype=np.float64)
        self.answered = False
        self._send_to.write(json.dumps({"rows": block.shape[0], "names": list(names)}).encode() + b"\n")
        self._send_to.write(memoryview(block).cast("B"))
        self._send_to.flush()
        if not select.select([self._receive_from], [], [], REPLY_SECONDS)[0]:
            raise TimeoutError(f"the second process did not answer in {REPLY_SECONDS:.0f} s")
        line = self._receive_from.readline()
        if not line:
            raise RuntimeError("the second process exited")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        values = np.frombuffer(_read_exactly(self._receive_from, 8 * len(names) * block.shape[0]), dtype=np.float64)
        self.answered = True
        return {name: row.copy() for name, row in zip(names, values.reshape(len(names), -1), strict=True)}

    def alive(self) -> bool:
        """Whether the process has not exited (it is reaped if it has)."""
        try:
            return os.waitpid(self.pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False

    def close(self) -> None:
        """End the process: at EOF on its input it exits; one that does not is killed."""
        for stream in (self._send_to, self._receive_from):
            try:
                stream.close()
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        while self.alive():
            if time.monotonic() > deadline:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
                return
            time.sleep(0.001)  # it exits within a few ms of EOF


class _KeptProcess:
    """The one idle `LossProcess` this process keeps between runs, with what it was forked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: tuple | None = None  # (process, a weak reference to its physics, their settings, batch)
        atexit.register(self.end)

    def take(self, physics, batch: dict) -> LossProcess:
        """The kept process if it was forked for this physics object, unchanged, and an equal batch; else
        a new one (the kept one is ended)."""
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is not None:
            process, kept_physics, settings, kept_batch = kept
            # the settings are compared again: a problem changed in place since the fork is not the same one
            if kept_physics() is physics and settings == _settings(physics) and _equal_batches(kept_batch, batch) \
                    and process.alive():
                return process
            process.close()
        return LossProcess(physics, batch)

    def keep(self, process: LossProcess, physics, batch: dict) -> None:
        """Keep `process` (forked for physics and batch) for the next run; one kept before is ended."""
        if not process.answered:
            process.close()
            return
        with self._lock:
            kept, self._kept = self._kept, (process, weakref.ref(physics), _settings(physics), batch)
        if kept is not None:
            kept[0].close()

    def pid(self) -> int | None:
        """The kept process's id, or None when none is kept (a benchmark reads its CPU time)."""
        kept = self._kept
        return None if kept is None else kept[0].pid

    def end(self) -> None:
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is not None:
            kept[0].close()


def _settings(physics) -> str:
    return json.dumps([physics.problem.settings(), physics.net.settings()], sort_keys=True, default=str)


def _equal_batches(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)


def _equal(a, b) -> bool:
    """Tensors of one dtype, device, shape and values, or tuples of such (a hard-BC distance and its derivatives)."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and all(map(_equal, a, b))
    return a.dtype == b.dtype and a.device == b.device and a.shape == b.shape and torch.equal(a, b)


KEPT = _KeptProcess()


class RowCompleter:
    """`(steps (n,), params (n, P), missing names) -> {name: (n,)}`: the writer's `complete_losses`.

    Losses in `sparse` are evaluated only on the rows that `sparse_rows(steps)` marks (NaN elsewhere);
    the others on every row. A second process is taken at once where it pays (the one `KEPT` from an
    earlier run of this physics, or a new fork): on Linux, on the CPU, for at least `PROCESS_MIN_ROWS`
    expected rows, and unless `second_process` is False (a sweep's workers already use every core).
    Create it before any thread but zarr's is busy (the trainer does); `close` hands the process back.
    """

    def __init__(self, physics, batch: dict, *, sparse: Sequence[str] = (),
                 sparse_rows: Callable[[np.ndarray], np.ndarray] | None = None, rows_expected: int = 0,
                 second_process: bool = True) -> None:
        self.physics = physics
        self.batch = batch
        self.sparse = set(sparse)
        self.sparse_rows = sparse_rows
        x = batch["x"]
        self.device, self.dtype = x.device, x.dtype
        self._process: LossProcess | None = None
        if second_process and self.device.type == "cpu" and sys.platform == "linux" and \
                rows_expected >= PROCESS_MIN_ROWS:
            try:
                self._process = KEPT.take(physics, batch)
            except OSError:  # e.g. no memory or process left to fork: evaluate here
                self._process = None

    def __call__(self, steps: np.ndarray, params: np.ndarray, missing: Sequence[str]) -> dict[str, np.ndarray]:
        every_row = [name for name in missing if name not in self.sparse]
        out = self._evaluate(params, every_row) if every_row else {}
        sparse = [name for name in missing if name in self.sparse]
        if sparse:
            rows = np.flatnonzero(self.sparse_rows(steps))
            values = self._evaluate(params[rows], sparse) if len(rows) else {}
            for name in sparse:
                out[name] = np.full(len(steps), np.nan)
                if len(rows):
                    out[name][rows] = values[name]
        return out

    def close(self) -> None:
        """The run is over: its process is kept, idle, for the next run (see `KEPT`)."""
        if self._process is not None:
            KEPT.keep(self._process, self.physics, self.batch)
            self._process = None

    def _evaluate(self, params: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        if self._process is not None:
            try:
                return self._process.evaluate(params, names)
            except (OSError, RuntimeError, ValueError):  # TimeoutError is an OSError
                self._process.close()  # evaluate here from now on
                self._process = None
        block = torch.as_tensor(params).to(self.device, self.dtype)
        values = self.physics.evaluate(block, names, batch=self.batch, chunk=_chunk(self.physics, names, self.batch))
        return {name: value.to("cpu", torch.float64).numpy() for name, value in values.items()}


def _chunk(physics, names: list[str], batch: dict) -> int:
    return physics.default_chunk(names, batch, batch["x"].element_size(), budget=CHUNK_BYTES)


def _read_exactly(stream, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise RuntimeError(f"the second process sent {len(data)} of {n} bytes")
    return data


def _serve(physics, batch: dict, requests, replies) -> None:
    """The second process: answer blocks until EOF on `requests`."""
    torch.set_num_threads(1)
    n_params, dtype = physics.net.n_params, batch["x"].dtype
    while line := requests.readline():
        request = json.loads(line)
        rows, names = int(request["rows"]), list(request["names"])
        params = np.frombuffer(_read_exactly(requests, 8 * rows * n_params), dtype=np.float64).reshape(rows, n_params)
        try:
            values = physics.evaluate(torch.from_numpy(params.copy()).to(dtype), names, batch=batch,
                                      chunk=_chunk(physics, names, batch))
            out = np.ascontiguousarray(np.stack([values[name].to(torch.float64).numpy() for name in names]))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which then evaluates itself
            replies.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode() + b"\n")
        else:
            replies.write(json.dumps({"rows": rows}).encode() + b"\n")
            replies.write(memoryview(out).cast("B"))
        replies.flush()
