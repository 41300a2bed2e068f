"""In-memory training loops for the probes: batched ensembles, hypersphere constraints, random subspaces.

Every loop trains K rows of one (K, n_params) tensor at once. Adam and gradient descent act on each
element separately, so a batch of K rows equals K separate runs (each row seeded by its own generator
when it was initialised). Nothing is written to a store: the loops return loss curves and final values,
as CPU tensors wherever the rows were trained (the rows' device: give theta0 on "cuda" to train there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from pinnviz.errors import InvalidSettingError, NonFiniteError
from pinnviz.problems import PhysicsLosses
from pinnviz.trainers._optim import make_optimizer

# progress(step, total_steps) after each step
StepProgress = Callable[[int, int], None]


@dataclass
class BatchResult:
    """What a batched loop measured.

    Every tensor is on the CPU.

    steps : (T,) int, the logged step numbers (0 and the last step included).
    losses : (T, K) objective of each row at each logged step (before that step's update).
    norms : (T, K) Euclidean norm of each row's parameters at each logged step.
    final : (K, n) the final parameters (theta for `train_batch`, subspace coordinates w for `train_subspace`).
    """

    steps: torch.Tensor
    losses: torch.Tensor
    norms: torch.Tensor
    final: torch.Tensor


def seeded_init(physics: PhysicsLosses, seeds: list[int], *, scale: float = 1.0,
                dtype: torch.dtype = torch.float64, device: str = "cpu") -> torch.Tensor:
    """One initial vector per seed (PyTorch's default initialisation times `scale`): (K, n_params) on `device`,
    drawn on the CPU (the same numbers on every device)."""
    rows = [physics.net.init(1, scale=scale, generator=torch.Generator().manual_seed(int(s)), dtype=dtype)
            for s in seeds]
    return torch.cat(rows).to(device)


def project_to_sphere(theta: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Each row of theta (K, P) rescaled to the norm radius[k]: R theta / ||theta||."""
    return theta * (radius / theta.norm(dim=1))[:, None]


def _check(steps: int, lr: float, log_every: int) -> None:
    if int(steps) < 0:
        raise InvalidSettingError(f"steps={steps} must be >= 0")
    if not lr > 0:
        raise InvalidSettingError(f"lr={lr} must be > 0")
    if int(log_every) < 1:
        raise InvalidSettingError(f"log_every={log_every} must be >= 1")


def row_objectives(physics: PhysicsLosses, loss: str | Sequence[str], rows: int, device="cpu"):
    """The objective of each row: one name for all rows, or one name per row (rows of several losses
    trained in one batch). Returns (distinct names, {name: (rows,) bool mask on `device`})."""
    names = [loss] * rows if isinstance(loss, str) else list(loss)
    if len(names) != rows:
        raise InvalidSettingError(f"{len(names)} objectives given for {rows} rows")
    distinct = physics.check_names(sorted(set(names)))
    return distinct, {n: torch.tensor([m == n for m in names], device=device) for n in distinct}


def _loop(physics: PhysicsLosses, param: torch.Tensor, to_theta, loss: str | Sequence[str], *, optimizer: str,
          lr: float, steps: int, log_every: int, after_step=None, progress: StepProgress | None = None) -> BatchResult:
    distinct, masks = row_objectives(physics, loss, param.shape[0], param.device)
    _check(steps, lr, log_every)
    opt = make_optimizer(optimizer, param, lr)
    stochastic = getattr(getattr(physics.problem, "quadrature", None), "stochastic", False)
    batch = None if stochastic else physics.prepare(param.detach()[:1])
    logged_steps, logged_losses, logged_norms = [], [], []
    for step in range(steps + 1):
        theta = to_theta(param)
        computed = physics(theta, distinct, batch)
        values = computed[distinct[0]]  # (K,): each row's own objective
        for n in distinct[1:]:
            values = torch.where(masks[n], computed[n], values)
        if step % log_every == 0 or step == steps:
            logged_steps.append(step)
            logged_losses.append(values.detach().clone())
            logged_norms.append(theta.detach().norm(dim=1))
        if step == steps:
            break
        opt.zero_grad(set_to_none=True)
        values.sum().backward()  # rows are independent: the sum's gradient is each row's own gradient
        opt.step()
        if after_step is not None:
            with torch.no_grad():
                after_step(param)
        if progress is not None:
            progress(step + 1, steps)
    losses = torch.stack(logged_losses).cpu()
    if not bool(torch.isfinite(losses[-1]).any()):
        raise NonFiniteError(f"every row's objective is non-finite after {steps} steps; lower lr")
    return BatchResult(torch.tensor(logged_steps), losses, torch.stack(logged_norms).cpu(),
                       param.detach().clone().cpu())


def train_batch(physics: PhysicsLosses, theta0: torch.Tensor, loss: str | Sequence[str], *, optimizer: str = "adam",
                lr: float = 1e-3, steps: int = 1000, radius: torch.Tensor | None = None, log_every: int = 1,
                progress: StepProgress | None = None) -> BatchResult:
    """Train the K rows of theta0 (K, n_params) at once; with `radius`, on hyperspheres.

    Parameters
    ----------
    loss : the objective of every row, or one objective per row
    radius : (K,) tensor, optional
        Confine row k to the sphere ||theta|| = radius[k] (Goldilocks study, Rowan et al. 2.7): the
        start is projected onto it, and after every optimizer step theta <- R theta / ||theta||.

    Returns
    -------
    BatchResult with `final` the parameters (K, n_params).
    """
    start = theta0.detach().clone()
    if radius is not None:
        radius = torch.as_tensor(radius, dtype=start.dtype, device=start.device).reshape(-1)
        if radius.shape[0] != start.shape[0] or not bool((radius > 0).all()):
            raise InvalidSettingError(f"radius must hold {start.shape[0]} positive values, got {radius.tolist()}")
        start = project_to_sphere(start, radius)
    param = torch.nn.Parameter(start)

    def after_step(p: torch.Tensor) -> None:
        p.copy_(project_to_sphere(p, radius))

    return _loop(physics, param, lambda p: p, loss, optimizer=optimizer, lr=lr, steps=steps, log_every=log_every,
                 after_step=after_step if radius is not None else None, progress=progress)


def random_subspace(n_params: int, dims: list[int], *, seed: int = 0,
                    dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Random embeddings A (K, n_params, max(dims)) with unit-vector columns; row k uses dims[k] columns.

    The columns past dims[k] are zero, so their coordinates get no gradient and never move under Adam
    or gradient descent: one padded batch trains every dimension at once.
    """
    if any(int(d) < 1 for d in dims):
        raise InvalidSettingError(f"subspace dimensions {dims} must be >= 1")
    width = max(int(d) for d in dims)
    A = torch.zeros(len(dims), n_params, width, dtype=dtype)
    for k, d in enumerate(dims):
        g = torch.Generator().manual_seed(int(seed) + k)
        cols = torch.randn(n_params, int(d), generator=g, dtype=dtype)
        A[k, :, : int(d)] = cols / cols.norm(dim=0, keepdim=True)
    return A


def train_subspace(physics: PhysicsLosses, theta0: torch.Tensor, A: torch.Tensor, loss: str | Sequence[str], *,
                   optimizer: str = "adam", lr: float = 1e-3, steps: int = 1000, log_every: int = 1,
                   progress: StepProgress | None = None) -> BatchResult:
    """Train theta_k = theta0_k + A_k w_k over the coordinates w_k only (Li et al. 2018; Rowan et al. 2.8).

    Parameters
    ----------
    theta0 : (K, n_params) offsets of the affine subspaces
    A : (K, n_params, d) embeddings (see `random_subspace`); w starts at 0

    Returns
    -------
    BatchResult with `final` the coordinates w (K, d); the parameters are theta0 + A w.
    """
    if A.ndim != 3 or A.shape[:2] != theta0.shape:
        raise InvalidSettingError(f"A must have shape (K, n_params, d) = ({theta0.shape[0]}, {theta0.shape[1]}, d), "
                                  f"got {tuple(A.shape)}")
    theta0 = theta0.detach()
    A = A.to(theta0.device, theta0.dtype)
    w = torch.nn.Parameter(theta0.new_zeros(A.shape[0], A.shape[2]))

    def to_theta(coords: torch.Tensor) -> torch.Tensor:
        return theta0 + torch.einsum("kpd,kd->kp", A, coords)  # (K, P, d) x (K, d) -> (K, P)

    return _loop(physics, w, to_theta, loss, optimizer=optimizer, lr=lr, steps=steps, log_every=log_every,
                 progress=progress)
