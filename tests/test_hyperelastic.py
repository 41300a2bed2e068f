"""Hyperelastic2D against independent computations: nn.Module + torch.autograd on the closed-form law."""

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.errors import InvalidSettingError
from pinnviz.nets import MLP, Fields
from pinnviz.problems import PhysicsLosses, build_physics, build_problem
from pinnviz.problems._neohookean import divergence, kinematics, piola
from pinnviz.problems._polar import PolarQuadrature
from pinnviz.problems.hyperelastic import Hyperelastic2D
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train
from tests.conftest import module_from_vector

L1, L2 = 1.0, 0.25


def reference_piola(F: torch.Tensor, l1: float = L1, l2: float = L2) -> torch.Tensor:
    """P = l1 (F - F^-T) + l2 log(det F) F^-T with torch.linalg (no closed-form inverse)."""
    F_inv_t = torch.linalg.inv(F).transpose(-1, -2)
    return l1 * (F - F_inv_t) + l2 * torch.log(torch.linalg.det(F))[..., None, None] * F_inv_t


def reference_energy_density(F: torch.Tensor, l1: float = L1, l2: float = L2) -> torch.Tensor:
    log_j = torch.log(torch.linalg.det(F))
    return 0.5 * l1 * ((F * F).sum(dim=(-2, -1)) - 2 * log_j) + 0.5 * l2 * log_j**2


def autograd_fields(u_of_x, x: torch.Tensor):
    """u (N, 2), grad u (N, 2, 2) and div P(grad u) (N, 2), all by torch.autograd in X."""
    x = x.clone().requires_grad_(True)
    u = u_of_x(x)
    grad = torch.stack([torch.autograd.grad(u[:, i].sum(), x, create_graph=True)[0] for i in range(2)], dim=1)
    P = reference_piola(torch.eye(2, dtype=x.dtype) + grad)
    div = torch.stack([sum(torch.autograd.grad(P[:, i, j].sum(), x, create_graph=True)[0][:, j] for j in range(2))
                       for i in range(2)], dim=1)
    return u, grad, div


def module_field(net: MLP, theta: torch.Tensor):
    module = module_from_vector(net, theta)
    return lambda x: (1 - (x * x).sum(dim=1, keepdim=True)) * module(x)


def exact_field(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    r2 = (x * x).sum(dim=1, keepdim=True)
    return alpha * r2 * (1 - r2) * torch.cat([-x[:, 1:], x[:, :1]], dim=1)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.fixture(autouse=True)
def one_thread():
    """Small per-point tensors: two intra-op threads on a shared 2-core machine thrash (3-10x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def physics() -> PhysicsLosses:
    return build_physics("hyperelastic2d")


def test_network_has_the_papers_775_parameters(physics):
    assert physics.net.n_params == 775
    assert physics.problem.quadrature.points == 1000


def test_polar_quadrature_integrates_over_the_disk():
    x, w = PolarQuadrature(20, 50).sample()
    assert x.shape == (1000, 2) and bool((w > 0).all()) and float((x * x).sum(1).max()) < 1
    assert abs(float(w.sum()) - math.pi) < 1e-13  # area
    X1, X2 = x[:, 0], x[:, 1]
    for f in (X1, X2, X1 * X2, X1**3 * X2, X1**5):  # odd in a coordinate: zero by symmetry
        assert abs(float(f @ w)) < 1e-13
    # theta: exact for trigonometric polynomials; r: the midpoint rule's known error, int_0^1 r^3 dr
    # = 1/4 - h^2/8, so int X1^2 = pi/4 (1 - h^2/2) with h = 1/radii
    for radii in (20, 40):
        x, w = PolarQuadrature(radii, 50).sample()
        X1, X2 = x[:, 0], x[:, 1]
        assert abs(float((X1**2) @ w) - math.pi / 4 * (1 - 0.5 / radii**2)) < 1e-13
        assert abs(float((X1**2 * X2**2) @ w) - math.pi / 24) / (math.pi / 24) < 5 / radii**2


def test_piola_is_the_derivative_of_the_energy_density():
    gen = torch.Generator().manual_seed(1)
    F = (torch.eye(2, dtype=torch.float64) + 0.3 * torch.randn(50, 2, 2, generator=gen, dtype=torch.float64))
    F = F[torch.linalg.det(F) > 0].requires_grad_(True)
    (dW,) = torch.autograd.grad(reference_energy_density(F).sum(), F)
    P = piola(kinematics(F.detach() - torch.eye(2, dtype=torch.float64)), L1, L2)
    assert rel_err(P, dW) < 1e-12
    assert rel_err(P, reference_piola(F.detach())) < 1e-12


def test_divergence_of_piola_matches_autograd(physics):
    net, problem = physics.net, physics.problem
    theta = net.init(3, generator=torch.Generator().manual_seed(7))
    batch = physics.prepare(theta)
    fields = net.fields(theta, batch["x"], 2, lambda _x: batch["distance"])
    div = divergence(kinematics(fields.grad), fields.hess, L1, L2)  # (G, N, 2)
    for g in range(3):
        u, grad, ref = autograd_fields(module_field(net, theta[g]), batch["x"])
        assert rel_err(fields.value[g], u.detach()) < 1e-12
        assert rel_err(fields.grad[g], grad.detach()) < 1e-12
        assert rel_err(div[g], ref.detach()) < 1e-10, rel_err(div[g], ref.detach())
    assert problem.losses_order(["pinn"]) == 2 and problem.losses_order(["drm"]) == 1


def test_losses_and_parameter_gradients_match_autograd(physics):
    """drm and pinn values, and their gradients in theta, against a per-vector nn.Module reference."""
    net, problem = physics.net, physics.problem
    theta = net.init(3, generator=torch.Generator().manual_seed(11)).requires_grad_(True)
    losses = physics(theta, ["drm", "pinn"])
    grads = {name: torch.autograd.grad(losses[name].sum(), theta, retain_graph=True)[0] for name in ("drm", "pinn")}
    batch = problem.sample()
    x, w = batch["x"], batch["w"]
    # B and u* from torch.autograd on the closed form, not through the problem's sympy path
    _, _, div_exact = autograd_fields(exact_field, x)
    B = -div_exact.detach()
    for g in range(3):
        vec = theta[g].detach().clone()
        module = module_from_vector(net, vec)
        u, grad, div = autograd_fields(lambda X, m=module: (1 - (X * X).sum(1, keepdim=True)) * m(X), x)
        F = torch.eye(2, dtype=torch.float64) + grad
        drm = (reference_energy_density(F) - (u * B).sum(1)) @ w
        pinn = 0.5 * ((div + B) ** 2).sum(1) @ w
        for name, value in (("drm", drm), ("pinn", pinn)):
            ref_grad = torch.cat([p.reshape(-1) for p in torch.autograd.grad(value, list(module.parameters()),
                                                                             retain_graph=True)])
            assert abs(float(losses[name][g].detach() - value.detach())) <= 1e-10 * abs(float(value.detach())), name
            assert rel_err(grads[name][g], ref_grad) < 1e-10, (name, rel_err(grads[name][g], ref_grad))


def test_error_metrics_match_an_nn_module_and_numpy(physics):
    """max_error and l2_error of trained-like vectors (nonzero errors) against nn.Module outputs and numpy norms."""
    net = physics.net
    theta = net.init(3, generator=torch.Generator().manual_seed(5))
    values = physics(theta, ["l2_error", "max_error"])  # either order: they share the squared error
    batch = physics.problem.sample()
    x, w = batch["x"], batch["w"].numpy()
    exact = exact_field(x).numpy()
    for g in range(3):
        u = module_field(net, theta[g])(x).detach().numpy()
        pointwise = np.linalg.norm(u - exact, axis=1)
        assert abs(float(values["max_error"][g]) - pointwise.max()) <= 1e-12 * pointwise.max()
        l2 = math.sqrt((pointwise**2) @ w / ((exact * exact).sum(axis=1) @ w))
        assert abs(float(values["l2_error"][g]) - l2) <= 1e-12 * l2
    alone = physics(theta, ["max_error"])["max_error"]
    assert torch.equal(alone, values["max_error"])


def test_body_force_makes_the_manufactured_field_a_solution(physics):
    problem = physics.problem
    batch = problem.sample()
    x, w = batch["x"], batch["w"]
    u, grad, div = autograd_fields(exact_field, x)
    assert rel_err(batch["B"], -div.detach()) < 1e-12  # sympy B against autograd B
    # the exact field's Hessian by autograd, fed through the problem's own div P
    xg = x.clone().requires_grad_(True)
    gr = torch.stack([torch.autograd.grad(exact_field(xg)[:, i].sum(), xg, create_graph=True)[0] for i in range(2)],
                     dim=1)
    hess = torch.stack([torch.stack([torch.autograd.grad(gr[:, i, a].sum(), xg, retain_graph=True)[0]
                                     for a in range(2)], dim=1) for i in range(2)], dim=1)
    fields = Fields(u.detach()[None], grad.detach()[None], hess[None])
    losses = problem.losses_from_fields(fields, batch, problem.loss_names)
    scale = 0.5 * float(((batch["B"] ** 2).sum(1)) @ w)  # pinn loss of the zero field
    assert float(losses["pinn"][0]) < 1e-26 * scale, (float(losses["pinn"][0]), scale)
    assert float(losses["max_error"][0]) < 1e-15 and float(losses["l2_error"][0]) < 1e-15


def inverted_batch(net: MLP) -> torch.Tensor:
    theta = net.init(4, generator=torch.Generator().manual_seed(3))
    theta[2] *= 40.0
    return theta


def test_inverted_vector_is_nan_and_only_that_one(physics):
    net, problem = physics.net, physics.problem
    theta = inverted_batch(net)
    batch = physics.prepare(theta)
    grad = net.fields(theta, batch["x"], 1, lambda _x: batch["distance"]).grad
    inverted = (kinematics(grad).J <= 0).any(dim=1)
    assert inverted.tolist() == [False, False, True, False]
    values = physics.evaluate(theta, problem.loss_names, chunk=3)  # across a chunk boundary too
    for name in ("drm", "pinn"):
        assert torch.isnan(values[name]).tolist() == [False, False, True, False], name
        alone = physics.evaluate(theta[[0, 1, 3]], [name])[name]
        torch.testing.assert_close(values[name][[0, 1, 3]], alone, rtol=1e-14, atol=0)
    assert bool(torch.isfinite(values["max_error"]).all())  # displacement errors do not involve J


def test_clamp_j_keeps_inverted_fields_finite(physics):
    clamped = PhysicsLosses(build_problem("hyperelastic2d", {"clamp_j": True}), physics.net)
    theta = inverted_batch(physics.net)
    values = clamped.evaluate(theta, ["drm", "pinn"])
    plain = physics.evaluate(theta, ["drm", "pinn"])
    for name in ("drm", "pinn"):
        assert bool(torch.isfinite(values[name]).all()), name
        torch.testing.assert_close(values[name][[0, 1, 3]], plain[name][[0, 1, 3]], rtol=1e-14, atol=0)


def test_settings_round_trip_and_validation():
    problem = build_problem("hyperelastic2d", {"lame2": 0.3, "alpha": 0.5, "radii": 10, "clamp_j": "true"})
    again = Hyperelastic2D.from_settings(json.loads(json.dumps(problem.settings())))
    assert again.settings() == problem.settings() and again.clamp_j and again.quadrature.points == 500
    with pytest.raises(InvalidSettingError, match="radii=0 must be an integer >= 1"):
        build_problem("hyperelastic2d", {"radii": 0})
    with pytest.raises(InvalidSettingError, match="need lame1 > 0"):
        build_problem("hyperelastic2d", {"lame1": -1.0})
    with pytest.raises(InvalidSettingError, match="has no setting youngs"):
        build_problem("hyperelastic2d", {"youngs": 1.0})


def test_short_training_decreases_both_losses(tmp_path):
    physics = build_physics("hyperelastic2d", {"radii": 8, "angles": 16})  # a coarse grid keeps it fast
    for loss in ("drm", "pinn"):
        train(tmp_path / "r.zarr", physics, TrainConfig(loss=loss, steps=25, lr=5e-3))
    run = open_run(tmp_path / "r.zarr")
    for loss in ("drm", "pinn"):
        values = run.trajectory(f"{loss}-adam-seed0").losses[loss]
        assert np.isfinite(values).all() and values[-1] < values[0] - 0.05 * abs(values[0]), (loss, values[[0, -1]])


def test_cli_trains_and_reports(tmp_path):
    runner = CliRunner()
    path = tmp_path / "h.zarr"
    result = runner.invoke(app, ["train", "hyperelastic2d", "--loss", "pinn", "--steps", "20", "--set", "lame2=0.3",
                                 "--set", "radii=6", "--set", "angles=12", "--out", str(path)])
    assert result.exit_code == 0, result.output
    info = runner.invoke(app, ["info", str(path), "--json"])
    assert info.exit_code == 0, info.output
    summary = json.loads(info.stdout)
    assert "hyperelastic2d" in info.stdout and summary["trajectories"][0]["rows"] == 21, info.stdout
    run = open_run(path)
    assert run.physics().problem.lame2 == 0.3 and run.physics().net.n_params == 775
