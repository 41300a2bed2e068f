"""`mode-connectivity` (Rowan et al. 2024, section 2.3): straight and quadratic Bezier paths between two solutions."""

from __future__ import annotations

import time

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError, check_settings
from pinnviz.probes._fast_hessian import objective_of
from pinnviz.probes._store import save_probe
from pinnviz.store import Run


def bezier(theta_1: torch.Tensor, control: torch.Tensor, theta_2: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1-t)^2 theta_1 + 2t(1-t) p + t^2 theta_2 for t (T,): (T, P)."""
    t = t[:, None]
    return (1 - t) ** 2 * theta_1 + 2 * t * (1 - t) * control + t**2 * theta_2


def midpoint_nodes(n: int, dtype=torch.float64, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Midpoint rule on [0, 1]: nodes (n,) and weights (n,)."""
    return ((torch.arange(n, dtype=dtype, device=device) + 0.5) / n,
            torch.full((n,), 1.0 / n, dtype=dtype, device=device))


def bezier_objective(physics, loss: str, theta_1, control, theta_2, batch, nodes: int = 32) -> torch.Tensor:
    """Equation (5): 1/2 int_0^1 (L(b(t; p)) - L(theta_1))^2 dt by the midpoint rule; differentiable in p."""
    t, w = midpoint_nodes(nodes, theta_1.dtype, theta_1.device)
    values = physics(bezier(theta_1, control, theta_2, t), [loss], batch)[loss]  # (T,)
    reference = physics(theta_1[None], [loss], batch)[loss][0].detach()
    return 0.5 * ((values - reference) ** 2) @ w


def mode_connectivity(run: Run, first: str, second: str, *, loss: str | None = None, points: int = 101,
                      nodes: int = 32, iterations: int = 500, name: str | None = None,
                      save: bool = True, device: str = "cpu", progress=None) -> dict:
    """Loss along the straight line and along the optimised Bezier curve between two trajectories' last points.

    The control point p starts at the midpoint (where the curve is the straight line) and minimises
    equation (5) (midpoint rule with `nodes` nodes in t) with L-BFGS (strong Wolfe line search), at
    most `iterations` evaluations of equation (5) and its gradient.
    The barrier of a path is max_t L(path(t)) - max(L(theta_1), L(theta_2)). Everything runs on `device`.

    Returns (and stores in `probes/<name>`, default "mode-connectivity-<first>-<second>") a dict:
    t (points,), straight (points,), curved (points,), control (P,),
    objective (equation (5) at every evaluation; the last at the returned control point),
    barrier_straight, barrier_curved, distance.
    """
    if first == second:
        raise InvalidSettingError(f"mode connectivity needs two different trajectories, got {first!r} twice")
    check_settings(("points", points, points >= 2, ">= 2"), ("nodes", nodes, nodes >= 1, ">= 1"),
                   ("iterations", iterations, iterations >= 0, ">= 0"))
    check_device(device)
    physics = run.physics()
    loss = objective_of(run, physics, first, loss)
    theta_1 = torch.as_tensor(run.trajectory(first).params[-1]).to(device)
    theta_2 = torch.as_tensor(run.trajectory(second).params[-1]).to(device)
    batch = physics.prepare(theta_1[None])
    control = torch.nn.Parameter(0.5 * (theta_1 + theta_2))
    optimizer = torch.optim.LBFGS([control], lr=1.0, max_iter=max(iterations, 1), max_eval=max(iterations, 1),
                                  history_size=50, tolerance_grad=1e-14, tolerance_change=1e-18,
                                  line_search_fn="strong_wolfe")
    history = []
    start = time.perf_counter()

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        objective = bezier_objective(physics, loss, theta_1, control, theta_2, batch, nodes)
        objective.backward()
        history.append(float(objective.detach()))
        if progress is not None:
            progress(min(len(history), iterations), iterations)
        return objective

    if iterations > 0:
        optimizer.step(closure)
    with torch.no_grad():
        history.append(float(bezier_objective(physics, loss, theta_1, control, theta_2, batch, nodes)))
    seconds = time.perf_counter() - start
    control = control.detach()
    t = torch.linspace(0.0, 1.0, points, dtype=theta_1.dtype, device=theta_1.device)
    straight = physics.evaluate(bezier(theta_1, 0.5 * (theta_1 + theta_2), theta_2, t), [loss], batch=batch)[loss]
    curved = physics.evaluate(bezier(theta_1, control, theta_2, t), [loss], batch=batch)[loss]
    ends = max(float(straight[0]), float(straight[-1]))
    t, straight, curved, control = t.cpu(), straight.cpu(), curved.cpu(), control.cpu()
    result = {"t": t.numpy(), "straight": straight.numpy(), "curved": curved.numpy(), "control": control.numpy(),
              "objective": np.asarray(history), "barrier_straight": float(straight.max()) - ends,
              "barrier_curved": float(curved.max()) - ends,
              "distance": float(torch.linalg.norm(theta_2 - theta_1)), "loss": loss, "seconds": seconds}
    result["name"] = name = name or f"mode-connectivity-{first}-{second}"
    if save:
        save_probe(run, name, {k: result[k] for k in ("t", "straight", "curved", "control", "objective")},
                   {"probe": "mode-connectivity", "trajectories": [first, second], "loss": loss, "points": points,
                    "nodes": nodes, "iterations": iterations, "optimizer": "lbfgs", "seconds": seconds,
                    **{k: result[k] for k in ("barrier_straight", "barrier_curved", "distance")}})
    return result
