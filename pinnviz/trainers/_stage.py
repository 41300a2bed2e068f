"""Logged rows staged on the training device and handed to the trajectory writers a few at a time."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

STAGE_ROWS = 64  # logged rows kept as tensors before they are handed to the writers together
# or fewer, when the steps are slow: the second process then gets the rows to fill in soon, so that few are left
# for it at the close (a hyperelastic2d drm row takes it 1.5 ms), and progress is reported in time
STAGE_SECONDS = 0.04
STAGE_BYTES = 16 << 20  # and fewer, for large batches or networks: a 1 M-parameter row is 8 MB


class RowStage:
    """The last few logged rows of a batch of G trajectories, as tensors on the training device.

    Logging a step is two tensor copies (its G vectors and the losses it computed). Appending to the
    writers' blocks, the finiteness check of the objective and the progress report are done once per
    `STAGE_ROWS` rows or `STAGE_SECONDS`, on numpy arrays of all of them: per row that Python work cost
    25-100 us, a tenth of a poisson1d step (benchmarks/bench_train_speed.py); on a GPU it is also one
    transfer, not one a row.
    The stage is handed over when it is full, at the last step, and before the writers' block would be
    full, so that a flush follows the row whose optimizer state it records, as it did row by row.
    """

    def __init__(self, writers: list, names: Sequence[str], theta: torch.Tensor, components: Sequence[str] = (),
                 *, size: int | None = None) -> None:
        self.writers = writers
        self.names = list(names)  # the losses the step computes: the stage's loss columns
        self.components = tuple(components)
        rows, n_params = theta.shape
        like = dict(dtype=theta.dtype, device=theta.device)
        size = size or max(1, min(STAGE_ROWS, STAGE_BYTES // (theta.element_size() * rows * n_params)))
        self.params = torch.empty(size, rows, n_params, **like)
        self.losses = torch.empty(size, len(self.names), rows, **like)
        self.weights = torch.empty(size, rows, len(self.components), **like) if self.components else None
        # the rows as views made once: indexing a tensor costs as much as the copy into it
        self._param_rows = self.params.unbind(0)
        self._loss_rows = self.losses[:, 0].unbind(0) if len(self.names) == 1 else self.losses.unbind(0)
        self.steps: list[int] = []
        self.size = size
        self.capacity, self.started = self.size, time.monotonic()
        self.last_params: np.ndarray | None = None

    def add(self, step: int, theta: torch.Tensor, losses: dict[str, torch.Tensor],
            weights: torch.Tensor | None = None) -> bool:
        """Stage the row of `step`: theta (G, P), {name: (G,)} with every staged name, weights (G, C).

        Returns whether to hand over now: `size` rows (or what the writers' block has left) or
        `STAGE_SECONDS` of training are staged."""
        steps = self.steps
        j = len(steps)
        if j == 0:  # after the previous hand-over and any flush it led to
            self.capacity, self.started = self._capacity(), time.monotonic()
        self._param_rows[j].copy_(theta.detach())
        if len(self.names) == 1:
            self._loss_rows[j].copy_(losses[self.names[0]].detach())
        else:
            torch.stack([losses[name].detach() for name in self.names], out=self._loss_rows[j])
        if self.weights is not None:
            self.weights[j].copy_(weights.detach())
        steps.append(step)
        return j + 1 >= self.capacity or time.monotonic() - self.started > STAGE_SECONDS

    def hand_over(self, objective: str) -> tuple[int, dict[str, np.ndarray]] | None:
        """Append the staged rows to the writers, up to the first whose `objective` is not finite.

        Returns (step, {name: (G,)}) of the last row appended (the non-finite one, if any), or None when
        nothing was staged; `last_params` then holds that row's vectors (G, P).
        """
        n = len(self.steps)
        if n == 0:
            return None
        steps = np.asarray(self.steps, dtype=np.int64)
        params = self.params[:n].to("cpu", torch.float64).numpy()  # (n, G, P)
        losses = self.losses[:n].to("cpu", torch.float64).numpy()  # (n, L, G)
        weights = None if self.weights is None else self.weights[:n].to("cpu", torch.float64).numpy()
        finite = np.isfinite(losses[:, self.names.index(objective)]).all(axis=1)
        keep = n if finite.all() else int(np.argmin(finite)) + 1  # the non-finite row is stored too
        for k, writer in enumerate(self.writers):
            row_weights = None if weights is None else {c: weights[:keep, k, i] for i, c in enumerate(self.components)}
            writer.append_rows(steps[:keep], params[:keep, k], {name: losses[:keep, i, k]
                                                                 for i, name in enumerate(self.names)}, row_weights)
        self.steps.clear()
        self.last_params = params[keep - 1]  # (G, P): the vectors of the last row appended
        return int(steps[keep - 1]), {name: losses[keep - 1, i].copy() for i, name in enumerate(self.names)}

    def _capacity(self) -> int:
        """Rows to stage before the next hand-over: at most `size`, and no more than the writers' block has left."""
        return max(1, min([self.size, *(writer.space() for writer in self.writers)]))

