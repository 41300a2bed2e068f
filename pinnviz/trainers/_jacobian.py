"""Per-point parameter Jacobians of a space-time problem's residual and constraint errors (for the NTK)."""

from __future__ import annotations

import torch
from torch.func import jacrev, vmap

from pinnviz.errors import InvalidSettingError
from pinnviz.problems import PhysicsLosses


def check_pointwise(physics: PhysicsLosses) -> None:
    problem = physics.problem
    if not all(hasattr(problem, a) for a in ("pde_residual", "slices", "components")):
        raise InvalidSettingError(f"{problem.name} has no per-point residual; the NTK needs a problem such as "
                                  "convection1d or reaction1d")


def point_jacobians(physics: PhysicsLosses, theta: torch.Tensor, batch: dict,
                    subset: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Jacobians of the per-point quantities with respect to one parameter vector theta (n_params,).

    Returns {"residual": (n_r, n_params), "ic": (n_ic, n_params), "bc": (n_bc, n_params)}: rows are
    d r(x_j)/d theta at collocation points, d u(x_j, 0)/d theta at initial points and
    d [u(0, t_j) - u(2 pi, t_j)]/d theta at boundary pairs. `subset` maps a component to the indices
    (within its point set) to keep.
    """
    check_pointwise(physics)
    problem, net = physics.problem, physics.net
    x = batch["x"]

    def at_point(th: torch.Tensor, xp: torch.Tensor) -> torch.Tensor:
        fields = net.fields(th[None], xp[None], 1, functional=True)
        u = fields.value[0, 0, 0]
        r = problem.pde_residual(u, fields.grad[0, 0, 0, 0], fields.grad[0, 0, 0, 1])
        return torch.stack([u, r])  # (2,)

    jac = vmap(jacrev(at_point), in_dims=(None, 0))  # (n, 2, n_params)
    pick = subset or {}

    def rows(key: str, comp: str) -> torch.Tensor:
        idx = torch.arange(problem.slices[key].start, problem.slices[key].stop, device=x.device)
        if comp in pick:
            idx = idx[pick[comp].to(x.device)]
        return idx

    theta = theta.detach()
    j_r = jac(theta, x[rows("residual", "residual")])[:, 1]
    j_ic = jac(theta, x[rows("ic", "ic")])[:, 0]
    j_bc = jac(theta, x[rows("bc0", "bc")])[:, 0] - jac(theta, x[rows("bc1", "bc")])[:, 0]
    return {"residual": j_r, "ic": j_ic, "bc": j_bc}
