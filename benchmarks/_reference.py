"""What a researcher would otherwise write: one nn.Module, one vector at a time, autograd for u', u''."""

from __future__ import annotations

import math
import time

import torch

from pinnviz.nets import MLP


def build_module(net: MLP) -> torch.nn.Module:
    layers: list[torch.nn.Module] = []
    fan_in = net.inputs
    for _ in range(net.depth):
        layers += [torch.nn.Linear(fan_in, net.width), torch.nn.Tanh()]
        fan_in = net.width
    layers.append(torch.nn.Linear(fan_in, net.outputs, bias=False))
    return torch.nn.Sequential(*layers)


def loop_losses(net: MLP, thetas: torch.Tensor, batch: dict, names=("drm", "pinn"), *,
                fresh_model: bool = False) -> torch.Tensor:
    """The named Poisson losses of each vector, one at a time: (n, len(names)).

    One nn.Module is reused, or (`fresh_model`, as the Neuro-Visualizer reference does) built per vector.
    """
    x0, w, f = batch["x"], batch["w"], batch["f"]
    results = torch.empty(thetas.shape[0], len(names), dtype=thetas.dtype)
    module = build_module(net).to(thetas.dtype)
    for i, theta in enumerate(thetas):
        if fresh_model:
            module = build_module(net).to(thetas.dtype)
        torch.nn.utils.vector_to_parameters(theta, module.parameters())
        x = x0.clone().requires_grad_(True)
        u = torch.sin(math.pi * x) * module(x)
        (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
        (d2u,) = torch.autograd.grad(du.sum(), x)
        u, du, d2u = u[:, 0].detach(), du[:, 0].detach(), d2u[:, 0]
        for j, name in enumerate(names):
            if name == "drm":
                results[i, j] = ((0.5 * du**2 - f * u) * w).sum()
            else:
                results[i, j] = 0.5 * (((d2u + f) ** 2) * w).sum()
    return results


def best_of(fn, repeats: int) -> float:
    """The fastest of `repeats` timed calls (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def module_from_vector(net: MLP, theta: torch.Tensor) -> torch.nn.Module:
    """A fresh nn.Module holding one flat parameter vector."""
    module = build_module(net).to(theta.dtype)
    torch.nn.utils.vector_to_parameters(theta, module.parameters())
    return module
