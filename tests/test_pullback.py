"""The hand-written reverse pass (`nets/_pullback.py`) against autograd, and training with it.

The fields must equal `MLP.fields`, and the pulled-back gradient of any linear functional of the fields
must equal autograd's gradient through `MLP.fields` (an independent computation: torch's own chain rule
through the forward-mode channels), for every network option and derivative order.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from pinnviz.nets import MLP, Fields
from pinnviz.nets._pullback import fields_and_pullback
from pinnviz.problems import build_physics

# every (inputs, outputs, order, activation), each with one of the (bc, output bias, depth) settings in turn
_SETTINGS = list(itertools.product(("hard", "none"), (False, True), (1, 3)))
CASES = [(*case, *_SETTINGS[i % len(_SETTINGS)])
         for i, case in enumerate(itertools.product((1, 2), (1, 2), (0, 1, 2), ("tanh", "x+tanh")))]


def _distance(x: torch.Tensor):
    """D = prod_a x_a (1 - x_a) with its exact first and second derivatives."""
    f = x * (1 - x)
    D = f.prod(dim=1)
    N, d = x.shape
    dD = torch.stack([(1 - 2 * x[:, a]) * f[:, [b for b in range(d) if b != a]].prod(dim=1) for a in range(d)], 1)
    d2D = torch.empty(N, d, d, dtype=x.dtype)
    for a, b in itertools.product(range(d), range(d)):
        rest = f[:, [c for c in range(d) if c not in (a, b)]].prod(dim=1)
        d2D[:, a, b] = -2 * rest if a == b else (1 - 2 * x[:, a]) * (1 - 2 * x[:, b]) * rest
    return D, dD, d2D


@pytest.mark.parametrize("inputs,outputs,order,activation,bc,output_bias,depth", CASES)
def test_fields_and_gradient_equal_autograd(inputs, outputs, order, activation, bc, output_bias, depth):
    net = MLP(inputs, outputs, 6, depth, activation=activation, bc=bc, output_bias=output_bias)
    theta = net.init(3, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    x = torch.rand(7, inputs, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    distance = _distance if bc == "hard" else None
    ref = net.fields(theta, x, order, distance, functional=True)
    mine, pullback = fields_and_pullback(net, theta, x, order, distance)
    g = torch.Generator().manual_seed(3)
    weights = [None if t is None else torch.randn(t.shape, dtype=t.dtype, generator=g)
               for t in (ref.value, ref.grad, ref.hess)]
    functional = sum((t * w).sum() for t, w in zip((ref.value, ref.grad, ref.hess), weights, strict=True)
                     if t is not None)
    (expected,) = torch.autograd.grad(functional, theta)
    for have, want in zip((mine.value, mine.grad, mine.hess), (ref.value, ref.grad, ref.hess), strict=True):
        assert (have is None) == (want is None)
        if want is not None:
            torch.testing.assert_close(have, want.detach(), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(pullback(Fields(*weights)), expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("problem,loss", [("poisson1d", "drm"), ("poisson1d", "pinn"), ("poisson1d", "l2_error"),
                                          ("hyperelastic2d", "pinn"), ("convection1d", "total")])
def test_loss_and_grad_equal_autograd_of_the_losses(problem, loss):
    physics = build_physics(problem)
    theta = physics.net.init(2, generator=torch.Generator().manual_seed(5)).requires_grad_(True)  # det F > 0
    batch = physics.prepare(theta.detach())
    names = ["residual", "ic", "bc", "total"] if loss == "total" else [loss]
    values, grad = physics.loss_and_grad(theta, names, lambda v: v[loss] * torch.tensor([1.0, 3.0]), batch)
    expected_values = physics(theta, names, batch)
    (expected,) = torch.autograd.grad((expected_values[loss] * torch.tensor([1.0, 3.0])).sum(), theta)
    for name in names:
        torch.testing.assert_close(values[name], expected_values[name].detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, expected, rtol=1e-10, atol=1e-12)


def test_training_with_the_pullback_follows_the_autograd_trajectory(tmp_path):
    """200 Adam steps of poisson1d drm: the trainer (hand-written gradient) against nn.Module + autograd."""
    import math

    from pinnviz.store import open_run
    from pinnviz.trainers import TrainConfig, train
    from pinnviz.trainers._train import uses_pullback

    physics = build_physics("poisson1d")
    assert uses_pullback(physics)
    train(tmp_path / "r.zarr", physics, TrainConfig(loss="drm", steps=200))
    stored = open_run(tmp_path / "r.zarr").trajectory("drm-adam-seed0")
    theta0 = physics.net.init(1, generator=torch.Generator().manual_seed(0))[0]
    layers = [torch.nn.Linear(1, 20), torch.nn.Tanh(), torch.nn.Linear(20, 20), torch.nn.Tanh(),
              torch.nn.Linear(20, 1, bias=False)]
    module = torch.nn.Sequential(*layers).double()
    torch.nn.utils.vector_to_parameters(theta0.clone(), module.parameters())
    sample = physics.problem.sample()
    x = sample["x"].clone().requires_grad_(True)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    for _ in range(200):
        optimizer.zero_grad()
        u = torch.sin(math.pi * x) * module(x)
        (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
        ((0.5 * du[:, 0] ** 2 - sample["f"] * u[:, 0]) @ sample["w"]).backward()
        optimizer.step()
    final = torch.nn.utils.parameters_to_vector(module.parameters()).detach().numpy()
    assert abs(stored.params[-1] - final).max() < 1e-9 * abs(final).max()
