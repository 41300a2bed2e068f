"""Physics losses of a problem and a network, batched over parameter vectors."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from pinnviz.errors import unknown_name
from pinnviz.nets import MLP


class PhysicsLosses:
    """`losses(theta (G, n_params), names) -> {name: (G,)}` for one problem and one network.

    The whole batch goes through one analytic forward pass per chunk; no Python loop over vectors.

    Example
    -------
    >>> from pinnviz.problems import Poisson1D
    >>> from pinnviz.nets import MLP
    >>> losses = PhysicsLosses(Poisson1D(), MLP(1, 1, 20, 2))
    >>> theta = losses.net.init(4)
    >>> losses(theta, ["drm", "pinn"])["pinn"].shape
    torch.Size([4])
    """

    def __init__(self, problem, net: MLP) -> None:
        self.problem = problem
        self.net = net

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.problem.loss_names)

    def check_names(self, names: Sequence[str]) -> list[str]:
        for name in names:
            if name not in self.problem.loss_names:
                raise unknown_name(f"loss for {self.problem.name}", name, self.problem.loss_names)
        return list(names)

    def prepare(self, theta: torch.Tensor, batch: dict | None = None) -> dict:
        """Quadrature batch on theta's device and dtype, with the distance function evaluated once."""
        if batch is None:
            batch = self.problem.sample(theta.dtype)
        batch = {k: v.to(theta.device, theta.dtype) for k, v in batch.items() if torch.is_tensor(v)}
        if self.net.bc == "hard":
            batch["distance"] = self.problem.distance(batch["x"])
        return batch

    def __call__(self, theta: torch.Tensor, names: Sequence[str] | None = None,
                 batch: dict | None = None, *, functional: bool = False) -> dict[str, torch.Tensor]:
        """Losses (G,) of every vector in theta (G, n_params); differentiable in theta.

        `batch` fixes the quadrature (else the problem samples one: a new one per call for Monte Carlo).
        `functional` avoids in-place writes, for use inside torch.func transforms.
        """
        names = self.check_names(names or self.names)
        if batch is None or "distance" not in batch and self.net.bc == "hard":
            batch = self.prepare(theta, batch)
        order = self.problem.losses_order(names)
        distance = (lambda _x: batch["distance"]) if self.net.bc == "hard" else None
        x = batch["x"]
        needed = getattr(self.problem, "points_needed", None)
        if needed is not None:  # e.g. leave a test grid out of training steps
            x = x[: needed(names)]
        fields = self.net.fields(theta, x, order, distance, functional=functional)
        return self.problem.losses_from_fields(fields, batch, names)

    @torch.no_grad()
    def evaluate(self, theta: torch.Tensor, names: Sequence[str] | None = None, *, chunk: int | None = None,
                 batch: dict | None = None,
                 progress: Callable[[int], None] | None = None) -> dict[str, torch.Tensor]:
        """Losses of many vectors, `chunk` at a time, all on one quadrature (a fair landscape).

        The default chunk keeps vectors x points near 8,192 (64 vectors at 100 points, 8 at 1,000), so
        the working set stays in cache; see benchmarks/bench_loss_eval.py.
        """
        names = self.check_names(names or self.names)
        batch = self.prepare(theta, batch)
        if chunk is None:
            chunk = max(1, min(64, 8192 // max(1, batch["x"].shape[0])))
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
        for start in range(0, theta.shape[0], chunk):
            values = self(theta[start : start + chunk], names, batch)
            for name in names:
                parts[name].append(values[name])
            if progress is not None:
                progress(min(chunk, theta.shape[0] - start))
        return {name: torch.cat(parts[name]) if parts[name] else theta.new_zeros(0) for name in names}
