"""Compressible Neo-Hookean material in 2-D, batched over leading axes (Rowan et al. 2024, eqs. 7-9).

W(F) = l1/2 (F:F - 2 log J) + l2/2 (log J)^2,   P = dW/dF = l1 (F - F^-T) + l2 log J F^-T.

Every function takes the displacement gradient ``grad`` (..., 2, 2) with grad[..., i, a] = du_i/dX_a and,
where needed, the displacement Hessian ``hess`` (..., 2, 2, 2) with hess[..., i, a, b] = d2u_i/dX_a dX_b.
Leading axes are typically (G parameter vectors, N points).

Inverted material (J <= 0): log J is NaN there (not -inf or a complex log), so any integral over a field
with one inverted point is NaN. ``clamp_j`` instead replaces J by max(J, 1e-6) wherever J appears (log J
and the 1/J of F^-1), as the paper does for mode connectivity: finite, but no longer a consistent law.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

J_FLOOR = 1e-6


@dataclass
class Kinematics:
    """F (..., 2, 2), J (...,), log J (...,) and F^-1 (..., 2, 2) of a displacement gradient."""

    F: torch.Tensor
    J: torch.Tensor
    log_j: torch.Tensor
    F_inv: torch.Tensor


def kinematics(grad: torch.Tensor, *, clamp_j: bool = False) -> Kinematics:
    """Deformation gradient F = I + grad u, its determinant, log J and inverse (closed form in 2-D)."""
    F = grad + torch.eye(2, dtype=grad.dtype, device=grad.device)
    a, b, c, d = F[..., 0, 0], F[..., 0, 1], F[..., 1, 0], F[..., 1, 1]
    J = a * d - b * c
    if clamp_j:
        J = J.clamp_min(J_FLOOR)
        log_j = torch.log(J)
    else:  # NaN, not -inf, at J = 0; log of a negative number is already NaN
        log_j = torch.where(J > 0, torch.log(J), J.new_full((), float("nan")))
    inv_j = 1.0 / J
    # F^-1 = adj(F) / J, adj(F) = [[d, -b], [-c, a]]
    F_inv = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) * inv_j[..., None, None]
    return Kinematics(F, J, log_j, F_inv)


def energy_density(kin: Kinematics, lame1: float, lame2: float) -> torch.Tensor:
    """W = l1/2 (F:F - 2 log J) + l2/2 (log J)^2, shape (...,)."""
    ff = (kin.F * kin.F).sum(dim=(-2, -1))
    return 0.5 * lame1 * (ff - 2.0 * kin.log_j) + 0.5 * lame2 * kin.log_j * kin.log_j


def piola(kin: Kinematics, lame1: float, lame2: float) -> torch.Tensor:
    """First Piola-Kirchhoff stress P = l1 (F - F^-T) + l2 log J F^-T, shape (..., 2, 2)."""
    F_inv_t = kin.F_inv.transpose(-1, -2)
    return lame1 * (kin.F - F_inv_t) + (lame2 * kin.log_j)[..., None, None] * F_inv_t


def divergence(kin: Kinematics, hess: torch.Tensor, lame1: float, lame2: float) -> torch.Tensor:
    """div P (..., 2), (div P)_i = dP_ij/dX_j, by the chain rule dP_ij/dX_j = A_ijkl dF_kl/dX_j.

    With dF_kl/dX_j = hess[k, l, j] and the tangent
    A_ijkl = l1 d_ik d_jl + (l1 - l2 log J) Finv_li Finv_jk + l2 Finv_ji Finv_lk,
    the two Finv Finv terms contract, by the symmetry hess[k, l, j] = hess[k, j, l], to the same vector
    g_j = Finv_lk hess[k, l, j] = d(log J)/dX_j, so
        div P = l1 lap u + (l1 + l2 - l2 log J) F^-T grad(log J).
    Written out component by component: at size 2, einsum (bmm) and small-axis sums cost more than the
    dozen elementwise products on (...,) slices.
    """
    (f00, f01), (f10, f11) = (row.unbind(-1) for row in kin.F_inv.unbind(-2))  # Finv_ab, each (...,)
    h0, h1 = hess.unbind(-3)  # hess of u_0, u_1: (..., 2, 2) each
    (a00, a01), (_, a11) = (row.unbind(-1) for row in h0.unbind(-2))  # d2u_0/dX_a dX_b
    (b00, b01), (_, b11) = (row.unbind(-1) for row in h1.unbind(-2))  # d2u_1/dX_a dX_b
    # g_j = Finv_lk d2u_k/dX_l dX_j (symmetric Hessians: d2u/dX_1 dX_0 = d2u/dX_0 dX_1)
    g0 = f00 * a00 + f10 * a01 + f01 * b00 + f11 * b01
    g1 = f00 * a01 + f10 * a11 + f01 * b01 + f11 * b11
    coef = lame1 + lame2 - lame2 * kin.log_j  # (...,)
    # div P_i = l1 lap u_i + coef (F^-T g)_i, (F^-T g)_i = Finv_li g_l
    d0 = lame1 * (a00 + a11) + coef * (f00 * g0 + f10 * g1)
    d1 = lame1 * (b00 + b11) + coef * (f01 * g0 + f11 * g1)
    return torch.stack([d0, d1], dim=-1)  # (..., 2)
