"""The demo: the whole story on the default Poisson problem, ending with images on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pinnviz.nets import MLP
from pinnviz.problems import PhysicsLosses, Poisson1D
from pinnviz.store import create_run, open_run
from pinnviz.trainers import TrainConfig, train
from pinnviz.visualizer import landscape_figure, save_figure
from pinnviz.workflows.compare import compare_methods, output_folder, write_metrics

METHODS = ["pca", "random", "kpca", "umap", "autoencoder"]


def demo_settings(quick: bool) -> dict:
    """Full: the paper's training (7,500 steps), ~500 fitted points, 100 x 100 grids. Quick: for tests."""
    if quick:
        return {"steps": 200, "every": 4, "resolution": 16, "max_slow_points": 64,
                "fit_options": {"autoencoder": {"epochs": 300, "seconds": 2.0}, "umap": {"n_neighbors": 8}}}
    return {"steps": 7500, "every": 15, "resolution": 100, "max_slow_points": 400,
            "fit_options": {"autoencoder": {"epochs": 100000, "seconds": 25.0}}}


def _trained(path: Path, loss: str, steps: int) -> bool:
    if not path.exists():
        return False
    run = open_run(path)
    name = f"{loss}-adam-seed0"
    if name not in run.trajectory_names():
        return False
    attrs = run.trajectory_attrs(name)
    return attrs.get("status") == "complete" and attrs.get("steps") == steps


def run_demo(out_dir: Path, *, quick: bool = False, log: Callable[[str], None] | None = None,
             train_progress=None, progress=None) -> list[Path]:
    """Train `drm` and `pinn`, fit every method on each, evaluate, render, tabulate. Returns the files made."""
    say = log or (lambda _msg: None)
    settings = demo_settings(quick)
    output_folder(out_dir)
    store = out_dir / "poisson.zarr"
    physics = PhysicsLosses(Poisson1D(), MLP(1, 1, 20, 2))
    create_run(store, physics.problem.settings(), physics.net.settings())  # checks an existing store
    for loss in ("pinn", "drm"):
        if _trained(store, loss, settings["steps"]):
            say(f"{loss}: trajectory already trained, reused")
            continue
        run = open_run(store)
        if f"{loss}-adam-seed0" in run.trajectory_names():
            from pinnviz.errors import IncompatibleRunError

            raise IncompatibleRunError(f"{store} holds a {loss} trajectory from other settings; use another --out")
        train(store, physics, TrainConfig(loss=loss, steps=settings["steps"]), progress=train_progress)
        final = open_run(store).trajectory(f"{loss}-adam-seed0").losses["l2_error"][-1]
        say(f"trained {loss}: {settings['steps']} steps, final relative L2 error {final:.2e}")
    made: list[Path] = []
    rows = []
    run = open_run(store, mode="r+")
    for loss in ("pinn", "drm"):
        result = compare_methods(
            run, METHODS, out_dir=out_dir, losses=[loss], trajectories=[f"{loss}-adam-seed0"],
            resolution=settings["resolution"], every=settings["every"], tag=loss,
            fit_options=settings["fit_options"], max_slow_points=settings["max_slow_points"], log=say,
            progress=progress)
        made.append(result["figure"])
        made += result["tables"]
        rows += result["rows"]
        for method, data in result["landscapes"].items():
            path = save_figure(landscape_figure(data, [loss]), out_dir / f"landscape-{loss}-{method}.png")
            made.append(path)
    made += write_metrics(rows, out_dir / "metrics")
    return made
