"""Exact parameter Hessian by reverse-over-reverse, all P rows in one batched backward.

`loss_hessian` (torch.func `hessian`, forward-over-reverse under vmap) is the oracle. Here the gradient
is taken once with `create_graph=True` through the analytic batched path and the P rows of the Hessian
come from one `autograd.grad(..., is_grads_batched=True)` call. Measured CPU time per Hessian on the
1-20-20-1 network (one thread, one run): drm 0.25 s vs 0.22 s for `loss_hessian`, pinn 0.36 s vs
0.46 s: at most 1.3x faster. (The "2 s" per Hessian was wall time on a loaded machine.) A 500-step
walk is thus about 2-3 CPU minutes per loss. Both agree to rounding (tests/test_probes_a.py).
"""

from __future__ import annotations

import torch

from pinnviz.problems import PhysicsLosses


def fast_hessian(physics: PhysicsLosses, theta: torch.Tensor, name: str, batch: dict | None = None) -> torch.Tensor:
    """The exact Hessian d2 loss / d theta2 at one vector theta (P,): (P, P), symmetrised."""
    batch = physics.prepare(theta[None], batch)
    with torch.enable_grad():
        point = theta.detach().clone().requires_grad_(True)
        loss = physics(point[None], [name], batch)[name][0]
        (gradient,) = torch.autograd.grad(loss, point, create_graph=True)  # (P,)
        eye = torch.eye(point.shape[0], dtype=point.dtype, device=point.device)  # (P, P)
        (H,) = torch.autograd.grad(gradient, point, eye, is_grads_batched=True)  # row k: H e_k
    return 0.5 * (H + H.T)


def fast_spectrum(physics: PhysicsLosses, theta: torch.Tensor, name: str, batch: dict | None = None):
    """Eigenvalues (ascending) and eigenvectors (columns) of `fast_hessian` at theta (P,), as CPU tensors.

    The Hessian is built on theta's device; the eigendecomposition is LAPACK's on the CPU wherever theta is
    (a P x P symmetric matrix of a few thousand rows at most), so the eigenvectors' signs, which the walk and
    the planes depend on, are those of the CPU path.
    """
    return torch.linalg.eigh(fast_hessian(physics, theta, name, batch).cpu())


def objective_of(run, physics: PhysicsLosses, trajectory: str, loss: str | None = None) -> str:
    """The loss a probe uses: `loss` when given (checked), else the trajectory's training objective
    (its `loss` attribute), else the problem's default loss."""
    if loss is None:
        loss = (run.trajectory_attrs(trajectory).get("loss")
                or getattr(physics.problem, "default_loss", None) or physics.names[0])
    return physics.check_names([loss])[0]
