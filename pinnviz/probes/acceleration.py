"""`acceleration` (Rowan et al. 2024, section 2.10): how straight a trajectory is, from finite differences.

With the learning rate eta as the pseudo-time step (times the logging interval), equation (6):
theta''_t = (theta_{t+1} - 2 theta_t + theta_{t-1}) / eta^2 and theta'_t = (theta_{t+1} - theta_t) / eta;
the probe reports |theta''| and the normalised |theta''| / |theta'|^2.
"""

from __future__ import annotations

import numpy as np

from pinnviz.errors import InvalidSettingError
from pinnviz.probes._store import save_probe
from pinnviz.probes.basis import select_trajectory
from pinnviz.store import Run


def acceleration_curves(params: np.ndarray, dt: float) -> dict[str, np.ndarray]:
    """|theta''|, |theta'| and |theta''| / |theta'|^2 at the interior rows 1..T-2 of params (T, P).

    Velocity at row t is the forward difference (theta_{t+1} - theta_t) / dt.
    """
    params = np.asarray(params, dtype=np.float64)
    if params.ndim != 2 or len(params) < 3:
        raise InvalidSettingError(f"need at least 3 parameter vectors (T, P), got shape {params.shape}")
    if not dt > 0:
        raise InvalidSettingError(f"time step dt={dt} must be > 0")
    second = (params[2:] - 2.0 * params[1:-1] + params[:-2]) / dt**2  # (T-2, P)
    velocity = (params[2:] - params[1:-1]) / dt  # forward difference at rows 1..T-2
    acc = np.linalg.norm(second, axis=1)
    speed = np.linalg.norm(velocity, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = np.where(speed > 0, acc / speed**2, np.nan)
    return {"acceleration": acc, "speed": speed, "normalised": normalised}


def acceleration(run: Run, trajectory: str | None = None, *, lr: float | None = None, name: str | None = None,
                 save: bool = True) -> dict:
    """Acceleration along a stored trajectory (uniformly logged steps; lr from the trajectory by default).

    Returns (and stores in `probes/<name>`, default `acceleration-<trajectory>`): steps (T-2,) of the
    interior rows, acceleration, speed, normalised, and the trajectory's objective `loss` (T-2,).
    """
    traj = select_trajectory(run, trajectory)
    lr = float(lr if lr is not None else traj.attrs.get("lr", 0.0))
    if not lr > 0:
        raise InvalidSettingError(f"learning rate {lr} must be > 0; pass lr=")
    if len(traj.steps) < 3:
        raise InvalidSettingError(f"trajectory {traj.name!r} has {len(traj.steps)} rows; acceleration needs 3")
    gaps = np.diff(traj.steps)
    if np.any(gaps != gaps[0]) or gaps[0] <= 0:
        raise InvalidSettingError(f"trajectory {traj.name!r} is not logged at evenly spaced steps "
                                  f"(gaps {sorted(set(gaps.tolist()))[:4]}); train it with one --log-every")
    dt = lr * float(gaps[0])
    curves = acceleration_curves(traj.params, dt)
    loss = traj.attrs.get("loss")
    arrays = {"steps": traj.steps[1:-1], **curves}
    if loss in traj.losses:
        arrays["loss"] = traj.losses[loss][1:-1]
    attrs = {"probe": "acceleration",
             "trajectory": traj.name, "loss": loss, "lr": lr, "log_every": int(gaps[0]), "dt": dt,
             "acceleration_first": float(curves["acceleration"][0]),
             "acceleration_last": float(curves["acceleration"][-1]),
             "normalised_median": float(np.nanmedian(curves["normalised"]))}
    name = name or f"acceleration-{traj.name}"
    if save:
        save_probe(run, name, arrays, attrs)
    return {**arrays, "attrs": attrs}
