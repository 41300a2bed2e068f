"""Convection and reaction PINNs of Krishnapriyan et al. (2021), soft constraints, periodic in x."""

from __future__ import annotations

import math

import torch

from pinnviz.errors import InvalidSettingError
from pinnviz.problems._spacetime import SpaceTime1D

_COMMON = {"points": 1000, "ic_points": 256, "bc_points": 100, "nx": 256, "nt": 100, "seed": 0,
           "c_r": 1.0, "c_ic": 1.0, "c_bc": 1.0}


class Convection1D(SpaceTime1D):
    """u_t + beta u_x = 0 on [0, 2 pi] x [0, 1], u(x, 0) = sin x, u(0, t) = u(2 pi, t).

    Exact solution sin(x - beta t). See `SpaceTime1D` for the losses and point sets.

    Example
    -------
    >>> Convection1D(beta=30.0).settings()["beta"]
    30.0
    """

    name = "convection1d"
    OPTIONS = {"beta": 10.0, **_COMMON}

    def __init__(self, beta: float = 10.0, **kwargs) -> None:
        if not math.isfinite(float(beta)):
            raise InvalidSettingError(f"beta={beta} must be a finite number")
        self.beta = float(beta)
        super().__init__(**kwargs)

    def _params(self) -> dict:
        return {"beta": self.beta}

    def initial(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)

    def exact(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.sin(x - self.beta * t)

    def pde_residual(self, u, u_x, u_t):
        return u_t + self.beta * u_x


class Reaction1D(SpaceTime1D):
    """u_t - rho u (1 - u) = 0 on [0, 2 pi] x [0, 1], Gaussian u(x, 0), periodic in x (a nonlinear PDE).

    h(x) = exp(-(x - pi)^2 / (2 (pi/4)^2)); exact solution h e^{rho t} / (h e^{rho t} + 1 - h).

    Example
    -------
    >>> Reaction1D().settings()["rho"]
    5.0
    """

    name = "reaction1d"
    OPTIONS = {"rho": 5.0, **_COMMON}

    def __init__(self, rho: float = 5.0, **kwargs) -> None:
        if not math.isfinite(float(rho)):
            raise InvalidSettingError(f"rho={rho} must be a finite number")
        self.rho = float(rho)
        super().__init__(**kwargs)

    def _params(self) -> dict:
        return {"rho": self.rho}

    def initial(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-((x - math.pi) ** 2) / (2.0 * (math.pi / 4.0) ** 2))

    def exact(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = self.initial(x)
        e = torch.exp(self.rho * t)
        return h * e / (h * e + 1.0 - h)

    def pde_residual(self, u, u_x, u_t):
        return u_t - self.rho * u * (1.0 - u)
