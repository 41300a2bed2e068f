from __future__ import annotations

import math

import pytest
import torch

from pinnviz.nets import MLP
from pinnviz.problems import PhysicsLosses, Poisson1D
from pinnviz.trainers import TrainConfig, train


def module_from_vector(net: MLP, theta: torch.Tensor) -> torch.nn.Module:
    """An ordinary nn.Sequential holding one flat parameter vector (the independent reference)."""
    layers: list[torch.nn.Module] = []
    fan_in = net.inputs
    act = torch.nn.Tanh if net.activation == "tanh" else XPlusTanh
    for _ in range(net.depth):
        layers += [torch.nn.Linear(fan_in, net.width), act()]
        fan_in = net.width
    layers.append(torch.nn.Linear(fan_in, net.outputs, bias=net.output_bias))
    module = torch.nn.Sequential(*layers).to(theta.dtype)
    with torch.no_grad():
        for param, entry in zip(module.parameters(), net.layout.entries, strict=True):
            param.copy_(theta[entry.offset : entry.offset + entry.size].reshape(entry.shape))
    return module


class XPlusTanh(torch.nn.Module):
    def forward(self, z):
        return z + torch.tanh(z)


def sine_distance(x: torch.Tensor) -> torch.Tensor:
    return torch.prod(torch.sin(math.pi * x), dim=1, keepdim=True)


@pytest.fixture
def poisson_physics() -> PhysicsLosses:
    return PhysicsLosses(Poisson1D(), MLP(1, 1, 20, 2))


@pytest.fixture
def short_run(tmp_path, poisson_physics):
    """A store with one 40-step pinn trajectory."""
    path = tmp_path / "run.zarr"
    train(path, poisson_physics, TrainConfig(loss="pinn", steps=40))
    return path


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """`pinnviz --threads N` run in-process sets torch's threads for the whole process; keep tests apart."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
