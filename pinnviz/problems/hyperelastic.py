"""2-D compressible Neo-Hookean hyperelasticity on the unit disk (Rowan et al. 2024, section 3)."""

from __future__ import annotations

import functools

import numpy as np
import sympy
import torch

from pinnviz.errors import InvalidSettingError, unknown_name
from pinnviz.nets import Fields
from pinnviz.problems._base import Problem
from pinnviz.problems._neohookean import divergence, energy_density, kinematics
from pinnviz.problems._polar import PolarQuadrature


class Hyperelastic2D(Problem):
    """div P + B = 0 on the unit disk, u = 0 on its boundary, with a manufactured torsion solution.

    P = l1 (F - F^-T) + l2 log(J) F^-T, F = I + grad u, J = det F (compressible Neo-Hookean);
    u*(X) = alpha |X|^2 (1 - |X|^2) (-X2, X1) (equation 10) and B = -div P(u*), derived symbolically.

    Parameters
    ----------
    lame1, lame2 : float
        Lame constants l1 (> 0) and l2 (>= 0).
    alpha : float
        Twist rate of the manufactured solution.
    radii, angles : int
        Polar quadrature: midpoint radii times equally spaced angles (20 x 50 = 1,000 points).
    clamp_j : bool
        Clamp J at 1e-6 (finite losses everywhere, as the paper's mode-connectivity study); otherwise a
        parameter vector whose field inverts the material (J <= 0 at some point) gets NaN `drm` and `pinn`.

    Losses (each batched over parameter vectors):
    ``drm`` = int W(F) - B.u (equation 8),  ``pinn`` = 1/2 int |div P + B|^2 (equation 9),
    ``max_error`` = max over the points of |u - u*|,  ``l2_error`` = ||u - u*|| / ||u*||.
    The error metrics do not involve J and stay finite for inverted fields.

    ``pinn`` is a diagnostic loss of a ``drm`` run (`diagnostics`): `pinnviz train` logs it on every
    `--diagnostics-every`-th row and the last, NaN elsewhere, as the trajectory's `diagnostic_losses` say.
    Its order-2 pass costs about a ``drm`` training step a row (1.2-1.5 ms against 1.3), and filled in on
    every row it kept the other core busy the whole run and slowed the training 13% (`--diagnostics-every
    1` logs it on every row).

    Example
    -------
    >>> Hyperelastic2D().losses_order(["drm", "max_error"])
    1
    """

    name = "hyperelastic2d"
    OPTIONS = {"lame1": 1.0, "lame2": 0.25, "alpha": 1.0, "radii": 20, "angles": 50, "clamp_j": False}
    inputs = 2
    outputs = 2
    loss_names = ("drm", "pinn", "max_error", "l2_error")
    default_loss = "drm"
    _order = {"drm": 1, "pinn": 2, "max_error": 0, "l2_error": 0}
    diagnostics = ("pinn",)  # where it is not the objective: an order-2 pass, about a drm step a row

    def __init__(self, *, lame1: float = 1.0, lame2: float = 0.25, alpha: float = 1.0, radii: int = 20,
                 angles: int = 50, clamp_j: bool = False) -> None:
        if not float(lame1) > 0 or not float(lame2) >= 0:
            raise InvalidSettingError(f"Lame constants lame1={lame1}, lame2={lame2}: need lame1 > 0, lame2 >= 0")
        if isinstance(clamp_j, str):
            if clamp_j.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise InvalidSettingError(f"clamp_j={clamp_j!r} must be true or false")
            clamp_j = clamp_j.lower() in ("true", "1", "yes")
        self.lame1, self.lame2, self.alpha = float(lame1), float(lame2), float(alpha)
        self.clamp_j = bool(clamp_j)
        self.quadrature = PolarQuadrature(radii, angles)

    def settings(self) -> dict:
        q = self.quadrature
        return {"name": self.name, "lame1": self.lame1, "lame2": self.lame2, "alpha": self.alpha,
                "radii": q.radii, "angles": q.angles, "clamp_j": self.clamp_j}

    @classmethod
    def from_settings(cls, settings: dict) -> Hyperelastic2D:
        opts = {k: settings.get(k, v) for k, v in cls.OPTIONS.items()}
        return cls(**opts)

    def default_model(self) -> dict:
        """The paper's network: 2-25-25-2 tanh, phi on the basis functions, no output bias (775 parameters)."""
        return {"width": 25, "depth": 2, "bc": "hard", "output_bias": False}

    # ---------------------------------------------------------------- geometry
    @staticmethod
    def distance(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """phi = 1 - X1^2 - X2^2 and its derivatives: (N,), (N, 2), (N, 2, 2)."""
        phi = 1.0 - (x * x).sum(dim=1)
        d2 = -2.0 * torch.eye(2, dtype=x.dtype, device=x.device).expand(x.shape[0], 2, 2)
        return phi, -2.0 * x, d2

    def exact_value(self, x: torch.Tensor) -> torch.Tensor:
        """u*(X) (N, 2) of equation (10)."""
        r2 = (x * x).sum(dim=1, keepdim=True)
        return self.alpha * r2 * (1.0 - r2) * torch.stack([-x[:, 1], x[:, 0]], dim=1)

    def body_force(self, x: torch.Tensor) -> torch.Tensor:
        """B = -div P(u*) (N, 2), from the symbolic derivation (float64 numpy, then x's dtype)."""
        fn = _body_force_function()
        xs = x.detach().cpu().double().numpy()
        b1, b2 = fn(xs[:, 0], xs[:, 1], self.lame1, self.lame2, self.alpha)
        out = np.stack([np.broadcast_to(b1, xs[:, 0].shape), np.broadcast_to(b2, xs[:, 0].shape)], axis=1)
        return torch.as_tensor(out).to(x)

    # ---------------------------------------------------------------- losses

    def sample(self, dtype: torch.dtype = torch.float64) -> dict:
        """Quadrature points and area weights with B and u* there."""
        x, w = self.quadrature.sample(dtype)
        x64 = x.double()
        return {"x": x, "w": w, "B": self.body_force(x64).to(dtype), "u_exact": self.exact_value(x64).to(dtype)}

    def losses_from_fields(self, fields: Fields, batch: dict, names) -> dict[str, torch.Tensor]:
        """Named losses (G,) from u (G, N, 2), grad u (G, N, 2, 2) and its Hessian (G, N, 2, 2, 2)."""
        w, B = batch["w"], batch["B"]
        u = fields.value
        kin = sq_error = None
        out = {}
        for name in names:
            if name in ("drm", "pinn") and kin is None:
                kin = kinematics(fields.grad, clamp_j=self.clamp_j)
            if name == "drm":
                density = energy_density(kin, self.lame1, self.lame2) - (u * B).sum(dim=-1)  # (G, N)
                out[name] = density @ w
            elif name == "pinn":
                r = divergence(kin, fields.hess, self.lame1, self.lame2) + B  # (G, N, 2)
                out[name] = 0.5 * (r * r).sum(dim=-1) @ w
            elif name in ("max_error", "l2_error"):
                if sq_error is None:
                    # |u - u*|^2 (G, N), summed, not vector_norm: u is a strided view of the network's
                    # channels, on which vector_norm took 10x as long (a tenth of a pinn row's filling-in)
                    e = u - batch["u_exact"]
                    sq_error = (e * e).sum(dim=-1)
                if name == "max_error":
                    out[name] = sq_error.amax(dim=1).sqrt()
                else:
                    ue = batch["u_exact"]
                    out[name] = torch.sqrt(sq_error @ w / ((ue * ue).sum(dim=-1) @ w))
            else:
                raise unknown_name(f"loss for {self.name}", name, self.loss_names)
        return out


@functools.lru_cache(maxsize=1)
def _body_force_function():
    """(X1, X2, l1, l2, alpha) -> (B1, B2) with B = -div P(u*), differentiated symbolically once."""
    X1, X2, l1, l2, alpha = sympy.symbols("X1 X2 l1 l2 alpha", real=True)
    r2 = X1**2 + X2**2
    u = sympy.Matrix([-X2, X1]) * alpha * r2 * (1 - r2)
    X = (X1, X2)
    F = sympy.eye(2) + u.jacobian(X)
    J = F.det()
    F_inv_t = sympy.Matrix([[F[1, 1], -F[1, 0]], [-F[0, 1], F[0, 0]]]) / J
    P = l1 * (F - F_inv_t) + l2 * sympy.log(J) * F_inv_t
    B = [-sum(sympy.diff(P[i, j], X[j]) for j in range(2)) for i in range(2)]
    # common subexpressions once: the unshared expression took 22 ms for 1,000 points, this 0.7 ms
    return sympy.lambdify((X1, X2, l1, l2, alpha), B, modules="numpy", cse=True)
