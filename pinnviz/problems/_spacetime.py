"""First-order-in-time PDEs on x in [0, 2 pi], t in [0, 1] with soft (penalty) constraints.

A problem holds five fixed point sets, concatenated into one ``x`` (N, 2) with columns (x, t), in the
order collocation | initial | boundary x=0 | boundary x=2 pi | test grid, so that one batched forward
pass serves every loss. Only the leading points a set of losses needs are evaluated
(`points_needed`): training never touches the 25,600-point test grid.
"""

from __future__ import annotations

import math

import torch

from pinnviz.errors import InvalidSettingError, unknown_name
from pinnviz.nets import Fields
from pinnviz.problems._base import Problem

TWO_PI = 2.0 * math.pi


class _FixedPoints:
    """The quadrature protocol of the trainer: these problems never re-draw their points."""

    stochastic = False
    kind = "fixed"


class SpaceTime1D(Problem):
    """Base of `Convection1D` and `Reaction1D`: u_t + F(u, u_x) = 0, u(x, 0) = h(x), u(0, t) = u(2 pi, t).

    Losses, each batched over parameter vectors (G,):
    ``residual`` = mean r^2 at `points` seeded uniform collocation points,
    ``ic`` = mean (u(x, 0) - h(x))^2 at `ic_points` uniform x,
    ``bc`` = mean (u(0, t) - u(2 pi, t))^2 at `bc_points` uniform t,
    ``total`` = c_r residual + c_ic ic + c_bc bc, and
    ``test`` = ||u - u*|| / ||u*|| on an nx x nt grid (x = 2 pi i / nx, t = j / (nt - 1)).
    """

    name = "spacetime"
    OPTIONS: dict = {}
    inputs = 2
    outputs = 1
    loss_names = ("residual", "ic", "bc", "total", "test")
    components = ("residual", "ic", "bc")
    default_loss = "total"
    _order = {"residual": 1, "ic": 0, "bc": 0, "total": 1, "test": 0}
    diagnostics = ("test",)  # 25,600 grid points against 1,456 training points
    quadrature = _FixedPoints()

    def __init__(self, *, points: int = 1000, ic_points: int = 256, bc_points: int = 100, nx: int = 256,
                 nt: int = 100, seed: int = 0, c_r: float = 1.0, c_ic: float = 1.0, c_bc: float = 1.0) -> None:
        for label, value in (("points", points), ("ic_points", ic_points), ("bc_points", bc_points),
                             ("nx", nx), ("nt", nt)):
            if int(value) < 1 or int(value) != value:
                raise InvalidSettingError(f"{label}={value} must be an integer >= 1")
        for label, value in (("c_r", c_r), ("c_ic", c_ic), ("c_bc", c_bc)):
            if not (float(value) >= 0 and math.isfinite(float(value))):
                raise InvalidSettingError(f"{label}={value} must be a finite number >= 0")
        self.points, self.ic_points, self.bc_points = int(points), int(ic_points), int(bc_points)
        self.nx, self.nt, self.seed = int(nx), int(nt), int(seed)
        self.c_r, self.c_ic, self.c_bc = float(c_r), float(c_ic), float(c_bc)
        n = [self.points, self.ic_points, self.bc_points, self.bc_points, self.nx * self.nt]
        ends = [sum(n[: k + 1]) for k in range(len(n))]
        self.slices = {key: slice(ends[k] - n[k], ends[k])
                       for k, key in enumerate(("residual", "ic", "bc0", "bc1", "test"))}

    # ------------------------------------------------------------ subclass interface
    def _params(self) -> dict:
        return {}

    def initial(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def exact(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def pde_residual(self, u: torch.Tensor, u_x: torch.Tensor, u_t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------ description
    def settings(self) -> dict:
        return {"name": self.name, **self._params(), "points": self.points, "ic_points": self.ic_points,
                "bc_points": self.bc_points, "nx": self.nx, "nt": self.nt, "seed": self.seed,
                "c_r": self.c_r, "c_ic": self.c_ic, "c_bc": self.c_bc}

    @classmethod
    def from_settings(cls, settings: dict):
        known = {k: settings[k] for k in cls.OPTIONS if k in settings}
        return cls(**known)

    def default_model(self) -> dict:
        """Krishnapriyan et al.'s network: (x, t) -> 4 hidden layers of 50 tanh -> u, output bias, no hard BC."""
        return {"width": 50, "depth": 4, "bc": "none", "output_bias": True}

    # ------------------------------------------------------------ points
    def point_sets(self, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
        """The five point sets (n_k, 2), columns (x, t); the collocation points come from `seed`."""
        g = torch.Generator().manual_seed(self.seed)
        colloc = torch.rand(self.points, 2, generator=g, dtype=torch.float64) * torch.tensor([TWO_PI, 1.0],
                                                                                              dtype=torch.float64)
        x_ic = TWO_PI * torch.arange(self.ic_points, dtype=torch.float64) / self.ic_points
        t_bc = torch.linspace(0.0, 1.0, self.bc_points, dtype=torch.float64)
        xg = TWO_PI * torch.arange(self.nx, dtype=torch.float64) / self.nx
        tg = torch.linspace(0.0, 1.0, self.nt, dtype=torch.float64)
        X, T = torch.meshgrid(xg, tg, indexing="ij")  # (nx, nt)
        sets = {
            "residual": colloc,
            "ic": torch.stack([x_ic, torch.zeros_like(x_ic)], 1),
            "bc0": torch.stack([torch.zeros_like(t_bc), t_bc], 1),
            "bc1": torch.stack([torch.full_like(t_bc, TWO_PI), t_bc], 1),
            "test": torch.stack([X.reshape(-1), T.reshape(-1)], 1),
        }
        return {k: v.to(dtype) for k, v in sets.items()}

    def sample(self, dtype: torch.dtype = torch.float64) -> dict:
        """All points (N, 2), unit weights (N,), and the reference value u_ref (N,): h at the initial
        points, the exact solution on the test grid, zero elsewhere."""
        sets = self.point_sets(torch.float64)
        x = torch.cat([sets[k] for k in ("residual", "ic", "bc0", "bc1", "test")])
        ref = torch.zeros(x.shape[0], dtype=torch.float64)
        ref[self.slices["ic"]] = self.initial(sets["ic"][:, 0])
        ref[self.slices["test"]] = self.exact(sets["test"][:, 0], sets["test"][:, 1])
        return {"x": x.to(dtype), "w": torch.ones(x.shape[0], dtype=dtype), "u_ref": ref.to(dtype)}

    def points_needed(self, names) -> int:
        """How many leading points of `x` the named losses read (the test grid only for `test`)."""
        return self.slices["test"].stop if "test" in names else self.slices["bc1"].stop

    def derivative_points(self, names) -> int:
        """How many leading points need x-derivatives: the collocation points (ic, bc, test need values)."""
        return self.slices["residual"].stop

    # ------------------------------------------------------------ losses

    def residuals(self, fields: Fields) -> torch.Tensor:
        """PDE residual r (G, points) at the collocation points."""
        s = self.slices["residual"]
        u = fields.value[:, s, 0]
        return self.pde_residual(u, fields.grad[:, s, 0, 0], fields.grad[:, s, 0, 1])

    def ic_errors(self, fields: Fields, batch: dict) -> torch.Tensor:
        """u(x, 0) - h(x) (G, ic_points)."""
        s = self.slices["ic"]
        return fields.value[:, s, 0] - batch["u_ref"][s]

    def bc_errors(self, fields: Fields) -> torch.Tensor:
        """u(0, t) - u(2 pi, t) (G, bc_points)."""
        return fields.value[:, self.slices["bc0"], 0] - fields.value[:, self.slices["bc1"], 0]

    def losses_from_fields(self, fields: Fields, batch: dict, names) -> dict[str, torch.Tensor]:
        """Named losses (G,) from u (G, N, 1) and its gradient (G, N, 1, 2) [d/dx, d/dt]."""
        out: dict[str, torch.Tensor] = {}
        cache: dict[str, torch.Tensor] = {}

        def component(name: str) -> torch.Tensor:
            if name not in cache:
                if name == "residual":
                    cache[name] = self.residuals(fields).square().mean(-1)
                elif name == "ic":
                    cache[name] = self.ic_errors(fields, batch).square().mean(-1)
                else:
                    cache[name] = self.bc_errors(fields).square().mean(-1)
            return cache[name]

        for name in names:
            if name in self.components:
                out[name] = component(name)
            elif name == "total":
                out[name] = (self.c_r * component("residual") + self.c_ic * component("ic")
                             + self.c_bc * component("bc"))
            elif name == "test":
                s = self.slices["test"]
                ref = batch["u_ref"][s]
                diff = fields.value[:, s, 0] - ref
                out[name] = torch.sqrt(diff.square().sum(-1) / ref.square().sum())
            else:
                raise unknown_name(f"loss for {self.name}", name, self.loss_names)
        return out

    def pointwise(self, fields: Fields, batch: dict) -> dict[str, torch.Tensor]:
        """The per-point quantities each component squares: {residual, ic, bc: (G, n)} (for the NTK)."""
        return {"residual": self.residuals(fields), "ic": self.ic_errors(fields, batch),
                "bc": self.bc_errors(fields)}
