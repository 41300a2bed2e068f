"""Code a reviewer flagged, checked against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinnviz.nets import MLP
from pinnviz.probes.random_planes import sample_blocks, stochastic_losses
from pinnviz.problems import PhysicsLosses, Poisson1D
from tests.conftest import module_from_vector


@pytest.mark.parametrize("activation,inputs", [("tanh", 1), ("x+tanh", 2)])
def test_last_hidden_is_the_modules_hidden_layers(activation, inputs):
    net = MLP(inputs, 1, 7, 3, activation=activation, bc="none")
    theta = net.init(3, generator=torch.Generator().manual_seed(1))
    x = torch.rand(11, inputs, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    features = net.last_hidden(theta, x)
    assert features.shape == (3, 11, 7)
    for k in range(3):
        hidden = module_from_vector(net, theta[k])[:-1]  # nn.Sequential without the output layer
        torch.testing.assert_close(features[k], hidden(x), rtol=1e-12, atol=1e-12)


def test_poisson_integrands_integrate_to_its_losses_and_match_autograd():
    physics = PhysicsLosses(Poisson1D(), MLP(1, 1, 20, 2))
    theta = physics.net.init(2, generator=torch.Generator().manual_seed(0))
    batch = physics.prepare(theta)
    fields = physics.net.fields(theta, batch["x"], 2, lambda _x: batch["distance"])
    g = physics.problem.integrands(fields, batch, ["drm", "pinn"])
    losses = physics(theta, ["drm", "pinn"], batch)
    for name in ("drm", "pinn"):
        torch.testing.assert_close(g[name] @ batch["w"], losses[name], rtol=1e-13, atol=1e-13)
    x = batch["x"].clone().requires_grad_(True)  # independent: nn.Module and autograd in x
    u = torch.sin(math.pi * x) * module_from_vector(physics.net, theta[1])(x)
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x)
    xs = x.detach()[:, 0]
    f = 8 * math.pi * torch.cos(2 * math.pi * xs) - 8 * math.pi**2 * xs * torch.sin(2 * math.pi * xs)
    torch.testing.assert_close(g["drm"][1], 0.5 * du.detach()[:, 0] ** 2 - f * u.detach()[:, 0], rtol=1e-10,
                               atol=1e-10)
    torch.testing.assert_close(g["pinn"][1], 0.5 * (d2u[:, 0] + f) ** 2, rtol=1e-10, atol=1e-9)


def test_stochastic_losses_equal_one_vector_at_a_time_on_the_same_points():
    """The vmapped evaluation equals evaluating each vector alone on its own block of points."""
    mc = PhysicsLosses(Poisson1D(quadrature="montecarlo", points=30, seed=4), MLP(1, 1, 20, 2))
    theta = mc.net.init(10, generator=torch.Generator().manual_seed(3))
    batched = stochastic_losses(mc, theta, ["drm", "pinn", "l2_error"], chunk=4)
    # the same draws, replayed: chunks of 4 vectors take blocks of a 4 x 30-point sample each
    replay = PhysicsLosses(Poisson1D(quadrature="montecarlo", points=120, seed=4), mc.net)
    for start in range(0, 10, 4):
        vectors = theta[start : start + 4]
        blocks = sample_blocks(replay, len(vectors), 30, vectors)
        assert float(blocks["w"][0].sum()) == pytest.approx(1.0)  # each block integrates over [0, 1]
        for k in range(len(vectors)):
            block = {key: (tuple(p[k] for p in v) if key == "distance" else v[k]) for key, v in blocks.items()}
            alone = mc(vectors[k : k + 1], ["drm", "pinn", "l2_error"], block)
            for name, value in alone.items():
                assert float(batched[name][start + k]) == pytest.approx(float(value[0]), rel=1e-12)
    # different vectors saw different points: equal vectors get different Monte Carlo values
    same = stochastic_losses(mc, theta[:1].repeat(3, 1), ["drm"], chunk=4)["drm"]
    assert len(set(np.round(same.numpy(), 12))) == 3
