import math

import pytest
import sympy
import torch

from pinnviz.errors import InvalidSettingError, UnknownNameError
from pinnviz.nets import MLP, Fields
from pinnviz.problems import PhysicsLosses, Poisson1D
from pinnviz.problems._evaluate import balanced_chunk
from tests.conftest import module_from_vector


def autograd_losses(net, theta, problem):
    """drm, pinn and l2_error of one vector with an nn.Module and torch.autograd (the reference)."""
    batch = problem.sample()
    x = batch["x"].clone().requires_grad_(True)
    u = (torch.sin(math.pi * x) * module_from_vector(net, theta)(x))[:, 0]
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x, create_graph=True)
    du, d2u = du[:, 0], d2u[:, 0]
    # f and u* straight from the closed form, not through the problem's sympy path
    xs = batch["x"][:, 0]
    exact = -2 * xs * torch.sin(2 * math.pi * xs)
    f = 8 * math.pi * torch.cos(2 * math.pi * xs) - 8 * math.pi**2 * xs * torch.sin(2 * math.pi * xs)
    w = 1.0 / len(xs)
    return {
        "drm": ((0.5 * du**2 - f * u) * w).sum(),
        "pinn": 0.5 * (((d2u + f) ** 2) * w).sum(),
        "l2_error": torch.sqrt(((u - exact) ** 2).sum() / (exact**2).sum()),
    }


def test_evaluation_in_blocks_of_points_matches_autograd(monkeypatch):
    """Order 2 and the hard-BC distance, each sliced per block of points (problems/_evaluate.py), forced on."""
    import pinnviz.problems._evaluate as evaluate_module

    problem, net = Poisson1D(), MLP(1, 1, 20, 2)
    physics = PhysicsLosses(problem, net)
    theta = net.init(3, generator=torch.Generator().manual_seed(4))
    for name, value in (("SPLIT_ABOVE_BYTES", 0), ("POINT_BLOCK_BYTES", 0), ("MIN_BLOCK_POINTS", 30)):
        monkeypatch.setattr(evaluate_module, name, value)
    got = physics.evaluate(theta, ["drm", "pinn", "l2_error"])  # blocks of 30, 30, 30 and 10 points
    for g in range(3):
        for name, value in autograd_losses(net, theta[g], problem).items():
            torch.testing.assert_close(got[name][g], value.detach(), rtol=1e-10, atol=1e-12)


def test_source_is_minus_second_derivative_of_default_solution():
    problem = Poisson1D()
    x = torch.linspace(0, 1, 7, dtype=torch.float64)[:, None]
    xs = x[:, 0]
    expected = 8 * math.pi * torch.cos(2 * math.pi * xs) - 8 * math.pi**2 * xs * torch.sin(2 * math.pi * xs)
    torch.testing.assert_close(problem.source(x), expected, rtol=1e-12, atol=1e-12)


def test_batched_losses_match_autograd_and_their_gradients_too():
    problem = Poisson1D()
    net = MLP(1, 1, 20, 2)
    physics = PhysicsLosses(problem, net)
    theta = net.init(4, scale=1.5, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    batched = physics(theta, ["drm", "pinn", "l2_error"])
    for g in range(4):
        reference = autograd_losses(net, theta[g].detach(), problem)
        for name, value in reference.items():
            torch.testing.assert_close(batched[name][g].detach(), value.detach(), rtol=1e-10, atol=1e-12)
    # parameter gradient through the analytic forward pass against central differences
    (grad,) = torch.autograd.grad(batched["pinn"].sum(), theta)
    eps = 1e-6
    for index in (0, 25, 100, 470):
        bump = torch.zeros(net.n_params, dtype=torch.float64)
        bump[index] = eps
        plus = physics(theta[1:2].detach() + bump, ["pinn"])["pinn"][0]
        minus = physics(theta[1:2].detach() - bump, ["pinn"])["pinn"][0]
        assert abs(float((plus - minus) / (2 * eps) - grad[1, index])) < 1e-5 * max(1.0, abs(float(grad[1, index])))


def exact_fields(problem, batch):
    expr = problem.exact
    x = batch["x"][:, 0].numpy()
    u = torch.as_tensor(expr.numeric("u")(x))
    du = torch.as_tensor(expr.numeric("du")(x))
    d2u = torch.as_tensor(expr.numeric("d2u")(x))
    return Fields(u[None, :, None], du[None, :, None, None], d2u[None, :, None, None, None])


@pytest.mark.parametrize("points,rtol", [(100, 2e-4), (1000, 2e-6)])
def test_exact_solution_gives_analytic_energy_and_zero_residual(points, rtol):
    problem = Poisson1D(points=points)
    batch = problem.sample()
    losses = problem.losses_from_fields(exact_fields(problem, batch), batch, ["drm", "pinn", "l2_error"])
    x = sympy.Symbol("x")
    u = -2 * x * sympy.sin(2 * sympy.pi * x)
    energy = float(-sympy.Rational(1, 2) * sympy.integrate(sympy.diff(u, x) ** 2, (x, 0, 1)))
    assert float(losses["drm"][0]) == pytest.approx(energy, rel=rtol)
    assert float(losses["pinn"][0]) < 1e-24
    assert float(losses["l2_error"][0]) == 0.0


def test_other_solutions_by_name_and_by_expression():
    by_name = Poisson1D("sine")
    by_expr = Poisson1D("sin(pi*x)")
    x = torch.tensor([[0.25], [0.5]], dtype=torch.float64)
    torch.testing.assert_close(by_name.source(x), math.pi**2 * torch.sin(math.pi * x[:, 0]))
    torch.testing.assert_close(by_expr.source(x), by_name.source(x))
    assert Poisson1D("x^2 - x").source(x).tolist() == pytest.approx([-2.0, -2.0])


@pytest.mark.parametrize("text,match", [
    ("__import__('os').system('true')", "uses '__import__'"),
    ("x + y", "uses 'y'"),
    ("x + 1", "is 1 at x=0; the hard boundary condition needs"),
    ("x * (1 - x", "cannot parse"),
])
def test_bad_solutions_are_rejected(text, match):
    with pytest.raises(InvalidSettingError, match=match):
        Poisson1D(text)


def test_monte_carlo_quadrature_redraws_and_is_seeded(poisson_physics):
    mc = PhysicsLosses(Poisson1D(quadrature="montecarlo", points=4000, seed=5), poisson_physics.net)
    again = PhysicsLosses(Poisson1D(quadrature="montecarlo", points=4000, seed=5), poisson_physics.net)
    theta = poisson_physics.net.init(2, generator=torch.Generator().manual_seed(0))
    first, second = mc(theta, ["pinn"])["pinn"], mc(theta, ["pinn"])["pinn"]
    assert not torch.equal(first, second)  # re-drawn at every call
    torch.testing.assert_close(again(theta, ["pinn"])["pinn"], first)  # same seed, same stream
    exact = poisson_physics(theta, ["pinn"])["pinn"]
    torch.testing.assert_close(first, exact, rtol=0.1, atol=0)  # an unbiased estimate of the integral


def test_unknown_loss_lists_valid_names(poisson_physics):
    with pytest.raises(UnknownNameError, match="unknown loss for poisson1d 'energy'; valid: drm, l2_error, pinn"):
        poisson_physics(poisson_physics.net.init(1), ["energy"])


def test_chunked_evaluation_equals_one_batch(poisson_physics):
    theta = poisson_physics.net.init(300)
    whole = poisson_physics(theta, ["drm", "pinn"])
    chunked = poisson_physics.evaluate(theta, ["drm", "pinn"], chunk=64)
    for name in whole:
        torch.testing.assert_close(chunked[name], whole[name], rtol=1e-13, atol=1e-13)


def test_evaluation_chunks_are_balanced_and_cover_every_row(poisson_physics, monkeypatch):
    assert [balanced_chunk(64, 21), balanced_chunk(65, 21), balanced_chunk(300, 64), balanced_chunk(10, 64)] == \
        [16, 17, 60, 10]
    for rows in range(1, 70):
        for chunk in (1, 5, 21, 64):
            size = balanced_chunk(rows, chunk)
            chunks = -(-rows // size)
            assert size <= chunk and chunks == -(-rows // chunk)  # as few chunks as before, none larger
            assert rows - (chunks - 1) * size >= size - (chunks - 1)  # the last one at most chunks - 1 shorter
    calls = []
    original = PhysicsLosses.__call__
    def counted(self, theta, *args, **kw):
        calls.append(theta.shape[0])
        return original(self, theta, *args, **kw)

    monkeypatch.setattr(PhysicsLosses, "__call__", counted)
    theta = poisson_physics.net.init(65)
    chunked = poisson_physics.evaluate(theta, ["pinn", "l2_error"], chunk=21)
    assert calls == [17, 17, 17, 14]
    whole = original(poisson_physics, theta, ["pinn", "l2_error"])
    for name in whole:
        torch.testing.assert_close(chunked[name], whole[name], rtol=1e-13, atol=1e-13)
