"""`pinnviz train`: train K seeds of a problem at once, logging every step to a store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pinnviz.cli._common import (
    EXIT_INTERRUPTED,
    Device,
    check_device,
    err,
    friendly_errors,
    out,
    print_error,
    step_progress,
)
from pinnviz.cli.info import print_trajectory_table, stored_trajectory_summary
from pinnviz.errors import InvalidSettingError, PinnvizError
from pinnviz.store import open_run
from pinnviz.trainers import build_training, resume, train

MODEL = "Model"
OPTIM = "Optimisation"
PROBLEM = "Problem"
BALANCE = "Loss balancing"


def parse_settings(pairs: list[str] | None) -> dict:
    """KEY=VALUE pairs; values are read as JSON where they parse (numbers, true/false), else as text."""
    settings = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidSettingError(f"--set {pair!r} must look like KEY=VALUE")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value
    return settings


def parse_weights(text: str | None) -> list[float] | None:
    """'1,10,10' -> [1.0, 10.0, 10.0]."""
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise InvalidSettingError(f"--weights {text!r} must be numbers separated by commas, e.g. 1,10,10") from None


@friendly_errors
def train_command(
    problem: Annotated[str, typer.Argument(help="Problem name, e.g. poisson1d.")] = "poisson1d",
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Store to create or add to.")] = Path("run.zarr"),
    loss: Annotated[str | None, typer.Option(help="Objective to minimise (drm, pinn, ...; default: the "
                                             "problem's).", rich_help_panel=OPTIM)] = None,
    optimizer: Annotated[str, typer.Option(help="adam, sgd, lbfgs or adam+lbfgs.", rich_help_panel=OPTIM)] = "adam",
    lr: Annotated[float, typer.Option(help="Learning rate (Adam, SGD).", rich_help_panel=OPTIM)] = 1e-3,
    lbfgs_after: Annotated[int, typer.Option(help="adam+lbfgs: the step where L-BFGS takes over.",
                                             rich_help_panel=OPTIM)] = 0,
    lbfgs_lr: Annotated[float, typer.Option(help="L-BFGS step length before the line search.",
                                            rich_help_panel=OPTIM)] = 1.0,
    balance: Annotated[str, typer.Option(help="none, ew, cw, dwa, lra, gradnorm, rlw or ntk.",
                                         rich_help_panel=BALANCE)] = "none",
    weights: Annotated[str | None, typer.Option(help="cw: constant weights c_r,c_ic,c_bc (default: the "
                                                "problem's).", rich_help_panel=BALANCE)] = None,
    balance_every: Annotated[int, typer.Option(help="lra, ntk: update the weights every N steps.",
                                               rich_help_panel=BALANCE)] = 1,
    ntk_points: Annotated[int, typer.Option(help="ntk: points per component for the NTK traces.",
                                            rich_help_panel=BALANCE)] = 64,
    steps: Annotated[int, typer.Option(help="Optimizer steps.", rich_help_panel=OPTIM)] = 7500,
    seed: Annotated[int, typer.Option(help="Seed of the first initialisation.", rich_help_panel=OPTIM)] = 0,
    seeds: Annotated[int, typer.Option(help="Initialisations trained together (seed, seed+1, ...).",
                                       rich_help_panel=OPTIM)] = 1,
    init_scale: Annotated[float, typer.Option(help="Factor on PyTorch's default initialisation.",
                                              rich_help_panel=OPTIM)] = 1.0,
    log_every: Annotated[int, typer.Option(help="Store every N-th step (and the last).")] = 1,
    diagnostics_every: Annotated[int, typer.Option(help="Diagnostic losses (convection's test grid, "
                                                   "hyperelastic2d's pinn on a drm run) on every N-th stored row "
                                                   "and the last; NaN on the others.")] = 50,
    name: Annotated[str | None, typer.Option(help="Trajectory name (with --seeds > 1, a prefix).")] = None,
    width: Annotated[int | None, typer.Option(help="Hidden layer width (default: the problem's).",
                                              rich_help_panel=MODEL)] = None,
    depth: Annotated[int | None, typer.Option(help="Number of hidden layers (default: the problem's).",
                                              rich_help_panel=MODEL)] = None,
    activation: Annotated[str, typer.Option(help="tanh or x+tanh.", rich_help_panel=MODEL)] = "tanh",
    solution: Annotated[str | None, typer.Option(help="poisson1d: manufactured solution, a registered name "
                                                 "or an expression in x.", rich_help_panel=PROBLEM)] = None,
    quadrature: Annotated[str | None, typer.Option(help="midpoint or montecarlo.", rich_help_panel=PROBLEM)] = None,
    points: Annotated[int | None, typer.Option(help="Quadrature points (samples per step for montecarlo).",
                                               rich_help_panel=PROBLEM)] = None,
    settings: Annotated[list[str] | None, typer.Option("--set", help="Other problem setting KEY=VALUE "
                                                       "(repeatable).", rich_help_panel=PROBLEM)] = None,
    device: Device = "cpu",
    dtype: Annotated[str, typer.Option(help="float64 or float32.")] = "float64",
    store_dtype: Annotated[str, typer.Option(help="Precision of the stored parameter vectors: float64 or "
                                             "float32 (half the disk; the losses stay float64).")] = "float64",
    resume_run: Annotated[bool, typer.Option("--resume", help="Continue the interrupted trajectories "
                                             "of --out; other options are read from the store.")] = False,
) -> None:
    """Train a physics-informed network and log every parameter vector to a Zarr store."""
    check_device(device)
    try:
        names = _train_or_resume(**locals())
    except KeyboardInterrupt:
        _report_interrupt(out_path)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    run = open_run(out_path)
    print_trajectory_table([stored_trajectory_summary(run, n) for n in names], title=f"{out_path}")
    for traj in names:
        warning = divergence_warning(run.trajectory(traj, params=False))  # losses only: vectors may be GBs
        if warning:
            err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    out.print(f"stored in {out_path.resolve()}")


DIVERGED_FACTOR = 100.0  # the objective grew this many times over its start (and its scale, at least 1)


def divergence_warning(traj) -> str | None:
    """A line for a trajectory whose objective ended far above where it started (a too large --lr)."""
    objective = traj.attrs.get("objective") or traj.attrs.get("loss")
    values = traj.losses.get(objective)
    if values is None or len(values) < 2:
        return None
    first, last = float(values[0]), float(values[-1])
    if not abs(last) > DIVERGED_FACTOR * max(abs(first), 1.0):  # NaN stops training with its own error
        return None
    return (f"{traj.name}: {objective} went from {first:.3g} at step {int(traj.steps[0])} to {last:.3g} at step "
            f"{int(traj.steps[-1])}: training diverged; lower --lr (was {traj.attrs.get('lr')})")


def _report_interrupt(out_path: Path) -> None:
    """After Ctrl-C: what the store kept, and the command that continues it."""
    try:
        run = open_run(out_path)
        from pinnviz.trainers._train import resumable

        kept = [(n, run.trajectory_attrs(n)) for batch in resumable(run).values() for n in batch]
    except (PinnvizError, OSError):  # the store may not exist yet: nothing was kept
        kept = []
    if not kept:
        print_error("interrupted (Ctrl-C) before any row was stored")
        return
    rows = ", ".join(f"{n} {int(a.get('length', 0))} rows" for n, a in kept)
    print_error(f"interrupted (Ctrl-C); kept {rows}; continue with: pinnviz train --resume --out {out_path}")


def _train_or_resume(*, problem, out_path, loss, optimizer, lr, lbfgs_after, lbfgs_lr, balance, weights,
                     balance_every, ntk_points, steps, seed, seeds, init_scale, log_every, name, width, depth,
                     activation, solution, quadrature, points, settings, device, dtype, store_dtype, diagnostics_every,
                     resume_run) -> list[str]:
    if resume_run:
        with step_progress("resuming") as progress:
            names = resume(out_path, progress=progress)
    else:
        options = parse_settings(settings)
        for key, value in (("solution", solution), ("quadrature", quadrature), ("points", points)):
            if value is not None:
                options[key] = value
        physics, config = build_training(
            problem, options, width=width, depth=depth, activation=activation, loss=loss, optimizer=optimizer,
            lr=lr, steps=steps, seed=seed, seeds=seeds, init_scale=init_scale, log_every=log_every, device=device,
            dtype=dtype, store_dtype=store_dtype, lbfgs_after=lbfgs_after, lbfgs_lr=lbfgs_lr, balance=balance,
            weights=parse_weights(weights), balance_every=balance_every, ntk_points=ntk_points,
            diagnostics_every=diagnostics_every)
        loss = config.loss
        with step_progress(f"train {problem} {loss}", loss) as progress:
            names = train(out_path, physics, config, name=name, progress=progress)
    return names
