import math

import pytest
import torch

from pinnviz.errors import InvalidSettingError, UnknownNameError
from pinnviz.nets import Fields
from pinnviz.problems import Convection1D, Reaction1D, build_physics, build_problem
from tests.conftest import module_from_vector

SMALL = {"points": 64, "ic_points": 32, "bc_points": 16, "nx": 32, "nt": 10}


def reference_losses(physics, theta):
    """residual, ic, bc, total and test of one vector through an nn.Module and torch.autograd."""
    problem = physics.problem
    sets = problem.point_sets()
    module = module_from_vector(physics.net, theta)
    xr = sets["residual"].clone().requires_grad_(True)
    u = module(xr)[:, 0]
    (du,) = torch.autograd.grad(u.sum(), xr, create_graph=True)
    u_x, u_t = du[:, 0], du[:, 1]
    if isinstance(problem, Convection1D):
        r = u_t + problem.beta * u_x
    else:
        r = u_t - problem.rho * u * (1 - u)
    x_ic = sets["ic"][:, 0]
    h = torch.sin(x_ic) if isinstance(problem, Convection1D) else torch.exp(-((x_ic - math.pi) ** 2) / (
        2 * (math.pi / 4) ** 2))
    ic = ((module(sets["ic"])[:, 0] - h) ** 2).mean()
    bc = ((module(sets["bc0"])[:, 0] - module(sets["bc1"])[:, 0]) ** 2).mean()
    xt = sets["test"]
    exact = problem.exact(xt[:, 0], xt[:, 1])
    test = torch.linalg.norm(module(xt)[:, 0] - exact) / torch.linalg.norm(exact)
    residual = (r**2).mean()
    return {"residual": residual, "ic": ic, "bc": bc, "test": test,
            "total": problem.c_r * residual + problem.c_ic * ic + problem.c_bc * bc}


@pytest.mark.parametrize("name,options", [("convection1d", {"beta": 7.0}), ("reaction1d", {"rho": 5.0})])
def test_losses_match_autograd_through_a_module(name, options):
    physics = build_physics(name, {**SMALL, **options, "c_r": 0.5, "c_bc": 2.0}, width=8, depth=2)
    theta = physics.net.init(3, generator=torch.Generator().manual_seed(1))
    got = physics(theta)
    for g in range(3):
        ref = reference_losses(physics, theta[g])
        for key, value in ref.items():
            torch.testing.assert_close(got[key][g], value.detach(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,options", [("convection1d", {"beta": 7.0}), ("reaction1d", {"rho": 5.0})])
def test_evaluation_in_blocks_of_points_matches_autograd(name, options, monkeypatch):
    """A forward pass too large for the cache runs in blocks of points (problems/_evaluate.py); forced here
    on a small problem, so that every block boundary and the value-only test grid are crossed."""
    import pinnviz.problems._evaluate as evaluate_module

    physics = build_physics(name, {**SMALL, **options}, width=8, depth=2)
    theta = physics.net.init(3, generator=torch.Generator().manual_seed(2))
    monkeypatch.setattr(evaluate_module, "SPLIT_ABOVE_BYTES", 0)
    monkeypatch.setattr(evaluate_module, "MIN_BLOCK_POINTS", 7)  # blocks of 7 points, a ragged last one
    monkeypatch.setattr(evaluate_module, "POINT_BLOCK_BYTES", 0)
    assert physics._point_block(theta, 1, False, 1000) == 7
    got = physics.evaluate(theta, chunk=2)
    for g in range(3):
        for key, value in reference_losses(physics, theta[g]).items():
            torch.testing.assert_close(got[key][g], value.detach(), rtol=1e-10, atol=1e-12)


def exact_fields(problem, x):
    """The exact solution and its (x, t) gradient at points x (N, 2), as Fields (1, N, 1[, 2])."""
    x = x.clone().requires_grad_(True)
    u = problem.exact(x[:, 0], x[:, 1])
    (du,) = torch.autograd.grad(u.sum(), x)
    return Fields(u.detach()[None, :, None], du[None, :, None, :], None)


@pytest.mark.parametrize("problem", [Convection1D(beta=30.0, **SMALL), Reaction1D(rho=5.0, **SMALL)])
def test_exact_solution_has_zero_losses(problem):
    batch = problem.sample()
    losses = problem.losses_from_fields(exact_fields(problem, batch["x"]), batch, problem.loss_names)
    for key in ("residual", "bc", "test", "total"):
        assert float(losses[key][0]) < 1e-20 if key != "test" else float(losses[key][0]) < 1e-12, key
    # the initial condition: periodic data, so ic is zero up to rounding too
    assert float(losses["ic"][0]) < 1e-24


def test_reaction_exact_solution_solves_the_ode():
    problem = Reaction1D(rho=5.0, **SMALL)
    x = torch.tensor([0.3, math.pi, 5.0], dtype=torch.float64)
    t = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64, requires_grad=True)
    u = problem.exact(x, t)
    (u_t,) = torch.autograd.grad(u.sum(), t)
    torch.testing.assert_close(u_t, 5.0 * u.detach() * (1 - u.detach()), rtol=1e-12, atol=1e-14)


def test_training_never_evaluates_the_test_grid():
    problem = build_problem("convection1d", SMALL)
    assert problem.points_needed(["total"]) == 64 + 32 + 32
    assert problem.points_needed(["test"]) == 64 + 32 + 32 + 320


def test_settings_round_trip_and_bad_values():
    problem = build_problem("convection1d", {"beta": 30, "c_ic": 10})
    again = type(problem).from_settings(problem.settings())
    assert again.settings() == problem.settings()
    assert problem.default_model() == {"width": 50, "depth": 4, "bc": "none", "output_bias": True}
    with pytest.raises(InvalidSettingError, match="c_ic=-1"):
        build_problem("convection1d", {"c_ic": -1})
    with pytest.raises(InvalidSettingError, match="no setting rho"):
        build_problem("convection1d", {"rho": 1})
    with pytest.raises(UnknownNameError, match="unknown loss"):
        problem.losses_order(["pinn"])
