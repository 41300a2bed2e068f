"""Small synthetic stores for the manifold tests: curved trajectories in a 40-parameter space."""

from __future__ import annotations

import numpy as np

from pinnviz.store import TrajectoryWriter, create_run

LAYOUT = [{"name": "w", "shape": [5, 6], "offset": 0}, {"name": "b", "shape": [10], "offset": 30}]
N_PARAMS = 40


def curve(n: int, seed: int, n_params: int = N_PARAMS) -> np.ndarray:
    """A smooth, strongly curved, decelerating path (n, n_params) from a shared start: a 1-D curve
    winding through six directions, so no plane holds it."""
    rng = np.random.default_rng(seed)
    t = (1.0 - np.exp(-3.0 * np.linspace(0.0, 1.0, n)))[:, None] / (1.0 - np.exp(-3.0))
    start = np.random.default_rng(123).normal(size=n_params)  # shared initialisation
    path = np.zeros((n, n_params))
    for k in (1, 2, 3):
        a, b = rng.normal(size=n_params), rng.normal(size=n_params)
        path += ((1.0 - np.cos(k * np.pi * t)) * a + np.sin(k * np.pi * t) * b) / k
    return start + 0.5 * path


def write_trajectory(run, name: str, params: np.ndarray) -> None:
    writer = TrajectoryWriter.create(run.group["trajectories"], name, params.shape[1], ["pinn"],
                                     {"loss": "pinn", "optimizer": "adam", "seed": 0})
    for step, row in enumerate(params):
        writer.append(step, row, {"pinn": float(np.sum(row**2))})
    writer.close("complete")


def make_store(path, trajectories: dict[str, np.ndarray]):
    run = create_run(path, {"name": "synthetic"}, {"layout": LAYOUT})
    for name, params in trajectories.items():
        write_trajectory(run, name, params)
    return run
