"""Training speed: a plain nn.Module + autograd loop against `pinnviz train` logging every step, per problem.

For each problem the three loops start from the same vector and use the same network, points and Adam:
- plain: the loop a notebook would write (nn.Sequential, torch.autograd for the x-derivatives, one loss);
- bare: pinnviz's training step in a loop (the trainer's optimizer and gradient path), no store;
- train: `pinnviz.trainers.train`, every step and every loss logged to a Zarr store (store creation,
  flushes and the final close included; the diagnostic `test` loss of convection/reaction on every
  50th row, as `pinnviz train` does by default).
Then `pinnviz --help` and `pinnviz info` in fresh processes, and `--seeds 8` as one batch against 8
separate plain loops. Machines are noisy: read the ratios, all measured in this one run. The three loops
of a problem run in turn, back to back, `--repeats` times (in reverse order every other time, so that a
load drifting within a repeat favours none of them); each prints its fastest run (what disturbances,
which only ever add time, least affect; single runs of one loop differ by up to 30% on this machine), and
each ratio is the median over the repeats of that repeat's own ratio (its loops ran under about the same
load; a ratio of two fastest runs from different repeats moved 10-20 points between runs). Each loop is
timed in wall seconds (what a user waits) and in CPU seconds of this process (`time.process_time`, all
its threads; one torch thread by default) and its child processes (the second process kept between runs included).
The two differ for `train` because its store blocks are written on a second thread (`store/_writer.py`,
BackgroundFlusher) and the losses a step did not compute are filled in by a second process
(`trainers/_completer.py`): on a machine with a spare core that work costs the training little wall
time, though its CPU time still counts.

Where `train`'s time over `bare` goes (2026-12-02, timers around each part, medians of 5-8 paired runs):
- poisson1d: the step's own computation takes the same time (paired ratio 0.999). The store's creation
  takes about 30 ms, the fork 7-10 ms, the close 60-80 ms (mostly the one write of the whole run's
  15 MB of rows: a plain 15 MB file write took 12-53 ms on that disk). Logging a row took 25-35 us when
  each row was appended to the writer on its own (9 us timed alone: after a training step the same
  Python runs 3-4 times slower); staged on the device and handed over 64 rows at a time
  (`trainers/_stage.py`) it is 16-20 us.
- hyperelastic2d drm: the second process fills in `pinn` and the errors at 1.5 ms a row (an order-2
  pass) beside a 2.1-2.8 ms step, and the two cores slow each other: a process evaluating those losses
  without pause slowed the bare loop by 9-23%, a busy loop of plain arithmetic by 7%. In three paired
  experiments (8-9 runs each), evaluating in 1-vector chunks (1.2 MB of channels) instead of 4 (4.8 MB)
  gave 1.19x, 1.06x and 1.13x of bare where 4-vector chunks gave 1.30x, 1.13x and 1.23x; a fourth run of
  the 1-vector code gave 1.23x, a fifth 1.03x; this script printed 28% and, on the next commit, 1%.
  Splitting the points as well (4 vectors x 125-250 points, for the 1 MiB L2) was slower (1.27-1.41x):
  more calls, and the second process fell behind. What is left is the two cores contending for the
  floating-point work both do (perhaps the VM's two vCPUs share one physical core); only less work in
  the second process would help.
- convection1d / reaction1d: the store's fixed cost is 100-150 ms, most of it the last row's `test` grid
  (25,600 points, about 50 ms a row), which only the close can evaluate.
Later the same day (paired in-situ scripts, 5-7 pairs):
- the second process had idled 50-60 ms between filling-in jobs and left hyperelastic2d drm's close
  100-150 rows (90-180 ms); a job now goes on with the rows appended meanwhile (store/_writer.py):
  train/bare about 1.23 -> 1.15;
- a fork per run cost a process that had trained before 9,000-11,000 copy-on-write faults a run; the
  process is now kept for the next run of the same physics (trainers/_completer.py, `KEPT`), which
  this script's repeats are: poisson1d drm 1.21 -> 1.13, hyperelastic2d drm 1.17 -> 1.13 (paired against
  a fork per run); a fresh `pinnviz train` pays its one fork, about 1,800 faults;
- hyperelastic2d's body force took 22 ms of every run's set-up, now 0.7 ms.
Two full runs of this script on 2026-12-03 (`--repeats 7`, the same code), log overhead (wall), an hour apart:
poisson1d drm 10% / 17%, pinn 10% / 22%, hyperelastic2d drm 14% / 34%, pinn 11% / 8%, convection1d 15% / 9%,
reaction1d (the first run disturbed) / 6%; train/plain 0.66-0.92 in both; `--seeds 8` 2.5x / 3.0x; `--help`
0.11-0.12 s, `info` 0.18-0.21 s. In the second, every loop ran 1.3-1.6x slower than in the first (plain
poisson1d drm 0.69 against 0.44 ms a step): the host was busy, and the second vCPU was no spare core.
Where train's wall time over bare goes, the same day (timers around each part, medians of 7 pairs):
poisson1d drm: setup 26-36 ms (store creation), loop +7-9%, close 66-94 ms (almost all of it the one
write of the run's 15 MB of rows: a plain 15 MB file write alone took 24 ms, a 2 MiB chunk 7-10 ms, kernel
time); hyperelastic2d drm: setup 32-36 ms, loop +7-8%, close 71-85 ms (59 ms of it the write). With
the second process's evaluation replaced by zeros, the loop's excess fell from 7.4% to 3.2% (poisson1d)
and 4.0% (hyperelastic2d): the rest is the staging, 8-10 us a row after a 0.34 ms poisson1d step, which
slowed that loop by 5-7%. Tried and not kept: writing `params` ahead in whole chunks as the block fills, on
the flusher (poisson1d drm's close fell to 38 ms, but paired train/train-without was 1.049 for poisson1d drm and
1.045 for hyperelastic2d drm: work on the other vCPU slows this one); staging the losses as a list stacked
at the hand-over and the detached view made once (no change measurable: staged loop/bare 1.054-1.066 against 1.054).
`train`'s CPU column counts the kept second process too (`kept_process_seconds`): hyperelastic2d drm's
filling-in (`pinn`, an order-2 pass, and the errors) took more CPU than the step itself, 1.9 ms a row
beside a 1.8 ms step on the busy host; that is the work whose cost on the other vCPU is left.
Later on 2026-12-03 (paired, medians of 5-9): the other vCPU is no spare core. The bare poisson1d loop beside
a process busy without pause ran 1.13x (sigmoid on a tensor) and 1.21x (a pure-Python integer loop) of
alone; beside one writing a 2 MiB file every 0.2 s (3% of its time), 1.10x: writing `params` ahead during
training would pay about what the close's write costs. So the work was made smaller instead:
- a forward pass without autograd whose channels exceed an evaluation chunk's runs in blocks of points
  (problems/_evaluate.py): convection's `test` grid at one vector 0.70x, 8 vectors 0.76x, every loss of a
  convection landscape at the default chunk 0.75x (each a diagnostic row's filling-in or the close's last);
- hyperelastic2d's `max_error` had taken `vector_norm` of a strided view of the channels, 135 us a vector
  against 12 us for the summed squares it now shares with `l2_error`: about a tenth of a `pinn` row's filling-in;
- a trajectory's resume slots are created with its arrays, and the last flush records the status, so the close
  writes nothing more (a zarr node costs 3-5 ms here, most of it file-system calls in zarr's threads).
None of these moved a whole `train` measurably (paired old/new `train`: convection1d 1.05, hyperelastic2d drm
1.02, ranges 0.91-1.37). Timers around each part (7 pairs): poisson1d drm at 4,000 steps, loop/bare 1.145
(the training thread's own CPU 1.136: a thread slowed by the other vCPU takes more CPU), setup 37 ms, close
79 ms; reaction1d total at 400 steps, loop/bare 0.996, setup 71 ms, close 117 ms (the last row's `test` grid
and the 25 MB write of the rows).
In a later session on 2026-12-03 (timers, strace and perf; paired where stated):
- a trajectory's creation had taken 50-80 ms (13 zarr nodes, two rounds of concurrent creations and an
  attribute write); its nodes are now one `create_hierarchy` call from metadata zarr makes once in memory,
  5-9 ms: `store` (a 0-step train) fell from 32-52 ms to 19-25 ms for every problem;
- the fill-in's chunks are balanced (64 rows at 21 a chunk were 21+21+21+1: 30 -> 26 us a poisson1d drm row);
- a block is a whole number of `params` chunks (a 4096-row poisson1d block, 7.5 chunks, had the next write
  read and rewrite a 2 MiB chunk);
- a block's missing losses (convection's last `test` grid at the close) are filled in beside the write
  of its vectors at the last flush: the close's median fell 99 -> 92 ms (9 runs each, noisy);
- a block's write: the training thread, which gives the interpreter lock up and takes it back at every
  tensor operation, waited on it around a flush (strace: 235 ms of waits in the 0.6 s around poisson1d's
  mid-run flush, under strace; without it the steps around that flush took 50-70 ms longer, convection1d's
  one step 20-40 ms: its wall time 30 ms, its CPU 9). zarr's append writes the chunks from several pool
  threads at once; a 16 MB append from a thread slowed 300 bare poisson1d steps 1.27-1.33x (medians of 8,
  three runs), the same bytes written one chunk file after another from one thread 1.06x, from a second
  process that held them 0.94-1.00x. Sending the rows to the second process over a pipe gained nothing
  measurable (paired old/new `train`, 5 pairs, ranges 1.05-1.26): not kept. The rows now go straight into
  their chunk files from the flusher (store/_chunkfiles.py): the steps within 150 ms of convection1d's
  mid-run flush lost 17-54 ms (median 27, 4 runs) against 32-67 ms (median 54) with zarr's append;
- at a mid-run flush the rows left to fill in are filled in before the write again (beside it, they made a
  third busy thread beside the step); only the last flush does both at once.
What is left is mostly the filling-in's own work on the other vCPU: hyperelastic2d drm's `pinn` (1.24 ms
a row, an order-2 pass: 54 elementwise operations and 2 bmm a vector) beside a 1.3 ms step; poisson1d
drm's `pinn` and `l2_error`, 26 us a row (40-80 us beside training) beside a 0.35 ms step; convection1d's
`test` grid every 50th row, 40 ms. Runs of this script (`--repeats 7`), log overhead (wall) of
poisson1d drm, pinn, hyperelastic2d drm, pinn, convection1d, reaction1d: with the first three changes
12%, 13%, 17%, 8%, 13%, 15%; with the chunk files too 16%, 6%, 8%, 11%, 9%, 12%; with the last flush's
files written at once (poisson1d's close 52-62 -> 38-40 ms) 2%, 15%, 10%, 8%, 15%, 6%: the same code moves
by up to 13 points between runs. train/plain 0.24-0.92, `--seeds 8` 3.1-4.2x, `--help` 0.13-0.14 s,
`info` 0.17-0.25 s.
In a session on the evening of 2026-12-03 every loop ran 2-3x slower than on the days before (bare poisson1d
drm 0.68-1.07 ms a step against 0.34-0.44; 40 runs of 1,000 bare steps in a row took 0.70-1.07 s each), and
paired ratios of train/bare moved 0.81-1.37 between repeats. Two mechanisms measured apart:
- a process evaluating hyperelastic2d's `pinn` without pause slowed the bare hyperelastic2d drm loop 1.13x
  (median of 8 pairs, 1.01-1.70), a pure-Python loop 0.94x: the other vCPU's floating-point work, not its
  being busy, slows this one. Filled in on every row, that `pinn` (1.2-1.5 ms a row, an order-2 pass)
  kept the other vCPU busy the whole run; it is now a diagnostic loss of a drm run, on every 50th row and
  the last (`Hyperelastic2D.diagnostics`, as convection's `test`): paired train/bare 1.037 -> 0.939
  (medians of 9, ranges 0.92-1.37 and 0.82-1.40). The second process then spends 0.45-0.51 ms a row
  (on that slow host, beside a 3.7-4.2 ms step) on `max_error` and `l2_error`;
- hyperelastic2d pinn: paired train/bare 0.996 (9 pairs, 0.91-1.20); computing its missing `drm` and errors
  from the step's own fields instead (tried, not kept) gave 1.077 (0.91-1.37).
Two runs of this script (`--repeats 7`), log overhead (wall) of poisson1d drm, pinn, hyperelastic2d drm,
pinn, convection1d, reaction1d: before the diagnostic 3%, 2%, 17%, 11%, 5%, 6%; after it 2%, 14%, 14%,
10%, 5%, 13% (hyperelastic2d drm's fastest train beside its fastest bare, 3.19 against 2.31 ms, came from
different load; the same train and bare, run in turn in one script, took 3.69-4.27 s and 3.81-4.19 s for
1,000 steps, 4 pairs); a third run, on a somewhat faster host (bare poisson1d drm 0.69 ms), 10%, 9%, 16%, 4%,
10%, 9%. train/plain 0.65-0.94 (hyperelastic2d pinn 0.27-0.28), `--seeds 8` 3.5-4.5x, `--help` 0.15-0.25 s,
`info` 0.22-0.35 s. What is left of hyperelastic2d drm's overhead: the second process's `max_error` and
`l2_error`, a value-only pass of 206-238 us a row (chunks of 26 and 5 vectors; 427 at one) beside a 2.0-2.3 ms
step, and the main thread's staging. Computing those two errors from the step's own fields instead (tried,
not kept) gave paired train/bare 1.206 against 1.094 (9 pairs, ranges 1.04-1.61 and 0.97-1.47).

On 2026-12-04 the same 500 bare poisson1d drm steps, run again and again, took 0.57-1.08 ms a step within
one minute, the load moving over seconds (about a loop's length), so the last column prints the quartiles
of the repeats' own log overheads. Timers (poisson1d drm, 7,500 steps, 3-5 runs): train's other threads
took 0.14-0.18 s of CPU (the filling-in's pipe conversation 30-34 ms over 80-90 jobs, the rest the two
blocks' writes), its second process 0.54-0.60 s (72-80 us a row beside training, 41 us alone at its
chunks of 21 vectors), garbage collection under 2 ms. hyperelastic2d drm now runs 2,500 steps (its
60-100 ms of set-up and close were 3-4% of a 1,000-step run). Runs of this script (`--repeats 7`), log
overhead (wall) of poisson1d drm, pinn, hyperelastic2d drm, pinn, convection1d, reaction1d: at 1,000
hyperelastic2d steps 15%, 5%, 6%, 8%, 0%, 5%; at 2,500 10%, 3%, -4%, 4%, 0%, 9% and 5.1%, 5.5%, 8.7%, 6.8%,
1.8%, 6.6% (quartiles of the last from -1..+10% to +4..+20%); train/plain 0.64-0.92 (hyperelastic2d pinn
0.27-0.28), `--seeds 8` 3.4-4.0x, `--help` 0.21-0.24 s, `info` 0.21-0.34 s.

    python benchmarks/bench_train_speed.py [--threads 1] [--scale 1.0] [--repeats 5] [--problems poisson1d-pinn,...]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from pinnviz._malloc import keep_freed_memory
from pinnviz.problems import PhysicsLosses, build_physics
from pinnviz.trainers import TrainConfig, train
from pinnviz.trainers._completer import KEPT
from pinnviz.trainers._optim import make_optimizer
from pinnviz.trainers._train import _step_names, uses_pullback

# name -> (problem, objective, steps at --scale 1). A store's fixed cost (its creation and the last block's
# write and filling-in: about 50-200 ms, `store` prints a part of it) weighs on `log overhead` as much as on a
# real run only at a real run's length: poisson1d runs `pinnviz train`'s default 7,500 steps (3-5 s a loop);
# the others are shorter (2-7 s a loop, where 7,500 steps would take 15-65 s), which overstates the weight
# of their fixed cost 3-19 times. hyperelastic2d drm ran 1,000 steps until 2026-12-04, where its 60-100 ms
# of set-up and close were 3-4% of the 2-3 s run
CASES = {
    "poisson1d-drm": ("poisson1d", "drm", 7500),
    "poisson1d-pinn": ("poisson1d", "pinn", 7500),
    "hyperelastic2d-drm": ("hyperelastic2d", "drm", 2500),
    "hyperelastic2d-pinn": ("hyperelastic2d", "pinn", 400),
    "convection1d-total": ("convection1d", "total", 400),
    "reaction1d-total": ("reaction1d", "total", 400),
}


# ------------------------------------------------------------------ the plain loops
def plain_module(physics: PhysicsLosses, theta: torch.Tensor) -> torch.nn.Module:
    net = physics.net
    layers: list[torch.nn.Module] = []
    fan_in = net.inputs
    for _ in range(net.depth):
        layers += [torch.nn.Linear(fan_in, net.width), torch.nn.Tanh()]
        fan_in = net.width
    layers.append(torch.nn.Linear(fan_in, net.outputs, bias=net.output_bias))
    module = torch.nn.Sequential(*layers).to(theta.dtype)
    torch.nn.utils.vector_to_parameters(theta.clone(), module.parameters())
    return module


def poisson_loss(module, data, loss):
    x = data["x"]
    u = torch.sin(math.pi * x) * module(x)
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    if loss == "drm":
        return ((0.5 * du[:, 0] ** 2 - data["f"] * u[:, 0]) * data["w"]).sum()
    (d2u,) = torch.autograd.grad(du.sum(), x, create_graph=True)
    return 0.5 * (((d2u[:, 0] + data["f"]) ** 2) * data["w"]).sum()


def hyperelastic_loss(module, data, loss, l1, l2):
    x, w, B = data["x"], data["w"], data["B"]
    u = (1 - (x * x).sum(1, keepdim=True)) * module(x)
    grad = torch.stack([torch.autograd.grad(u[:, i].sum(), x, create_graph=True)[0] for i in range(2)], dim=1)
    F = torch.eye(2, dtype=x.dtype) + grad
    log_j = torch.log(torch.linalg.det(F))
    if loss == "drm":
        return ((0.5 * l1 * ((F * F).sum((1, 2)) - 2 * log_j) + 0.5 * l2 * log_j**2 - (u * B).sum(1)) * w).sum()
    F_inv_t = torch.linalg.inv(F).transpose(1, 2)
    P = l1 * (F - F_inv_t) + l2 * log_j[:, None, None] * F_inv_t
    div = torch.stack([sum(torch.autograd.grad(P[:, i, j].sum(), x, create_graph=True)[0][:, j] for j in range(2))
                       for i in range(2)], dim=1)
    return 0.5 * (((div + B) ** 2).sum(1) * w).sum()


def spacetime_loss(module, data, problem):
    xr = data["residual"]
    u = module(xr)[:, 0]
    (du,) = torch.autograd.grad(u.sum(), xr, create_graph=True)
    r = problem.pde_residual(u, du[:, 0], du[:, 1])
    ic = ((module(data["ic"])[:, 0] - data["h"]) ** 2).mean()
    bc = ((module(data["bc0"])[:, 0] - module(data["bc1"])[:, 0]) ** 2).mean()
    return problem.c_r * (r**2).mean() + problem.c_ic * ic + problem.c_bc * bc


def plain_setup(physics: PhysicsLosses, loss: str):
    """The points and data of the problem as plain tensors, and loss(module) -> scalar."""
    problem = physics.problem
    if problem.name == "poisson1d":
        batch = problem.sample()
        data = {"x": batch["x"].clone().requires_grad_(True), "w": batch["w"], "f": batch["f"]}
        return lambda module: poisson_loss(module, data, loss)
    if problem.name == "hyperelastic2d":
        batch = problem.sample()
        data = {"x": batch["x"].clone().requires_grad_(True), "w": batch["w"], "B": batch["B"]}
        return lambda module: hyperelastic_loss(module, data, loss, problem.lame1, problem.lame2)
    sets = problem.point_sets()
    data = {**sets, "residual": sets["residual"].clone().requires_grad_(True), "h": problem.initial(sets["ic"][:, 0])}
    return lambda module: spacetime_loss(module, data, problem)


def plain_training(physics: PhysicsLosses, loss: str, theta0: torch.Tensor, steps: int) -> float:
    module = plain_module(physics, theta0)
    loss_of = plain_setup(physics, loss)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        value = loss_of(module)
        value.backward()
        optimizer.step()
    return float(value.detach())


# ------------------------------------------------------------------ pinnviz
def bare_training(physics: PhysicsLosses, loss: str, theta0: torch.Tensor, steps: int) -> float:
    """pinnviz's training step without a store: the trainer's optimizer and gradient path, nothing logged."""
    theta = torch.nn.Parameter(theta0.clone())
    optimizer = make_optimizer("adam", theta, 1e-3)
    batch = physics.prepare(theta.detach())
    names = _step_names(physics, [loss])
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        if uses_pullback(physics):
            values, theta.grad = physics.loss_and_grad(theta, names, lambda v: v[loss], batch)
        else:
            values = physics(theta, names, batch)
            values[loss].sum().backward()
        optimizer.step()
    return float(values[loss].detach().sum())


def logged_training(physics: PhysicsLosses, loss: str, steps: int, folder: Path, seeds: int = 1) -> tuple:
    """(wall, CPU) seconds of `train` into a new store (created, filled and closed), then deleted."""
    path = folder / f"run-{time.monotonic_ns()}.zarr"
    seconds = timed(train, path, physics, TrainConfig(loss=loss, steps=steps, seeds=seeds))
    shutil.rmtree(path)
    return seconds


def kept_process_seconds() -> float:
    """CPU seconds of training's second process kept, idle, between runs (trainers/_completer.py: KEPT): a
    child not reaped, so not yet in RUSAGE_CHILDREN; once reaped its whole time is there instead."""
    pid = KEPT.pid()
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # not Linux, or it exited meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def timed(fn, *args) -> tuple[float, float]:
    """(wall, CPU) seconds of fn(*args); CPU of this process, all threads, of the child processes it
    reaped and of the one it keeps (training's second process, trainers/_completer.py)."""
    def cpu_seconds() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime + kept_process_seconds()

    wall, cpu = time.perf_counter(), cpu_seconds()
    fn(*args)
    return time.perf_counter() - wall, cpu_seconds() - cpu


def paired_ratios(runs: list, loop: int, reference: int, clock: int) -> list[float]:
    """One loop's time over another's in each repeat (`clock` 0: wall, 1: CPU).

    The loops of a repeat run back to back, under about the same load; the load changes between repeats,
    so a ratio of two fastest runs, taken from different repeats, moves more than these."""
    return [run[loop][clock] / run[reference][clock] for run in runs]


def paired_ratio(runs: list, loop: int, reference: int, clock: int) -> float:
    """The median of `paired_ratios`."""
    return statistics.median(paired_ratios(runs, loop, reference, clock))


def quartiles(values: list[float]) -> tuple[float, float]:
    """The first and third quartiles (the middle half of the repeats lies between them)."""
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def cli_seconds(args: list[str], repeats: int = 3) -> tuple[float, float]:
    """Fastest (wall, CPU) seconds of `python -m pinnviz ARGS` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pinnviz", *args], check=True, capture_output=True, env=env)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return min(walls), min(cpus)


def per_step_loops(physics: PhysicsLosses, loss: str, theta0: torch.Tensor, steps: int, folder: Path) -> tuple:
    """The three loops of a problem, each a call returning [wall, CPU] seconds per step."""
    return (lambda: [t / steps for t in timed(plain_training, physics, loss, theta0[0], steps)],
            lambda: [t / steps for t in timed(bare_training, physics, loss, theta0, steps)],
            lambda: [t / (steps + 1) for t in logged_training(physics, loss, steps, folder)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every problem's step count")
    parser.add_argument("--problems", default=",".join(CASES), help="comma-separated, from: " + ", ".join(CASES))
    parser.add_argument("--repeats", type=int, default=5, help="runs of each loop, in turn: the fastest is printed, "
                        "the ratios are medians of the repeats' own")
    parser.add_argument("--seeds", type=int, default=8, help="seeds of the batch comparison (poisson1d pinn)")
    args = parser.parse_args()
    unknown = [case for case in args.problems.split(",") if case not in CASES]
    if unknown:
        parser.error(f"unknown problem {unknown[0]!r}; choose from {', '.join(CASES)}")
    if min(args.repeats, args.threads, args.seeds) < 1 or not args.scale > 0:
        parser.error("--repeats, --threads and --seeds must be >= 1 and --scale > 0")
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as `pinnviz` does at start (pinnviz/_malloc.py)
    print(f"threads={args.threads} torch={torch.__version__} float64; ms per step (wall | CPU), fastest of "
          f"{args.repeats}; ratios: medians of each repeat's own ratio")
    print(f"{'':<28}{'plain':>14}{'bare':>14}{'train':>14}{'train/plain':>12}{'log overhead':>14}{'store':>7}"
          f"{'overhead':>14}")
    print(f"{'problem':<22}{'steps':>6}" + f"{'wall':>7}{'cpu':>7}" * 3 + f"{'wall':>6}{'cpu':>6}"
          + f"{'wall':>7}{'cpu':>7}{'ms':>7}{'quartiles':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case in args.problems.split(","):
            problem, loss, steps = CASES[case]
            steps = max(10, int(steps * args.scale))
            physics = build_physics(problem)
            theta0 = physics.net.init(1, generator=torch.Generator().manual_seed(0))
            warm = max(5, steps // 20)
            plain_training(physics, loss, theta0[0], warm)
            bare_training(physics, loss, theta0, warm)
            logged_training(physics, loss, warm, folder)
            runs, store = [], []
            # plain and bare time `steps` steps; train logs steps + 1 rows
            loops = per_step_loops(physics, loss, theta0, steps, folder)
            for repeat in range(args.repeats):
                # every other repeat in reverse order: a load that drifts within a repeat favours no loop
                order = range(3) if repeat % 2 == 0 else range(2, -1, -1)
                measured = {loop: loops[loop]() for loop in order}
                runs.append(tuple(measured[loop] for loop in range(3)))
                store.append(logged_training(physics, loss, 0, folder)[0])  # one row: the fixed cost
            plain, bare, logged = ([min(run[loop][i] for run in runs) for i in range(2)] for loop in range(3))
            times = "".join(f"{1e3 * x[0]:>7.2f}{1e3 * x[1]:>7.2f}" for x in (plain, bare, logged))
            ratio = "".join(f"{paired_ratio(runs, 2, 0, i):>6.2f}" for i in range(2))
            overhead = "".join(f"{100 * (paired_ratio(runs, 2, 1, i) - 1):>6.1f}%" for i in range(2))
            q1, q3 = quartiles(paired_ratios(runs, 2, 1, 0))
            spread = f"{100 * (q1 - 1):>+5.0f}..{100 * (q3 - 1):+.0f}%"
            print(f"{case:<22}{steps:>6}{times}{ratio}{overhead}{1e3 * min(store):>7.0f}{spread:>14}")
        print("targets: train/plain <= 1.00x, log overhead (train vs bare) <= 10%; store: `train` of 0 steps "
              "(create, one row, close; no second process), wall; quartiles: the middle half of the repeats' "
              "own wall overheads")

        steps = max(10, int(500 * args.scale))
        physics = build_physics("poisson1d")
        thetas = physics.net.init(args.seeds, generator=torch.Generator().manual_seed(0))
        separate = sum(timed(plain_training, physics, "pinn", thetas[k], steps)[0] for k in range(args.seeds))
        batch = logged_training(physics, "pinn", steps, folder, seeds=args.seeds)[0]
        print(f"--seeds {args.seeds} (poisson1d pinn, {steps} steps, wall): {args.seeds} plain loops {separate:.2f} s, "
              f"one pinnviz batch logging every step {batch:.2f} s: speed-up {separate / batch:.1f}x")

        store = folder / "info.zarr"
        train(store, physics, TrainConfig(loss="pinn", steps=20))
        for label, cli_args in (("pinnviz --help", ["--help"]), ("pinnviz info", ["info", str(store)])):
            wall, cpu = cli_seconds(cli_args)
            print(f"fresh process: {label:<15} {wall:.2f} s wall, {cpu:.2f} s CPU (target < 1 s)")


if __name__ == "__main__":
    main()
