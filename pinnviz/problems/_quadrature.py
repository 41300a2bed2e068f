"""Quadrature rules on boxes: fixed midpoints, or Monte Carlo samples re-drawn at every call."""

from __future__ import annotations

import torch

from pinnviz.errors import InvalidSettingError, unknown_name

QUADRATURES = ("midpoint", "montecarlo")


class Quadrature1D:
    """Points x (N, 1) and weights w (N,) on [a, b].

    "midpoint": N equal cells, their midpoints, weights (b - a)/N; the same at every call.
    "montecarlo": N uniform samples, re-drawn at every call from a seeded generator.
    """

    def __init__(self, kind: str = "midpoint", points: int = 100, *, a: float = 0.0, b: float = 1.0,
                 seed: int = 0) -> None:
        if kind not in QUADRATURES:
            raise unknown_name("quadrature", kind, QUADRATURES)
        if int(points) < 1:
            raise InvalidSettingError(f"quadrature points={points} must be >= 1")
        self.kind, self.points, self.a, self.b, self.seed = kind, int(points), float(a), float(b), int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    @property
    def stochastic(self) -> bool:
        return self.kind == "montecarlo"

    def sample(self, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
        n, length = self.points, self.b - self.a
        if self.kind == "midpoint":
            x = self.a + (torch.arange(n, dtype=dtype) + 0.5) * (length / n)
        else:
            x = self.a + torch.rand(n, generator=self.generator, dtype=torch.float64).to(dtype) * length
        return x[:, None], torch.full((n,), length / n, dtype=dtype)
