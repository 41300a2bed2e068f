"""Parameter-space gradients and Hessians of a named loss, exact (torch.func) for these network sizes."""

from __future__ import annotations

import torch
from torch.func import grad, hessian, vmap

from pinnviz.problems import PhysicsLosses


def _scalar_loss(physics: PhysicsLosses, name: str, batch: dict):
    def loss(theta: torch.Tensor) -> torch.Tensor:  # theta (P,) -> scalar
        return physics(theta[None], [name], batch, functional=True)[name][0]

    return loss


def loss_gradient(physics: PhysicsLosses, theta: torch.Tensor, name: str, batch: dict | None = None) -> torch.Tensor:
    """d loss / d theta of each row of theta (G, P): (G, P)."""
    batch = physics.prepare(theta, batch)
    return vmap(grad(_scalar_loss(physics, name, batch)))(theta)


def loss_hessian(physics: PhysicsLosses, theta: torch.Tensor, name: str, batch: dict | None = None) -> torch.Tensor:
    """The full Hessian d2 loss / d theta2 at one vector theta (P,): (P, P), symmetrised."""
    batch = physics.prepare(theta[None], batch)
    H = hessian(_scalar_loss(physics, name, batch))(theta)
    return 0.5 * (H + H.T)


def hessian_spectrum(physics: PhysicsLosses, theta: torch.Tensor, name: str, batch: dict | None = None):
    """Eigenvalues (ascending) and eigenvectors (columns) of the Hessian at theta (P,)."""
    return torch.linalg.eigh(loss_hessian(physics, theta, name, batch))
