"""Training loops that log every parameter vector, with every loss component, to a store."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import IncompatibleRunError, InvalidSettingError, NonFiniteError, unknown_name
from pinnviz.problems import PhysicsLosses
from pinnviz.store import Run, TrajectoryWriter, create_run, open_run
from pinnviz.store._names import check_name
from pinnviz.store._run import check_new_store
from pinnviz.store._writer import STORE_DTYPES, BackgroundFlusher
from pinnviz.trainers._balance import BALANCERS, Balancer, make_balancer
from pinnviz.trainers._completer import RowCompleter
from pinnviz.trainers._optim import (
    OPTIMIZERS,
    load_optimizer_rows,
    make_lbfgs,
    make_optimizer,
    optimizer_rows,
)
from pinnviz.trainers._stage import RowStage

DTYPES = {"float64": torch.float64, "float32": torch.float32}
MAX_SEEDS = 1000  # trajectories trained in one batch: each is a store group with its own write buffer

# progress(step, total_steps, {loss name: (K,) numpy}) after every hand-over of logged rows (every 64 rows or
# 40 ms, and the last step; trainers/_stage.py), with the losses the step computed for the last row
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
    store_dtype: str = "float64"  # of the stored parameter vectors ("float32" halves the store)
    # L-BFGS ("lbfgs", or "adam+lbfgs" switching at step `lbfgs_after`); one iteration per step
    lbfgs_after: int = 0
    lbfgs_lr: float = 1.0
    lbfgs_history: int = 50
    # loss balancing of the problem's components (see trainers/_balance.py)
    balance: str = "none"
    weights: list | None = None
    balance_every: int = 1
    lra_alpha: float = 0.9
    dwa_temperature: float = 2.0
    gradnorm_alpha: float = 1.5
    gradnorm_lr: float = 0.01
    ntk_points: int = 64
    # a problem's diagnostic losses (convection's `test` grid) on every N-th logged row and the last
    diagnostics_every: int = 50

    def validate(self, physics: PhysicsLosses) -> None:
        physics.check_names([self.loss])
        if self.optimizer not in OPTIMIZERS:
            raise unknown_name("optimizer", self.optimizer, OPTIMIZERS)
        if self.balance not in BALANCERS:
            raise unknown_name("balancing method", self.balance, BALANCERS)
        if self.balance != "none" and not hasattr(physics.problem, "components"):
            raise InvalidSettingError(f"{physics.problem.name} has no loss components to balance; "
                                      "use a problem such as convection1d")
        if self.optimizer == "adam+lbfgs" and not 0 <= self.lbfgs_after <= self.steps:
            raise InvalidSettingError(f"lbfgs_after={self.lbfgs_after} must be between 0 and steps={self.steps}")
        for label, value in (("balance_every", self.balance_every), ("ntk_points", self.ntk_points),
                             ("lbfgs_history", self.lbfgs_history), ("diagnostics_every", self.diagnostics_every)):
            if int(value) < 1:
                raise InvalidSettingError(f"{label}={value} must be >= 1")
        if self.dtype not in DTYPES:
            raise unknown_name("dtype", self.dtype, DTYPES)
        if self.store_dtype not in STORE_DTYPES:
            raise unknown_name("store dtype", self.store_dtype, STORE_DTYPES)
        for label, value, low in (("steps", self.steps, 0), ("seeds", self.seeds, 1),
                                  ("log_every", self.log_every, 1)):
            if int(value) < low:
                raise InvalidSettingError(f"{label}={value} must be >= {low}")
        if self.seeds > MAX_SEEDS:
            raise InvalidSettingError(f"seeds={self.seeds} is more than {MAX_SEEDS} trajectories in one batch; "
                                      f"train them in batches (--seed 0 --seeds {MAX_SEEDS}, then --seed "
                                      f"{MAX_SEEDS} ...)")
        if self.weights is not None and self.balance != "cw":
            raise InvalidSettingError(f"--weights applies to --balance cw, not to --balance {self.balance}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InvalidSettingError(f"lr={self.lr} must be a positive number")
        if not (self.init_scale > 0 and math.isfinite(self.init_scale)):
            raise InvalidSettingError(f"init_scale={self.init_scale} must be a positive number")
        check_device(self.device)


def trajectory_names(config: TrainConfig, name: str | None) -> list[str]:
    base = name or f"{config.loss}-{config.optimizer}" + (f"-{config.balance}" if config.balance != "none" else "")
    if config.seeds == 1 and name:
        return [name]
    return [f"{base}-seed{config.seed + k}" for k in range(config.seeds)]


def initial_parameters(physics: PhysicsLosses, config: TrainConfig) -> torch.Tensor:
    """One vector per seed, each from its own generator: K seeds together equal K single runs."""
    rows = [physics.net.init(1, scale=config.init_scale, generator=torch.Generator().manual_seed(config.seed + k))
            for k in range(config.seeds)]
    return torch.cat(rows)


def train(path, physics: PhysicsLosses, config: TrainConfig, *, name: str | None = None,
          progress: ProgressFn | None = None, second_process: bool = True) -> list[str]:
    """Train `config.seeds` initialisations at once and store each as a trajectory of `path`.

    Returns the trajectory names. Row t of each trajectory holds the parameters after
    `step[t]` optimizer steps and every loss of that very vector; the final vector is included.
    The losses a step does not compute are filled in beside training; `second_process` lets a long
    run do that in a second process, on a spare core (trainers/_completer.py; the values are the same).
    """
    # every check before anything is created: a refused option leaves no store and no empty trajectory
    config.validate(physics)
    names = trajectory_names(config, name)
    if name is not None:
        check_name("trajectory" if config.seeds == 1 else "trajectory prefix", name)
    for traj in names:
        check_name("trajectory", traj)
    _balancer(physics, config, 1, DTYPES[config.dtype])  # e.g. --weights of the wrong length
    existing_run = check_new_store(path, physics.problem.settings(), physics.net.settings())
    existing = set(existing_run.group["trajectories"].keys()) if existing_run is not None and \
        "trajectories" in existing_run.group else set()
    clash = [n for n in names if n in existing]
    if clash:
        raise IncompatibleRunError(f"trajectory {clash[0]!r} already exists in {path}; choose another --name")
    run = create_run(path, physics.problem.settings(), physics.net.settings())
    batch_id = uuid.uuid4().hex[:12]
    writers = []
    for k, traj in enumerate(names):
        attrs = {**asdict(config), "seed": config.seed + k, "seeds_in_batch": config.seeds,
                 "batch": batch_id, "batch_index": k, "objective": config.loss,
                 "diagnostic_losses": _diagnostics(physics, config),
                 "init": {"kind": "pytorch-default", "scale": config.init_scale}}
        writers.append(TrajectoryWriter.create(run.group["trajectories"], traj, physics.net.n_params,
                                               physics.names, attrs, weight_names=_components(physics, config),
                                               store_dtype=config.store_dtype))
    theta0 = initial_parameters(physics, config)
    _run_loop(physics, config, writers, theta0, start_step=0, progress=progress, second_process=second_process)
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


def resume(path, *, progress: ProgressFn | None = None, second_process: bool = True) -> list[str]:
    """Continue every trajectory of the store left 'running' (by a killed process) to its last step
    (`second_process` as for `train`)."""
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
        if not attrs.get("diagnostic_losses"):  # every row has every loss (written before diagnostics were
            # thinned, before this problem had one, or with --diagnostics-every 1): so do the resumed rows
            config.diagnostics_every = 1
        config.seed, config.seeds = attrs["seed"] - attrs.get("batch_index", 0), len(names)
        writers = [TrajectoryWriter(run.trajectory_group(n)) for n in names]
        for writer in writers:
            writer.reopen()
        balance_rows, resumed = None, False
        if any(w.length == 0 for w in writers):
            theta0, start, rows = initial_parameters(physics, config), 0, None
        else:
            states = [w.read_resume() for w in writers]
            # a float32 store keeps the unrounded last vector in its resume slot ("theta")
            theta0 = torch.stack([torch.as_tensor(s[0]["theta"] if "theta" in s[0] else
                                                  run.group[f"trajectories/{n}/params"][w.length - 1]
                                                  ).to(torch.float64)
                                  for n, w, s in zip(names, writers, states, strict=True)])
            start = int(states[0][1]["step"])
            if any(int(s[1]["step"]) != start for s in states):
                raise IncompatibleRunError(f"trajectories {names} of one batch stopped at different steps")
            if states[0][1].get("lbfgs"):
                raise IncompatibleRunError(f"{names[0]} stopped during L-BFGS, whose history is not stored; "
                                           "resuming L-BFGS is not supported: train it again")
            rows = [{k[len("opt_"):]: v for k, v in s.items() if k.startswith("opt_")} for s, _ in states]
            resumed = True
            balance_rows = [{k[len("bal_"):]: v for k, v in s.items() if k.startswith("bal_")} for s, _ in states]
            rng = states[0][0].get("rng")
            if rng is not None and hasattr(physics.problem, "quadrature"):
                physics.problem.quadrature.generator.set_state(torch.as_tensor(rng, dtype=torch.uint8))
        _run_loop(physics, config, writers, theta0, start_step=start, progress=progress,
                  optimizer_rows_state=rows, balance_rows=balance_rows, start_stored=resumed,
                  second_process=second_process)
        done += names
    return done


def _components(physics: PhysicsLosses, config: TrainConfig) -> tuple[str, ...]:
    """The balanced loss components (their weights are logged), or () without balancing."""
    return tuple(physics.problem.components) if config.balance != "none" else ()


def _step_names(physics: PhysicsLosses, needed: list[str]) -> list[str]:
    """The `needed` losses and those computed on the way to them: the components of a `total`.

    Any other loss is cheaper in the block evaluation at a flush (batched, no autograd) than as extra
    operations in every step, even where the step's forward pass would serve it.
    """
    by_products = getattr(physics.problem, "components", ()) if "total" in needed else ()
    return list(dict.fromkeys([*needed, *by_products]))


def _diagnostics(physics: PhysicsLosses, config: TrainConfig) -> list[str]:
    """The losses logged only on diagnostic rows (see `diagnostic_rows`); the objective is never one."""
    if config.diagnostics_every == 1:
        return []
    return [name for name in getattr(physics.problem, "diagnostics", ()) if name != config.loss]


def diagnostic_rows(steps: np.ndarray, config: TrainConfig) -> np.ndarray:
    """Which logged steps hold the diagnostic losses: multiples of log_every * diagnostics_every, and the last."""
    return (steps % (config.log_every * config.diagnostics_every) == 0) | (steps == config.steps)


def _balancer(physics: PhysicsLosses, config: TrainConfig, rows: int, dtype) -> Balancer | None:
    components = _components(physics, config)
    if config.balance == "cw" and config.weights is None:
        problem = physics.problem
        weights = [getattr(problem, {"residual": "c_r"}.get(c, f"c_{c}"), 1.0) for c in components]
    else:
        weights = config.weights
    return make_balancer(config.balance, rows, components, weights=weights, every=config.balance_every,
                         lra_alpha=config.lra_alpha, dwa_temperature=config.dwa_temperature,
                         gradnorm_alpha=config.gradnorm_alpha, gradnorm_lr=config.gradnorm_lr,
                         seed=config.seed, dtype=dtype)


def _on_cpu(values: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor] | None:
    """Detached CPU copies of a dict of tensors (the same tensors, detached, when they are on the CPU)."""
    return None if values is None else {name: value.detach().cpu() for name, value in values.items()}


def _ntk_traces(physics: PhysicsLosses, theta: torch.Tensor, batch: dict, components, subset) -> torch.Tensor:
    """Mean diagonal of each component's NTK block for every row of theta: (G, C)."""
    from pinnviz.trainers._jacobian import point_jacobians

    rows = []
    for k in range(theta.shape[0]):
        jac = point_jacobians(physics, theta[k], batch, subset)
        rows.append(torch.stack([jac[c].square().sum(dim=1).mean() for c in components]))
    return torch.stack(rows)


def _ntk_subset(physics: PhysicsLosses, config: TrainConfig) -> dict[str, torch.Tensor]:
    """A seeded subset of at most `ntk_points` points per component."""
    g = torch.Generator().manual_seed(config.seed)
    problem = physics.problem
    sizes = {"residual": problem.points, "ic": problem.ic_points, "bc": problem.bc_points}
    return {c: torch.randperm(n, generator=g)[: config.ntk_points] for c, n in sizes.items()}


def _run_loop(physics: PhysicsLosses, config: TrainConfig, writers: list[TrajectoryWriter],
              theta0: torch.Tensor, *, start_step: int, progress: ProgressFn | None,
              optimizer_rows_state=None, balance_rows=None, start_stored: bool = False,
              second_process: bool = True) -> None:
    dtype, device = DTYPES[config.dtype], torch.device(config.device)
    theta = torch.nn.Parameter(theta0.to(device, dtype))
    lbfgs_from = {"lbfgs": 0, "adam+lbfgs": config.lbfgs_after}.get(config.optimizer)
    first = "adam" if config.optimizer == "adam+lbfgs" else config.optimizer
    optimizer = make_optimizer(first, theta, config.lr) if config.optimizer != "lbfgs" else None
    if optimizer_rows_state and optimizer is not None:
        load_optimizer_rows(optimizer, theta, optimizer_rows_state)
    rows: list[torch.Tensor] | None = None  # one leaf per trajectory during L-BFGS
    lbfgs: list[torch.optim.LBFGS] = []
    names, objective = physics.names, config.loss
    components = _components(physics, config)
    balancer = _balancer(physics, config, theta.shape[0], dtype)
    if balancer is not None and balance_rows:
        balancer.load_rows(balance_rows)
    problem = physics.problem
    fixed_batch = None if getattr(problem.quadrature, "stochastic", False) else physics.prepare(theta.detach())
    subset = _ntk_subset(physics, config) if balancer is not None and balancer.needs_jacobians else None
    if fixed_batch is not None:
        # On a fixed quadrature the step computes the objective and its by-products; the other losses of
        # the logged rows are evaluated a block at a time when the rows are flushed (batched, no
        # autograd), which keeps logging cheap (benchmarks/bench_train_speed.py).
        step_names = _step_names(physics, [*components, objective])

        diagnostics = _diagnostics(physics, config)
        missing = [name for name in names if name not in step_names and name not in diagnostics]
        rows_expected = len(writers) * ((config.steps - start_step) // config.log_every + 1)
        completer = RowCompleter(physics, fixed_batch, sparse=diagnostics,
                                 sparse_rows=lambda steps: diagnostic_rows(steps, config),
                                 rows_expected=rows_expected,
                                 second_process=second_process and bool(missing or diagnostics))
        for writer in writers:
            writer.complete_losses = completer
            # rows filled in at a time: one evaluation chunk, so little is left for the final flush
            if missing:  # else only the diagnostic rows need filling in: the writer's default batches them
                writer.complete_rows = physics.default_chunk(missing, fixed_batch)
    else:  # a Monte Carlo quadrature is re-drawn every step: all components on this step's points
        step_names = list(names)
        completer = None
    hand_written = uses_pullback(physics)
    flusher = BackgroundFlusher()  # blocks are completed and written while training goes on
    for writer in writers:
        writer.flusher = flusher
    stage = RowStage(writers, step_names, theta.detach(), components)
    failed = None
    try:
        for step in range(start_step, config.steps + 1):
            if lbfgs_from is not None and step >= lbfgs_from and rows is None:
                source = theta.detach()
                rows = [torch.nn.Parameter(source[k].clone()) for k in range(source.shape[0])]
                lbfgs = [make_lbfgs(row, config.lbfgs_lr, config.lbfgs_history) for row in rows]
            current = theta if rows is None else torch.stack(rows)
            rng = problem.quadrature.generator.get_state() if fixed_batch is None else None
            pulled = None  # the objective's gradient, where the hand-written reverse pass is used
            if rows is None and balancer is None and hand_written:
                batch = fixed_batch if fixed_batch is not None else physics.prepare(current.detach())
                losses, pulled = physics.loss_and_grad(current, step_names, lambda values: values[objective], batch)
            else:
                losses = physics(current, step_names, fixed_batch)
            weights = None
            balance_state = balancer.state_rows() if balancer is not None else None
            if balancer is not None:
                grads = traces = None
                if balancer.needs_grads:
                    grads = {c: torch.autograd.grad(losses[c].sum(), current, retain_graph=True)[0].detach()
                             for c in components}
                if balancer.needs_jacobians and step % config.balance_every == 0:
                    traces = _ntk_traces(physics, current.detach(), fixed_batch, components, subset)
                # the balancers' state and the weights they store live on the CPU, whatever the device
                weights = balancer.weights(step, _on_cpu(losses), _on_cpu(grads),
                                           None if traces is None else traces.cpu()).to(device, dtype)
            on_grid = step % config.log_every == 0 or step == config.steps
            if on_grid and (step > start_step or not start_stored):  # a resumed start row is stored
                if stage.add(step, current, losses, weights) or step == config.steps:
                    # the optimizer's state is copied only when a block is flushed, not at every step
                    state = ((lambda: [{} for _ in writers]) if rows is not None
                             else (lambda: optimizer_rows(optimizer, theta)))
                    failed = _hand_over(stage, objective, state, rng, progress, config.steps,
                                        balance_state=balance_state, lbfgs=rows is not None)
                    if failed:
                        break
            if step == config.steps:
                break
            if rows is not None:
                _lbfgs_step(physics, lbfgs, rows, step_names, fixed_batch, objective, weights, components)
                continue
            optimizer.zero_grad(set_to_none=True)
            if pulled is not None:
                theta.grad = pulled
            else:
                _objective(losses, objective, weights, components).sum().backward()
            optimizer.step()
        for writer in writers:
            writer.close("failed" if failed else "complete", **({"failure": failed} if failed else {}))
    except BaseException as exc:
        for writer in writers:  # unflushed rows are dropped: the store stays resumable
            writer.abort("failed", failure=f"interrupted ({type(exc).__name__})")
        raise
    finally:
        flusher.shutdown()
        if completer is not None:
            completer.close()
    if failed:
        raise NonFiniteError(f"training stopped: {failed}; the store keeps the rows up to it")


def uses_pullback(physics: PhysicsLosses) -> bool:
    """Whether plain Adam / gradient-descent steps take their gradient from the network's hand-written reverse
    pass (`nets/_pullback.py`): for one input (poisson1d), where it is faster than autograd's graph of the
    forward-mode channels; with two inputs the channels are larger and autograd's reverse pass in x is
    faster (benchmarks/bench_train_speed.py). Balancing and L-BFGS always use autograd."""
    return physics.net.inputs == 1


def _objective(losses: dict, objective: str, weights: torch.Tensor | None, components) -> torch.Tensor:
    """The trained objective (G,): the named loss, or the weighted sum of the balanced components."""
    if weights is None:
        return losses[objective]
    return sum(weights[:, c] * losses[name] for c, name in enumerate(components))


def _lbfgs_step(physics, optimizers, rows, names, batch, objective, weights, components) -> None:
    """One L-BFGS iteration (strong Wolfe line search) per trajectory, weights held fixed within it."""
    for k, (opt, row) in enumerate(zip(optimizers, rows, strict=True)):
        w = None if weights is None else weights[k : k + 1]

        def closure(row=row, w=w, opt=opt):
            opt.zero_grad(set_to_none=True)
            value = _objective(physics(row[None], names, batch), objective, w, components).sum()
            value.backward()
            return value

        opt.step(closure)


def _hand_over(stage: RowStage, objective: str, state, rng, progress, total: int, *, balance_state=None,
               lbfgs=False) -> str | None:
    """Append the staged rows to the writers, flush when due, report progress; the failure, if the objective
    of a row was not finite (that row is the last appended)."""
    handed = stage.hand_over(objective)
    if handed is None:
        return None
    step, values = handed
    if not np.isfinite(values[objective]).all():
        return f"{objective} became non-finite at step {step}"
    writers = stage.writers
    if writers[0].due() or step == total:
        state = state()
        for k, writer in enumerate(writers):
            resume_state = {f"opt_{key}": value for key, value in state[k].items()}
            if balance_state is not None:  # the balancer's state before this row's weights
                resume_state.update({f"bal_{key}": value for key, value in balance_state[k].items()})
            if rng is not None:  # the sampler state before this row's quadrature was drawn
                resume_state["rng"] = rng.numpy()
            if writer.store_dtype != np.float64:  # the stored row is rounded: resume from the exact vector
                resume_state["theta"] = stage.last_params[k].copy()  # a view of the stage; written later
            # the last row's flush records the run complete with it: the close then writes nothing more
            writer.flush(resume_state, {"step": step, **({"lbfgs": True} if lbfgs else {})},
                         {"status": "complete"} if step == total else None)
    if progress is not None:
        progress(step, total, values)
    return None
