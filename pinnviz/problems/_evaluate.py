"""Physics losses of a problem and a network, batched over parameter vectors."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from pinnviz.errors import unknown_name
from pinnviz.nets import MLP, Fields

CHUNK_BYTES = 5 << 20  # a chunk's channel buffer in `evaluate` (cache-sized)
# a forward pass without autograd whose channel buffer exceeds SPLIT_ABOVE_BYTES (one evaluation chunk's, so
# that chunks sized by `default_chunk` are left whole) is split into blocks of points of POINT_BLOCK_BYTES
SPLIT_ABOVE_BYTES = CHUNK_BYTES + (CHUNK_BYTES >> 2)
POINT_BLOCK_BYTES = 2 << 20
MIN_BLOCK_POINTS = 256


class PhysicsLosses:
    """`losses(theta (G, n_params), names) -> {name: (G,)}` for one problem and one network.

    The whole batch goes through one analytic forward pass per chunk; no Python loop over vectors.

    Example
    -------
    >>> from pinnviz.problems import Poisson1D
    >>> from pinnviz.nets import MLP, Fields
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
        order, x, lead = self._points(names, batch)
        fields = self._fields(theta, x, 0, lead, order, batch, functional)
        if lead < x.shape[0]:  # the other points need only values: one channel, not 1 + d (+ d^2)
            values = self._fields(theta, x, lead, x.shape[0], 0, batch, functional).value
            fields = Fields(torch.cat([fields.value, values], dim=1), fields.grad, fields.hess)
        return self.problem.losses_from_fields(fields, batch, names)

    def loss_and_grad(self, theta: torch.Tensor, names: Sequence[str], objective: Callable[[dict], torch.Tensor],
                      batch: dict) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The named losses (G,) (detached) and d objective(losses).sum() / d theta (G, n_params), by the
        network's hand-written reverse pass (`nets/_pullback.py`) instead of autograd's graph.

        Only the few operations from the fields to the losses go through autograd, on the fields as
        leaves; their cotangents are then pulled back through the layers. `batch` as from `prepare`.
        """
        from pinnviz.nets._pullback import fields_and_pullback

        names = self.check_names(names)
        order, x, lead = self._points(names, batch)
        parts = [(0, lead, order)] + ([(lead, x.shape[0], 0)] if lead < x.shape[0] else [])
        pulled = []
        for start, stop, part_order in parts:
            distance = tuple(t[start:stop] for t in batch["distance"]) if self.net.bc == "hard" else None
            pulled.append(fields_and_pullback(self.net, theta, x[start:stop], part_order,
                                              None if distance is None else (lambda _x, p=distance: p)))
        first = pulled[0][0]
        value = torch.cat([f.value for f, _ in pulled], dim=1) if len(pulled) > 1 else first.value
        leaves = (value, first.grad, first.hess)
        wrt = [t.requires_grad_(True) for t in leaves if t is not None]
        with torch.enable_grad():
            losses = self.problem.losses_from_fields(Fields(*leaves), batch, names)
            cots = iter(torch.autograd.grad(objective(losses).sum(), wrt, allow_unused=True))
        value_bar, grad_bar, hess_bar = (next(cots) if t is not None else None for t in leaves)
        grad = pulled[0][1](Fields(None if value_bar is None else value_bar[:, :lead], grad_bar, hess_bar))
        if len(pulled) > 1 and value_bar is not None:
            grad = grad + pulled[1][1](Fields(value_bar[:, lead:], None, None))
        return {k: v.detach() for k, v in losses.items()}, grad

    def _points(self, names: Sequence[str], batch: dict) -> tuple[int, torch.Tensor, int]:
        """(derivative order of the losses, the points they read, how many leading ones need derivatives)."""
        order = self.problem.losses_order(names)
        x = batch["x"]
        points = self.points_needed(names)
        if points is not None:  # e.g. leave a test grid out of training steps
            x = x[:points]
        lead = getattr(self.problem, "derivative_points", None)
        lead = x.shape[0] if lead is None or order == 0 else min(lead(names), x.shape[0])
        return order, x, lead

    def _fields(self, theta, x, start: int, stop: int, order: int, batch: dict, functional: bool) -> Fields:
        """Fields at points [start, stop); without autograd, a forward pass whose channel buffer would exceed
        `SPLIT_ABOVE_BYTES` is made `POINT_BLOCK_BYTES` of points at a time (each point's fields depend on
        that point alone, so the values are the same up to rounding): convection's 25,600-point test grid at
        one vector is 11 MB of channels a layer, which run from memory, not cache
        (benchmarks/bench_train_speed.py)."""
        block = self._point_block(theta, order, functional, stop - start)
        if block >= stop - start:
            return self._point_fields(theta, x, start, stop, order, batch, functional)
        parts = [self._point_fields(theta, x, a, min(a + block, stop), order, batch, functional)
                 for a in range(start, stop, block)]
        value, grad, hess = ([getattr(part, field) for part in parts] for field in ("value", "grad", "hess"))
        return Fields(torch.cat(value, dim=1), None if grad[0] is None else torch.cat(grad, dim=1),
                      None if hess[0] is None else torch.cat(hess, dim=1))

    def _point_block(self, theta, order: int, functional: bool, points: int) -> int:
        """Points per forward pass: all of them, unless the buffer is too large for a CPU's cache and no graph
        is recorded."""
        if functional or (torch.is_grad_enabled() and theta.requires_grad) or theta.device.type != "cpu":
            return points  # autograd keeps every block's intermediates anyway; a GPU wants large kernels
        per_point = theta.shape[0] * self.net.width * self.net.channels(order) * theta.element_size()
        if per_point * points <= SPLIT_ABOVE_BYTES:
            return points
        return max(MIN_BLOCK_POINTS, POINT_BLOCK_BYTES // per_point)

    def _point_fields(self, theta, x, start: int, stop: int, order: int, batch: dict, functional: bool) -> Fields:
        distance = None
        if self.net.bc == "hard":
            part = tuple(t[start:stop] for t in batch["distance"])
            distance = lambda _x: part  # noqa: E731
        return self.net.fields(theta, x[start:stop], order, distance, functional=functional)

    @torch.no_grad()
    def evaluate(self, theta: torch.Tensor, names: Sequence[str] | None = None, *, chunk: int | None = None,
                 batch: dict | None = None,
                 progress: Callable[[int], None] | None = None) -> dict[str, torch.Tensor]:
        """Losses of many vectors, at most `chunk` at a time (in chunks of about one size), all on one
        quadrature (a fair landscape).

        The default chunk keeps a layer's channel buffer (vectors x width x channels x points) near
        `CHUNK_BYTES`, at most 64 vectors: 64 for poisson1d, 4 for hyperelastic2d's `pinn` (6 channels at
        1,000 points), 8 for its `drm`, the sizes measured fastest for each on this CPU.
        """
        names = self.check_names(names or self.names)
        batch = self.prepare(theta, batch)
        groups = self.point_groups(names)
        if chunk is None:
            chunk = self.default_chunk(names, batch, theta.element_size())
        chunk = balanced_chunk(theta.shape[0], chunk)
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
        for start in range(0, theta.shape[0], chunk):
            for group in groups:
                values = self(theta[start : start + chunk], group, batch)
                for name in group:
                    parts[name].append(values[name])
            if progress is not None:
                progress(min(chunk, theta.shape[0] - start))
        return {name: torch.cat(parts[name]) if parts[name] else theta.new_zeros(0) for name in names}

    def default_chunk(self, names: Sequence[str], batch: dict, itemsize: int = 8, budget: int = CHUNK_BYTES) -> int:
        """Vectors per forward pass of `evaluate`: a layer's channel buffer (vectors x width x channels x points)
        near `budget` bytes, at most 64 vectors."""
        points = max(self.points_needed(group) or batch["x"].shape[0] for group in self.point_groups(names))
        per_vector = self.net.width * self.net.channels(self.problem.losses_order(names)) * points
        return max(1, min(64, budget // (per_vector * itemsize)))

    def points_needed(self, names: Sequence[str]) -> int | None:
        """How many leading quadrature points the named losses read (None: all of them)."""
        needed = getattr(self.problem, "points_needed", None)
        return None if needed is None else needed(names)

    def point_groups(self, names: Sequence[str]) -> list[list[str]]:
        """The names split by the points they read, so that each forward pass carries only the derivative
        channels its own losses need: convection's value-only `test` grid (25,600 points) is evaluated
        apart from the first-order training losses (1,456 points) instead of with their gradient channels."""
        groups: dict[int | None, list[str]] = {}
        for name in names:
            groups.setdefault(self.points_needed([name]), []).append(name)
        return list(groups.values())


def balanced_chunk(rows: int, chunk: int) -> int:
    """The chunk size of as few chunks of at most `chunk` rows as cover `rows`, all about equal.

    A short last chunk costs nearly a full one's fixed work: 64 training rows filled in at 21 a chunk
    (poisson1d's order-2 losses) took 30 us a row where 4 chunks of 16 took 26 and 2 of 32 took 24."""
    if rows <= 0:
        return max(1, chunk)
    chunks = -(-rows // max(1, chunk))
    return -(-rows // chunks)

