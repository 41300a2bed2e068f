"""Every problem: a stored row's losses equal a fresh nn.Module + autograd evaluation of that row's vector.

Training computes some losses in the step and fills the others in when a block is flushed (value-only
where a loss needs no derivatives, the test grid only on diagnostic rows); whichever path wrote a
value, it must be the loss of that very vector.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import zarr

from pinnviz.problems import build_physics
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train
from tests.conftest import module_from_vector
from tests.test_balancing import interrupted_then_resumed
from tests.test_convection import SMALL, reference_losses
from tests.test_hyperelastic import autograd_fields, module_field, reference_energy_density


def poisson_reference(physics, theta: torch.Tensor) -> dict[str, float]:
    batch = physics.problem.sample()
    w, f, ue = batch["w"], batch["f"], batch["u_exact"]
    module = module_from_vector(physics.net, theta)
    x = batch["x"].clone().requires_grad_(True)
    u = torch.sin(math.pi * x) * module(x)
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x)
    u, du, d2u = u[:, 0].detach(), du[:, 0].detach(), d2u[:, 0]
    return {"drm": float(((0.5 * du**2 - f * u) * w).sum()), "pinn": float((0.5 * (d2u + f) ** 2 * w).sum()),
            "l2_error": float(torch.sqrt(((u - ue) ** 2 * w).sum() / ((ue * ue) * w).sum()))}


def hyperelastic_reference(physics, theta: torch.Tensor) -> dict[str, float]:
    problem = physics.problem
    batch = problem.sample()
    x, w, B, ue = batch["x"], batch["w"], batch["B"], batch["u_exact"]
    u, grad, div = autograd_fields(module_field(physics.net, theta), x)
    u, grad, div = u.detach(), grad.detach(), div.detach()
    F = torch.eye(2, dtype=torch.float64) + grad
    error = torch.linalg.vector_norm(u - ue, dim=1)
    return {"drm": float((reference_energy_density(F, problem.lame1, problem.lame2) - (u * B).sum(1)) @ w),
            "pinn": float(0.5 * ((div + B) ** 2).sum(1) @ w), "max_error": float(error.max()),
            "l2_error": float(torch.sqrt((error**2) @ w / ((ue * ue).sum(1) @ w)))}


def spacetime_reference(physics, theta: torch.Tensor) -> dict[str, float]:
    return {k: float(v.detach()) for k, v in reference_losses(physics, theta).items()}


CASES = [
    ("poisson1d", {}, {"width": 8}, "drm", poisson_reference),
    ("poisson1d", {}, {"width": 8}, "pinn", poisson_reference),
    ("hyperelastic2d", {"radii": 4, "angles": 8}, {"width": 6}, "drm", hyperelastic_reference),
    ("hyperelastic2d", {"radii": 4, "angles": 8}, {"width": 6}, "pinn", hyperelastic_reference),
    ("convection1d", {**SMALL, "beta": 5.0}, {"width": 8, "depth": 2}, "total", spacetime_reference),
    ("reaction1d", SMALL, {"width": 8, "depth": 2}, "total", spacetime_reference),
]


@pytest.mark.parametrize("problem,options,model,loss,reference", CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_logged_losses_are_those_of_the_rows_vector(tmp_path, problem, options, model, loss, reference):
    physics = build_physics(problem, options, **model)
    path = tmp_path / "run.zarr"
    config = TrainConfig(loss=loss, steps=7, lr=1e-2, seeds=2, diagnostics_every=3)
    names = train(path, physics, config)
    run = open_run(path)
    for name in names:
        traj = run.trajectory(name)
        diagnostics = traj.attrs["diagnostic_losses"]
        expected_diagnostics = {"convection1d": ["test"], "reaction1d": ["test"],
                                "hyperelastic2d": ["pinn"] if loss == "drm" else []}.get(problem, [])
        assert diagnostics == expected_diagnostics
        assert traj.steps.tolist() == list(range(8))
        for row, theta in enumerate(traj.params):
            expected = reference(physics, torch.as_tensor(theta))
            assert set(expected) == set(traj.losses)
            for key, value in expected.items():
                stored = traj.losses[key][row]
                if key in diagnostics and traj.steps[row] not in (0, 3, 6, 7):
                    assert np.isnan(stored), (key, row)  # not a diagnostic row: NaN, as the attrs say
                    continue
                np.testing.assert_allclose(stored, value, rtol=1e-10, atol=1e-13, err_msg=f"{name} {key} row {row}")


@pytest.mark.parametrize("problem,options,model,loss,diagnostic", [
    ("convection1d", SMALL, {"width": 8, "depth": 2}, "total", "test"),
    ("hyperelastic2d", {"radii": 4, "angles": 8}, {"width": 6}, "drm", "pinn"),
], ids=["convection1d-test", "hyperelastic2d-pinn"])
def test_diagnostics_every_one_logs_the_diagnostic_loss_on_every_row(tmp_path, problem, options, model, loss,
                                                                     diagnostic):
    physics = build_physics(problem, options, **model)
    train(tmp_path / "run.zarr", physics, TrainConfig(loss=loss, steps=4, diagnostics_every=1))
    traj = open_run(tmp_path / "run.zarr").trajectory(f"{loss}-adam-seed0")
    assert traj.attrs["diagnostic_losses"] == []
    reference = spacetime_reference if problem == "convection1d" else hyperelastic_reference
    for row, theta in enumerate(traj.params):  # every row, each against nn.Module + autograd
        expected = reference(physics, torch.as_tensor(theta))[diagnostic]
        np.testing.assert_allclose(traj.losses[diagnostic][row], expected, rtol=1e-10, atol=1e-13, err_msg=f"row {row}")


@pytest.mark.parametrize("case", [CASES[0], CASES[4]], ids=["poisson1d-drm", "convection1d-total"])
def test_losses_filled_in_ahead_of_the_flush_are_those_of_the_rows_vector(tmp_path, case):
    """150 rows: the writer fills in the missing losses 64 rows at a time (poisson1d's evaluation chunk; the
    default COMPLETE_ROWS for convection, whose only missing loss is the diagnostic) on its thread while
    training goes on, the rest at the flush; rows on both sides of each boundary."""
    problem, options, model, loss, reference = case
    physics = build_physics(problem, options, **model)
    (name,) = train(tmp_path / "run.zarr", physics, TrainConfig(loss=loss, steps=150, lr=1e-2, diagnostics_every=7))
    traj = open_run(tmp_path / "run.zarr").trajectory(name)
    diagnostics = traj.attrs["diagnostic_losses"]
    for row in (0, 63, 64, 127, 128, 133, 149, 150):
        expected = reference(physics, torch.as_tensor(traj.params[row]))
        for key, value in expected.items():
            stored = traj.losses[key][row]
            if key in diagnostics and row % 7 and row != 150:
                assert np.isnan(stored), (key, row)
                continue
            np.testing.assert_allclose(stored, value, rtol=1e-10, atol=1e-13, err_msg=f"{key} row {row}")


def test_a_resumed_run_keeps_the_diagnostic_losses_its_attributes_name(tmp_path, monkeypatch):
    """A hyperelastic2d drm trajectory written when `pinn` was logged on every row (`diagnostic_losses` []) goes on
    logging it on every row when resumed, as its attributes say, though `pinn` is now a diagnostic of drm runs."""
    physics = build_physics("hyperelastic2d", {"radii": 4, "angles": 8}, width=6)
    config = TrainConfig(loss="drm", steps=8, lr=1e-2, diagnostics_every=1)
    path, resume = interrupted_then_resumed(tmp_path, physics, config, monkeypatch, stop_at=3)
    group = zarr.open_group(str(path / "trajectories/run"), mode="r+")
    group.attrs.update({"diagnostic_losses": [], "diagnostics_every": 50})  # as the earlier pinnviz wrote them
    resume(path)
    traj = open_run(path).trajectory("run")
    assert traj.steps.tolist() == list(range(9)) and traj.attrs["status"] == "complete"
    for row in range(9):
        expected = hyperelastic_reference(physics, torch.as_tensor(traj.params[row]))
        np.testing.assert_allclose(traj.losses["pinn"][row], expected["pinn"], rtol=1e-10, err_msg=f"row {row}")
