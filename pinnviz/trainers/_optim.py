"""Optimizers by name, with their state as plain arrays (for resuming from a store)."""

from __future__ import annotations

import numpy as np
import torch

from pinnviz.errors import unknown_name

OPTIMIZERS = ("adam", "sgd", "lbfgs", "adam+lbfgs")
LBFGS_OPTIMIZERS = ("lbfgs", "adam+lbfgs")


class FlatAdam:
    """Adam with PyTorch's defaults for one (K, P) parameter tensor: the arithmetic of
    `torch.optim.Adam`'s single-tensor path, operation for operation, so both give the same bits.

    `torch.optim.Adam.step` spends about 0.1 ms per call on hooks, dispatch and guards, which is
    a tenth of a small PINN's step; this is the same update in seven tensor operations. The state
    has torch's keys ("step", "exp_avg", "exp_avg_sq") in `state[param]`, so `optimizer_rows`
    reads and restores both alike.
    """

    def __init__(self, param: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.param, self.lr, self.betas, self.eps = param, float(lr), betas, float(eps)
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.param.grad = None

    def step(self) -> None:
        grad, param = self.param.grad, self.param
        if grad is None:
            return
        beta1, beta2 = self.betas
        with torch.no_grad():
            state = self.state.get(param)
            if not state:
                scalar = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
                state = self.state[param] = {"step": torch.tensor(0.0, dtype=scalar),
                                             "exp_avg": torch.zeros_like(param), "exp_avg_sq": torch.zeros_like(param)}
            state["step"] += 1
            step = state["step"].item()
            state["exp_avg"].lerp_(grad, 1 - beta1)
            state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step_size = self.lr / (1 - beta1**step)
            denom = (state["exp_avg_sq"].sqrt() / (1 - beta2**step) ** 0.5).add_(self.eps)
            param.addcdiv_(state["exp_avg"], denom, value=-step_size)


class FlatSGD:
    """Full-batch gradient descent without momentum, as `torch.optim.SGD(lr=lr)` (no state)."""

    def __init__(self, param: torch.Tensor, lr: float) -> None:
        self.param, self.lr = param, float(lr)
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.param.grad = None

    def step(self) -> None:
        if self.param.grad is not None:
            with torch.no_grad():
                self.param.add_(self.param.grad, alpha=-self.lr)


def make_optimizer(name: str, param: torch.Tensor, lr: float) -> FlatAdam | FlatSGD:
    """Adam (PyTorch defaults) or plain gradient descent ("sgd", full batch, no momentum) of one tensor."""
    if name == "adam":
        return FlatAdam(param, lr)
    if name == "sgd":
        return FlatSGD(param, lr)
    raise unknown_name("optimizer", name, ("adam", "sgd"))


def make_lbfgs(param: torch.Tensor, lr: float = 1.0, history: int = 50) -> torch.optim.LBFGS:
    """L-BFGS with a strong Wolfe line search doing one iteration per `step` (so each is logged).

    `max_eval` is set explicitly: PyTorch caps the line search at max_eval minus the evaluations
    already made, and its default (max_iter * 5 // 4 = 1) would leave none.
    """
    return torch.optim.LBFGS([param], lr=lr, max_iter=1, max_eval=26, history_size=history,
                             line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)


def optimizer_rows(optimizer: FlatAdam | FlatSGD, param: torch.Tensor) -> list[dict[str, np.ndarray]]:
    """Per-row (per trajectory) optimizer state of a (K, n_params) parameter, as numpy arrays."""
    state = optimizer.state.get(param, {})
    rows = []
    for k in range(param.shape[0]):
        row = {}
        for key, value in state.items():
            value = value.detach().cpu()
            row[key] = value.numpy().copy() if value.ndim == 0 else value[k].numpy().copy()
        rows.append(row)
    return rows


def load_optimizer_rows(optimizer: FlatAdam | FlatSGD, param: torch.Tensor,
                        rows: list[dict[str, np.ndarray]]) -> None:
    """Inverse of `optimizer_rows`: stack each trajectory's state back into the optimizer."""
    if not rows or not rows[0]:
        return
    state = {}
    for key, first in rows[0].items():
        if first.ndim == 0:
            state[key] = torch.as_tensor(first).clone()
        else:
            state[key] = torch.stack([torch.as_tensor(r[key]) for r in rows]).to(param.device, param.dtype)
    optimizer.state[param] = state
