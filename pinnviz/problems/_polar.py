"""Polar quadrature on a disk: equally spaced radii (cell midpoints) times equally spaced angles."""

from __future__ import annotations

import math

import torch

from pinnviz.errors import InvalidSettingError


class PolarQuadrature:
    """Points x (radii * angles, 2) and area weights w on the disk of radius `radius` about the origin.

    Radii are the midpoints r_i = (i + 1/2) dr of `radii` equal rings (dr = radius / radii); angles are
    theta_j = 2 pi j / angles. The weight of (r_i, theta_j) is the area of its cell,
    (r_{i+1/2}^2 - r_{i-1/2}^2) / 2 * dtheta = r_i dr dtheta, so the weights sum to pi radius^2 exactly and
    the rule is the midpoint rule in r times the (spectrally accurate) trapezoid rule in theta.
    The same points at every call.

    Example
    -------
    >>> x, w = PolarQuadrature(20, 50).sample()
    >>> x.shape, round(float(w.sum()), 12) == round(math.pi, 12)
    (torch.Size([1000, 2]), True)
    """

    kind = "polar"
    stochastic = False

    def __init__(self, radii: int = 20, angles: int = 50, *, radius: float = 1.0) -> None:
        for label, value in (("radii", radii), ("angles", angles)):
            if int(value) != value or int(value) < 1:
                raise InvalidSettingError(f"quadrature {label}={value} must be an integer >= 1")
        if not radius > 0:
            raise InvalidSettingError(f"disk radius={radius} must be > 0")
        self.radii, self.angles, self.radius = int(radii), int(angles), float(radius)

    @property
    def points(self) -> int:
        return self.radii * self.angles

    def sample(self, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
        dr, dt = self.radius / self.radii, 2.0 * math.pi / self.angles
        r = (torch.arange(self.radii, dtype=torch.float64) + 0.5) * dr  # (R,)
        t = torch.arange(self.angles, dtype=torch.float64) * dt  # (A,)
        rr, tt = torch.meshgrid(r, t, indexing="ij")  # (R, A) each, radius-major
        x = torch.stack([rr * torch.cos(tt), rr * torch.sin(tt)], dim=-1).reshape(-1, 2)
        w = (rr * (dr * dt)).reshape(-1)
        return x.to(dtype), w.to(dtype)
