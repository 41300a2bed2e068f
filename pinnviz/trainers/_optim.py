"""Optimizers by name, with their state as plain arrays (for resuming from a store)."""

from __future__ import annotations

import numpy as np
import torch

from pinnviz.errors import unknown_name

OPTIMIZERS = ("adam", "sgd", "lbfgs", "adam+lbfgs")
LBFGS_OPTIMIZERS = ("lbfgs", "adam+lbfgs")


def make_optimizer(name: str, param: torch.Tensor, lr: float) -> torch.optim.Optimizer:
    """Adam (PyTorch defaults) or plain gradient descent ("sgd", full batch, no momentum)."""
    if name == "adam":
        return torch.optim.Adam([param], lr=lr)
    if name == "sgd":
        return torch.optim.SGD([param], lr=lr)
    raise unknown_name("optimizer", name, ("adam", "sgd"))


def make_lbfgs(param: torch.Tensor, lr: float = 1.0, history: int = 50) -> torch.optim.LBFGS:
    """L-BFGS with a strong Wolfe line search doing one iteration per `step` (so each is logged).

    `max_eval` is set explicitly: PyTorch caps the line search at max_eval minus the evaluations
    already made, and its default (max_iter * 5 // 4 = 1) would leave none.
    """
    return torch.optim.LBFGS([param], lr=lr, max_iter=1, max_eval=26, history_size=history,
                             line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)


def optimizer_rows(optimizer: torch.optim.Optimizer, param: torch.Tensor) -> list[dict[str, np.ndarray]]:
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


def load_optimizer_rows(optimizer: torch.optim.Optimizer, param: torch.Tensor,
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
