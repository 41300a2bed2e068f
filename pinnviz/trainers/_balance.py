"""Loss balancing: weights w (G, C) of the C loss components of G trajectories, one update per step.

The trained objective is sum_c w[:, c] * L_c (G,). Every method follows the same protocol: `weights`
is called once per step with the components' values at the current parameters (and, where
`needs_grads`, their gradients (G, n_params), or the parameters themselves for the NTK), returns the
weights used for that step's update, and keeps whatever state the next step needs. The state is plain
arrays per trajectory (`state_rows` / `load_rows`) so a killed run resumes exactly.

Methods
-------
ew        equal weights, w = 1.
cw        constant weights (given, or the problem's c_r, c_ic, c_bc).
dwa       dynamic weight average (Liu, Johns and Davison 2019): w_c = C softmax_c(L_c(t-1) / L_c(t-2) / T),
          w = 1 for the first two steps.
lra       learning-rate annealing (Wang, Teng and Perdikaris 2021, algorithm 1): for the constraints,
          lambda_hat_c = max |grad L_residual| / mean |grad L_c|, lambda_c <- (1 - alpha) lambda_c
          + alpha lambda_hat_c; the residual keeps weight 1.
gradnorm  GradNorm (Chen et al. 2018) on all parameters: G_c = w_c ||grad L_c||, r_c = (L_c/L_c(0)) /
          mean(L/L(0)), w_c <- w_c - lr sign(G_c - mean(G) r_c^alpha) ||grad L_c||, then renormalised
          to sum C (the target is held constant, as in the paper).
rlw       random loss weighting (Lin et al. 2021): w = C softmax(z), z ~ N(0, 1) each step.
ntk       PINN-NTK (algorithm 1 of the NTK paper): w_c = sum_k tr_k / tr_c with tr_c the trace of the
          component's NTK block divided by its number of points, on a seeded subset of points.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnviz.errors import InvalidSettingError, unknown_name

BALANCERS = ("none", "ew", "cw", "dwa", "lra", "gradnorm", "rlw", "ntk")


class Balancer:
    """Base: equal weights, no state."""

    needs_grads = False
    needs_jacobians = False

    def __init__(self, rows: int, components: tuple[str, ...], *, dtype: torch.dtype = torch.float64,
                 **options) -> None:
        self.rows, self.components, self.dtype = rows, tuple(components), dtype
        self.options = options

    @property
    def n(self) -> int:
        return len(self.components)

    def weights(self, step: int, losses: dict[str, torch.Tensor], grads: dict[str, torch.Tensor] | None = None,
                traces: torch.Tensor | None = None) -> torch.Tensor:
        return torch.ones(self.rows, self.n, dtype=self.dtype)

    # -------------------------------------------------------------- resume state
    _state: tuple[str, ...] = ()

    def state_rows(self) -> list[dict[str, np.ndarray]]:
        rows = [{} for _ in range(self.rows)]
        for key in self._state:
            value = getattr(self, key)
            for k in range(self.rows):
                rows[k][key] = np.array(np.nan) if value is None else value[k].detach().cpu().numpy().copy()
        return rows

    def load_rows(self, rows: list[dict[str, np.ndarray]]) -> None:
        for key in self._state:
            if key not in rows[0]:
                continue
            if np.ndim(rows[0][key]) == 0:  # never set before the snapshot
                setattr(self, key, None)
            else:
                setattr(self, key, torch.stack([torch.as_tensor(r[key]) for r in rows]).to(self.dtype))


def _stack(losses: dict[str, torch.Tensor], components) -> torch.Tensor:
    return torch.stack([losses[c].detach() for c in components], dim=1)  # (G, C)


class Constant(Balancer):
    def __init__(self, rows, components, *, weights=None, **options) -> None:
        super().__init__(rows, components, **options)
        values = [1.0] * len(components) if weights is None else [float(w) for w in weights]
        if len(values) != len(components) or not all(w >= 0 and math.isfinite(w) for w in values):
            raise InvalidSettingError(f"weights={list(values)} must be {len(components)} finite numbers >= 0, "
                                      f"one per component ({', '.join(components)})")
        self.value = torch.tensor(values, dtype=self.dtype)

    def weights(self, step, losses, grads=None, traces=None):
        return self.value.expand(self.rows, self.n).clone()


class DWA(Balancer):
    _state = ("prev1", "prev2")

    def __init__(self, rows, components, *, temperature: float = 2.0, **options) -> None:
        super().__init__(rows, components, **options)
        self.temperature = float(temperature)
        self.prev1: torch.Tensor | None = None
        self.prev2: torch.Tensor | None = None

    def weights(self, step, losses, grads=None, traces=None):
        current = _stack(losses, self.components)
        if self.prev1 is None or self.prev2 is None:
            w = torch.ones_like(current)
        else:
            w = self.n * torch.softmax(self.prev1 / self.prev2 / self.temperature, dim=1)
        self.prev1, self.prev2 = current, self.prev1
        return w


class LRA(Balancer):
    needs_grads = True
    _state = ("lam",)

    def __init__(self, rows, components, *, alpha: float = 0.9, every: int = 1, **options) -> None:
        super().__init__(rows, components, **options)
        self.alpha, self.every = float(alpha), int(every)
        self.lam = torch.ones(rows, self.n, dtype=self.dtype)

    def weights(self, step, losses, grads=None, traces=None):
        if step % self.every == 0:
            top = grads[self.components[0]].abs().amax(dim=1)  # (G,)
            for c, name in enumerate(self.components[1:], start=1):
                hat = top / grads[name].abs().mean(dim=1)
                self.lam[:, c] = (1.0 - self.alpha) * self.lam[:, c] + self.alpha * hat
        return self.lam.clone()


class GradNorm(Balancer):
    needs_grads = True
    _state = ("w", "initial")

    def __init__(self, rows, components, *, alpha: float = 1.5, lr: float = 0.01, **options) -> None:
        super().__init__(rows, components, **options)
        self.alpha, self.lr = float(alpha), float(lr)
        self.w = torch.ones(rows, self.n, dtype=self.dtype)
        self.initial: torch.Tensor | None = None

    def weights(self, step, losses, grads=None, traces=None):
        current = _stack(losses, self.components)
        if self.initial is None:
            self.initial = current.clone()
        used = self.w.clone()
        norms = torch.stack([grads[c].norm(dim=1) for c in self.components], dim=1)  # (G, C)
        g = used * norms
        ratio = current / self.initial
        r = ratio / ratio.mean(dim=1, keepdim=True)
        target = g.mean(dim=1, keepdim=True) * r**self.alpha
        w = (used - self.lr * torch.sign(g - target) * norms).clamp_min(1e-8)
        self.w = self.n * w / w.sum(dim=1, keepdim=True)
        return used


class RLW(Balancer):
    _state = ("rng",)

    def __init__(self, rows, components, *, seed: int = 0, **options) -> None:
        super().__init__(rows, components, **options)
        self.generator = torch.Generator().manual_seed(int(seed))

    @property
    def rng(self) -> torch.Tensor:  # the same generator state in every row
        return self.generator.get_state()[None].expand(self.rows, -1)

    @rng.setter
    def rng(self, value) -> None:
        if value is not None:
            self.generator.set_state(value[0].to(torch.uint8).contiguous())

    def weights(self, step, losses, grads=None, traces=None):
        z = torch.randn(self.rows, self.n, generator=self.generator, dtype=torch.float64).to(self.dtype)
        return self.n * torch.softmax(z, dim=1)


class NTKWeights(Balancer):
    needs_jacobians = True
    _state = ("lam",)

    def __init__(self, rows, components, *, every: int = 1, **options) -> None:
        super().__init__(rows, components, **options)
        self.every = int(every)
        self.lam = torch.ones(rows, self.n, dtype=self.dtype)

    def weights(self, step, losses, grads=None, traces=None):
        """`traces` (G, C): mean NTK diagonal of each component's block (needed on update steps)."""
        if step % self.every == 0:
            self.lam = traces.sum(dim=1, keepdim=True) / traces
        return self.lam.clone()


def make_balancer(name: str, rows: int, components, *, weights=None, every: int = 1, lra_alpha: float = 0.9,
                  dwa_temperature: float = 2.0, gradnorm_alpha: float = 1.5, gradnorm_lr: float = 0.01,
                  seed: int = 0, dtype: torch.dtype = torch.float64) -> Balancer | None:
    """The balancer registered as `name` (None for "none": train the plain objective)."""
    if name not in BALANCERS:
        raise unknown_name("balancing method", name, BALANCERS)
    if int(every) < 1:
        raise InvalidSettingError(f"balance_every={every} must be >= 1")
    kw = {"dtype": dtype}
    if name == "none":
        return None
    if name == "ew":
        return Constant(rows, components, **kw)
    if name == "cw":
        return Constant(rows, components, weights=weights, **kw)
    if name == "dwa":
        return DWA(rows, components, temperature=dwa_temperature, **kw)
    if name == "lra":
        return LRA(rows, components, alpha=lra_alpha, every=every, **kw)
    if name == "gradnorm":
        return GradNorm(rows, components, alpha=gradnorm_alpha, lr=gradnorm_lr, **kw)
    if name == "rlw":
        return RLW(rows, components, seed=seed, **kw)
    return NTKWeights(rows, components, every=every, **kw)
