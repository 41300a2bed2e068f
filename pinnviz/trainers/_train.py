"""Training loops that log every parameter vector, with every loss component, to a store."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from pinnviz.errors import IncompatibleRunError, InvalidSettingError, NonFiniteError, unknown_name
from pinnviz.problems import PhysicsLosses
from pinnviz.store import Run, TrajectoryWriter, create_run, open_run
from pinnviz.trainers._optim import OPTIMIZERS, load_optimizer_rows, make_optimizer, optimizer_rows

DTYPES = {"float64": torch.float64, "float32": torch.float32}

# progress(step, total_steps, {loss name: (K,) numpy}) after every logged step
ProgressFn = Callable[[int, int, dict], None]


@dataclass
class TrainConfig:
    """Settings of one training job (K seeds trained together as one batch)."""

    loss: str = "pinn"
    optimizer: str = "adam"
    lr: float = 1e-3
    steps: int = 7500
    seed: int = 0
    seeds: int = 1
    init_scale: float = 1.0
    log_every: int = 1
    device: str = "cpu"
    dtype: str = "float64"

    def validate(self, physics: PhysicsLosses) -> None:
        physics.check_names([self.loss])
        if self.optimizer not in OPTIMIZERS:
            raise unknown_name("optimizer", self.optimizer, OPTIMIZERS)
        if self.dtype not in DTYPES:
            raise unknown_name("dtype", self.dtype, DTYPES)
        for label, value, low in (("steps", self.steps, 0), ("seeds", self.seeds, 1),
                                  ("log_every", self.log_every, 1)):
            if int(value) < low:
                raise InvalidSettingError(f"{label}={value} must be >= {low}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InvalidSettingError(f"lr={self.lr} must be a positive number")
        if not (self.init_scale > 0 and math.isfinite(self.init_scale)):
            raise InvalidSettingError(f"init_scale={self.init_scale} must be a positive number")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise InvalidSettingError(f"device={self.device!r} but CUDA is not available; use --device cpu")


def trajectory_names(config: TrainConfig, name: str | None) -> list[str]:
    base = name or f"{config.loss}-{config.optimizer}"
    if config.seeds == 1 and name:
        return [name]
    return [f"{base}-seed{config.seed + k}" for k in range(config.seeds)]


def initial_parameters(physics: PhysicsLosses, config: TrainConfig) -> torch.Tensor:
    """One vector per seed, each from its own generator: K seeds together equal K single runs."""
    rows = [physics.net.init(1, scale=config.init_scale, generator=torch.Generator().manual_seed(config.seed + k))
            for k in range(config.seeds)]
    return torch.cat(rows)


def train(path, physics: PhysicsLosses, config: TrainConfig, *, name: str | None = None,
          progress: ProgressFn | None = None) -> list[str]:
    """Train `config.seeds` initialisations at once and store each as a trajectory of `path`.

    Returns the trajectory names. Row t of each trajectory holds the parameters after
    `step[t]` optimizer steps and every loss of that very vector; the final vector is included.
    """
    config.validate(physics)
    run = create_run(path, physics.problem.settings(), physics.net.settings())
    names = trajectory_names(config, name)
    existing = set(run.trajectory_names())
    clash = [n for n in names if n in existing]
    if clash:
        raise IncompatibleRunError(f"trajectory {clash[0]!r} already exists in {path}; choose another --name")
    batch_id = uuid.uuid4().hex[:12]
    writers = []
    for k, traj in enumerate(names):
        attrs = {**asdict(config), "seed": config.seed + k, "seeds_in_batch": config.seeds,
                 "batch": batch_id, "batch_index": k, "objective": config.loss,
                 "init": {"kind": "pytorch-default", "scale": config.init_scale}}
        writers.append(TrajectoryWriter.create(run.group["trajectories"], traj, physics.net.n_params,
                                               physics.names, attrs))
    theta0 = initial_parameters(physics, config)
    _run_loop(physics, config, writers, theta0, start_step=0, progress=progress)
    return names


def resumable(run: Run) -> dict[str, list[str]]:
    """Batches of trajectories that did not complete: batch id -> names in batch order."""
    batches: dict[str, list[tuple[int, str]]] = {}
    for traj in run.trajectory_names():
        attrs = run.trajectory_attrs(traj)
        interrupted = str(attrs.get("failure", "")).startswith("interrupted")
        if (attrs.get("status") == "running" or interrupted) and "batch" in attrs:
            batches.setdefault(attrs["batch"], []).append((attrs.get("batch_index", 0), traj))
    return {b: [n for _, n in sorted(items)] for b, items in batches.items()}


def resume(path, *, progress: ProgressFn | None = None) -> list[str]:
    """Continue every trajectory of the store left 'running' (by a killed process) to its last step."""
    run = open_run(path, mode="r+")
    batches = resumable(run)
    if not batches:
        raise IncompatibleRunError(f"{path} has no interrupted trajectory to resume")
    physics = run.physics()
    done: list[str] = []
    for names in batches.values():
        attrs = run.trajectory_attrs(names[0])
        fields = TrainConfig.__dataclass_fields__
        config = TrainConfig(**{k: attrs[k] for k in fields if k in attrs})
        config.seed, config.seeds = attrs["seed"] - attrs.get("batch_index", 0), len(names)
        writers = [TrajectoryWriter(run.trajectory_group(n)) for n in names]
        for writer in writers:
            writer.reopen()
        if any(w.length == 0 for w in writers):
            theta0, start, rows = initial_parameters(physics, config), 0, None
        else:
            states = [w.read_resume() for w in writers]
            theta0 = torch.stack([torch.as_tensor(run.group[f"trajectories/{n}/params"][w.length - 1])
                                  for n, w in zip(names, writers, strict=True)])
            start = int(states[0][1]["step"])
            if any(int(s[1]["step"]) != start for s in states):
                raise IncompatibleRunError(f"trajectories {names} of one batch stopped at different steps")
            rows = [{k[len("opt_"):]: v for k, v in s.items() if k.startswith("opt_")} for s, _ in states]
            rng = states[0][0].get("rng")
            if rng is not None and hasattr(physics.problem, "quadrature"):
                physics.problem.quadrature.generator.set_state(torch.as_tensor(rng, dtype=torch.uint8))
        _run_loop(physics, config, writers, theta0, start_step=start, progress=progress,
                  optimizer_rows_state=rows)
        done += names
    return done


def _run_loop(physics: PhysicsLosses, config: TrainConfig, writers: list[TrajectoryWriter],
              theta0: torch.Tensor, *, start_step: int, progress: ProgressFn | None,
              optimizer_rows_state=None) -> None:
    dtype, device = DTYPES[config.dtype], torch.device(config.device)
    theta = torch.nn.Parameter(theta0.to(device, dtype))
    optimizer = make_optimizer(config.optimizer, theta, config.lr)
    if optimizer_rows_state:
        load_optimizer_rows(optimizer, theta, optimizer_rows_state)
    names, objective = physics.names, config.loss
    problem = physics.problem
    fixed_batch = None if getattr(problem.quadrature, "stochastic", False) else physics.prepare(theta.detach())
    if fixed_batch is not None:
        # On a fixed quadrature the other loss components of the logged rows are evaluated a block
        # at a time when the rows are flushed (batched, no autograd): the step itself computes only
        # the objective, which keeps logging nearly free (benchmarks/bench_logging_overhead.py).
        step_names = [objective]

        def complete(params: np.ndarray, missing: list[str]) -> dict[str, np.ndarray]:
            block = torch.as_tensor(params).to(device, dtype)
            values = physics.evaluate(block, missing, batch=fixed_batch)
            return {k: v.to("cpu", torch.float64).numpy() for k, v in values.items()}

        for writer in writers:
            writer.complete_losses = complete
    else:  # a Monte Carlo quadrature is re-drawn every step: all components on this step's points
        step_names = list(names)
    failed = None
    try:
        for step in range(start_step, config.steps + 1):
            rng = problem.quadrature.generator.get_state() if fixed_batch is None else None
            losses = physics(theta, step_names, fixed_batch)
            on_grid = step % config.log_every == 0 or step == config.steps
            if on_grid and (step > start_step or start_step == 0):  # a resumed start row is stored
                _log_row(writers, step, theta, losses, optimizer, rng, progress, config.steps)
                values = losses[objective].detach()
                if not bool(torch.isfinite(values).all()):
                    failed = f"{objective} became non-finite at step {step}"
                    break
            if step == config.steps:
                break
            optimizer.zero_grad(set_to_none=True)
            losses[objective].sum().backward()
            optimizer.step()
    except BaseException as exc:
        for writer in writers:  # unflushed rows are dropped: the store stays resumable
            writer.abort("failed", failure=f"interrupted ({type(exc).__name__})")
        raise
    for writer in writers:
        writer.close("failed" if failed else "complete", **({"failure": failed} if failed else {}))
    if failed:
        raise NonFiniteError(f"training stopped: {failed}; the store keeps the rows up to it")


def _log_row(writers, step, theta, losses, optimizer, rng, progress, total) -> None:
    params = theta.detach().to("cpu", torch.float64).numpy()
    values = {k: v.detach().to("cpu", torch.float64).numpy() for k, v in losses.items()}
    for k, writer in enumerate(writers):
        writer.append(step, params[k], {name: values[name][k] for name in values})
    if writers[0].due() or step == total:
        state = optimizer_rows(optimizer, theta)
        for k, writer in enumerate(writers):
            resume_state = {f"opt_{key}": value for key, value in state[k].items()}
            if rng is not None:  # the sampler state before this row's quadrature was drawn
                resume_state["rng"] = rng.numpy()
            writer.flush(resume_state, {"step": step})
    if progress is not None:
        progress(step, total, values)
