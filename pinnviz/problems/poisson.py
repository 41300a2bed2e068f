"""1-D Poisson problem u'' + f = 0 on [0, 1], u(0) = u(1) = 0 (Rowan et al. 2024, section 2)."""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnviz.errors import InvalidSettingError, unknown_name
from pinnviz.nets import Fields
from pinnviz.problems._base import Problem
from pinnviz.problems._expr import Expression1D
from pinnviz.problems._quadrature import Quadrature1D

SOLUTIONS = {
    "default": "-2*x*sin(2*pi*x)",
    "sine": "sin(pi*x)",
    "quadratic": "x*(1 - x)",
    "sin4": "sin(4*pi*x)",
}


class Poisson1D(Problem):
    """u'' + f = 0 on [0, 1] with homogeneous Dirichlet conditions and a manufactured solution.

    Parameters
    ----------
    solution : str
        A registered name (see `SOLUTIONS`) or an expression in x; f = -u'' is derived from it.
    quadrature : {"midpoint", "montecarlo"}
    points : int
        Number of quadrature points (midpoints) or samples per call (Monte Carlo).
    seed : int
        Seed of the Monte Carlo sampler.

    Losses (each batched over parameter vectors):
    ``drm`` = int 1/2 u'^2 - f u,  ``pinn`` = 1/2 int (u'' + f)^2,  ``l2_error`` = ||u - u*|| / ||u*||.

    Example
    -------
    >>> Poisson1D().losses_order(["drm"])
    1
    """

    name = "poisson1d"
    OPTIONS = {"solution": "default", "quadrature": "midpoint", "points": 100, "seed": 0}
    inputs = 1
    outputs = 1
    loss_names = ("drm", "pinn", "l2_error")
    default_loss = "pinn"
    _order = {"drm": 1, "pinn": 2, "l2_error": 0}

    def __init__(self, solution: str = "default", *, quadrature: str = "midpoint", points: int = 100,
                 seed: int = 0) -> None:
        self.solution = solution
        self.exact = Expression1D(SOLUTIONS.get(solution, solution))
        self.exact.check_on(0.0, 1.0)
        for end, side in ((0.0, "+"), (1.0, "-")):
            value = self.exact.limit(end, side)  # the limit: sin(pi x)/x is pi at 0, not 0/0
            if not np.isfinite(value) or abs(value) > 1e-12:
                shown = f"{value.real:.3g}" if np.isfinite(value) and value.imag == 0 else "not finite or not real"
                raise InvalidSettingError(
                    f"solution {self.exact.text!r} is {shown} at x={end:g}; "
                    "the hard boundary condition needs u(0) = u(1) = 0"
                )
        self.quadrature = Quadrature1D(quadrature, points, a=0.0, b=1.0, seed=seed)
        self._u = self.exact.numeric("u")
        self._d2u = self.exact.numeric("d2u")

    def settings(self) -> dict:
        q = self.quadrature
        return {"name": self.name, "solution": self.solution, "quadrature": q.kind, "points": q.points,
                "seed": q.seed}

    @classmethod
    def from_settings(cls, settings: dict) -> Poisson1D:
        return cls(settings.get("solution", "default"), quadrature=settings.get("quadrature", "midpoint"),
                   points=settings.get("points", 100), seed=settings.get("seed", 0))

    def default_model(self) -> dict:
        """The paper's network: 1-20-20-1 tanh, distance function on the basis functions, no output bias."""
        return {"width": 20, "depth": 2, "bc": "hard", "output_bias": False}

    # ---------------------------------------------------------------- geometry
    @staticmethod
    def distance(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """sin(pi x) and its first and second derivatives: (N,), (N, 1), (N, 1, 1)."""
        s = torch.sin(math.pi * x[:, 0])
        c = torch.cos(math.pi * x[:, 0])
        return s, (math.pi * c)[:, None], (-(math.pi**2) * s)[:, None, None]

    def source(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) = -u*''(x) at points x (N, 1): (N,)."""
        return -torch.as_tensor(self._d2u(x[:, 0].detach().cpu().double().numpy())).to(x)

    def exact_value(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self._u(x[:, 0].detach().cpu().double().numpy())).to(x)

    # ---------------------------------------------------------------- losses

    def sample(self, dtype: torch.dtype = torch.float64) -> dict:
        """Quadrature points and weights with the data every loss needs there."""
        x, w = self.quadrature.sample(dtype)
        return {"x": x, "w": w, "f": self.source(x), "u_exact": self.exact_value(x)}

    INTEGRALS = ("drm", "pinn")  # losses that are a quadrature of a pointwise integrand

    def integrands(self, fields: Fields, batch: dict, names) -> dict[str, torch.Tensor]:
        """Pointwise integrand g (G, N) of each integral loss, so that loss = g @ w.

        drm: 1/2 u'^2 - f u; pinn: 1/2 (u'' + f)^2.
        """
        f, u = batch["f"], fields.value[..., 0]
        out = {}
        for name in names:
            if name == "drm":
                du = fields.grad[..., 0, 0]
                out[name] = 0.5 * du * du - f * u
            elif name == "pinn":
                r = fields.hess[..., 0, 0, 0] + f
                out[name] = 0.5 * r * r
            else:
                raise InvalidSettingError(f"loss {name!r} of {self.name} is not the integral of a pointwise "
                                          f"integrand; those are {', '.join(self.INTEGRALS)}")
        return out

    def losses_from_fields(self, fields: Fields, batch: dict, names) -> dict[str, torch.Tensor]:
        """Named losses (G,) from field values u (G, N, 1) and derivatives at the batch's points."""
        w = batch["w"]
        u = fields.value[..., 0]
        out = {}
        for name in names:
            if name in self.INTEGRALS:
                out[name] = self.integrands(fields, batch, [name])[name] @ w
            elif name == "l2_error":
                ue = batch["u_exact"]
                out[name] = torch.sqrt(((u - ue) ** 2) @ w / ((ue * ue) @ w))
            else:
                raise unknown_name(f"loss for {self.name}", name, self.loss_names)
        return out
