"""`pinnviz train`: train K seeds of a problem at once, logging every step to a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pinnviz.cli._common import friendly_errors, out, step_progress
from pinnviz.cli.info import print_trajectory_table
from pinnviz.errors import InvalidSettingError
from pinnviz.nets import MLP
from pinnviz.problems import PhysicsLosses, problem_class
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, resume, train

MODEL = "Model"
OPTIM = "Optimisation"


@friendly_errors
def train_command(
    problem: Annotated[str, typer.Argument(help="Problem name, e.g. poisson1d.")] = "poisson1d",
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Store to create or add to.")] = Path("run.zarr"),
    loss: Annotated[str, typer.Option(help="Objective to minimise (drm, pinn, ...).", rich_help_panel=OPTIM)] = "pinn",
    optimizer: Annotated[str, typer.Option(help="adam or sgd.", rich_help_panel=OPTIM)] = "adam",
    lr: Annotated[float, typer.Option(help="Learning rate.", rich_help_panel=OPTIM)] = 1e-3,
    steps: Annotated[int, typer.Option(help="Optimizer steps.", rich_help_panel=OPTIM)] = 7500,
    seed: Annotated[int, typer.Option(help="Seed of the first initialisation.", rich_help_panel=OPTIM)] = 0,
    seeds: Annotated[int, typer.Option(help="Initialisations trained together (seed, seed+1, ...).",
                                       rich_help_panel=OPTIM)] = 1,
    init_scale: Annotated[float, typer.Option(help="Factor on PyTorch's default initialisation.",
                                              rich_help_panel=OPTIM)] = 1.0,
    log_every: Annotated[int, typer.Option(help="Store every N-th step (and the last).")] = 1,
    name: Annotated[str | None, typer.Option(help="Trajectory name (with --seeds > 1, a prefix).")] = None,
    width: Annotated[int, typer.Option(help="Hidden layer width.", rich_help_panel=MODEL)] = 20,
    depth: Annotated[int, typer.Option(help="Number of hidden layers.", rich_help_panel=MODEL)] = 2,
    activation: Annotated[str, typer.Option(help="tanh or x+tanh.", rich_help_panel=MODEL)] = "tanh",
    solution: Annotated[str, typer.Option(help="Manufactured solution: a registered name or an "
                                          "expression in x.", rich_help_panel="Problem")] = "default",
    quadrature: Annotated[str, typer.Option(help="midpoint or montecarlo.", rich_help_panel="Problem")] = "midpoint",
    points: Annotated[int, typer.Option(help="Quadrature points (samples per step for montecarlo).",
                                        rich_help_panel="Problem")] = 100,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    dtype: Annotated[str, typer.Option(help="float64 or float32.")] = "float64",
    resume_run: Annotated[bool, typer.Option("--resume", help="Continue the interrupted trajectories "
                                             "of --out; other options are read from the store.")] = False,
) -> None:
    """Train a physics-informed network and log every parameter vector to a Zarr store."""
    if resume_run:
        with step_progress("resuming") as progress:
            names = resume(out_path, progress=progress)
    else:
        cls = problem_class(problem)
        if points < 1:
            raise InvalidSettingError(f"points={points} must be >= 1")
        problem_obj = cls(solution, quadrature=quadrature, points=points)
        model = problem_obj.default_model()
        net = MLP(cls.inputs, cls.outputs, width, depth, activation=activation, bc=model["bc"],
                  output_bias=model["output_bias"])
        config = TrainConfig(loss=loss, optimizer=optimizer, lr=lr, steps=steps, seed=seed, seeds=seeds,
                             init_scale=init_scale, log_every=log_every, device=device, dtype=dtype)
        with step_progress(f"train {problem} {loss}", loss) as progress:
            names = train(out_path, PhysicsLosses(problem_obj, net), config, name=name, progress=progress)
    run = open_run(out_path)
    print_trajectory_table(run, names, title=f"{out_path}")
    out.print(f"stored in {out_path.resolve()}")
