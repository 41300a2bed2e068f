"""Landscapes of 1 to 4 dimensions along the top Hessian eigenvectors at a trajectory point.

Two directions hide critical points (the topological-profiles paper samples 3-D and 4-D Hessian
landscapes for that reason). The directions are the eigenvectors of the d largest eigenvalues of the
objective's parameter Hessian at the point: from the exact Hessian (`fast_hessian`, checked against
torch.func) for small networks, or by Lanczos (ARPACK's implicitly restarted Lanczos in
`scipy.sparse.linalg.eigsh`) on Hessian-vector products for large ones. The grid
center + sum_k a_k v_k, a_k in [-span, span], is evaluated with the batched losses, a block of grid
points at a time (`grid_losses`, shared by every kind of direction). The landscape itself, and its
random and PCA directions, are `direction_landscape.py`'s; `hessian_landscape` is its Hessian case.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from pinnviz.errors import InvalidSettingError, unknown_name
from pinnviz.probes._fast_hessian import fast_spectrum
from pinnviz.problems import PhysicsLosses
from pinnviz.store import Run

METHODS = ("auto", "exact", "lanczos")
EXACT_MAX_PARAMS = 2000  # "auto" builds the full P x P Hessian up to this many parameters


def hessian_vector_product(physics: PhysicsLosses, theta: torch.Tensor, name: str, batch: dict | None = None):
    """v (P,) -> H v at theta (P,), reusing one gradient graph (reverse-over-reverse)."""
    batch = physics.prepare(theta[None], batch)
    with torch.enable_grad():
        point = theta.detach().clone().requires_grad_(True)
        loss = physics(point[None], [name], batch)[name][0]
        (gradient,) = torch.autograd.grad(loss, point, create_graph=True)

    def hvp(vector: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            (product,) = torch.autograd.grad(gradient, point, vector, retain_graph=True)
        return product.detach()

    return hvp


def _hessian_operator(physics: PhysicsLosses, theta: torch.Tensor, name: str, batch: dict | None) -> LinearOperator:
    """H v as a SciPy operator on float64 NumPy vectors; the products run on theta's device."""
    hvp = hessian_vector_product(physics, theta, name, batch)
    n = theta.shape[0]

    def matvec(v: np.ndarray) -> np.ndarray:
        vector = torch.as_tensor(np.asarray(v, dtype=np.float64).ravel(), dtype=theta.dtype, device=theta.device)
        return hvp(vector).to(torch.float64).cpu().numpy()

    return LinearOperator((n, n), matvec=matvec, dtype=np.float64)


def lanczos_top(physics: PhysicsLosses, theta: torch.Tensor, name: str, k: int, *, batch: dict | None = None,
                seed: int = 0, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenvalues (descending) and their unit eigenvectors (k, P), by Lanczos on H v.

    The products H v run on theta's device; ARPACK iterates on the CPU in NumPy float64."""
    n = theta.shape[0]
    if not 1 <= k < n:
        raise InvalidSettingError(f"Lanczos needs 1 <= k < P; k={k}, P={n}")
    operator = _hessian_operator(physics, theta, name, batch)
    start = np.random.default_rng(seed).standard_normal(n)
    values, vectors = eigsh(operator, k=k, which="LA", v0=start, tol=tol, ncv=min(n, max(2 * k + 1, 24)))
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order].T


def extreme_eigenvalues(physics: PhysicsLosses, theta: torch.Tensor, name: str, *, batch: dict | None = None,
                       seed: int = 0, tol: float = 1e-10) -> np.ndarray:
    """[smallest, largest] eigenvalue of the Hessian of `name` at theta, by Lanczos on H v (no P x P Hessian).

    The spectral norm is max(|smallest|, |largest|) (the Hessian is symmetric).
    """
    n = theta.shape[0]
    if n < 3:
        raise InvalidSettingError(f"Lanczos needs at least 3 parameters; P={n}")
    operator = _hessian_operator(physics, theta, name, batch)
    start = np.random.default_rng(seed).standard_normal(n)
    values = eigsh(operator, k=2, which="BE", v0=start, tol=tol, ncv=min(n, 24), return_eigenvectors=False)
    return np.sort(values)


def top_hessian_directions(physics: PhysicsLosses, theta: torch.Tensor, name: str, k: int, *,
                           method: str = "auto", batch: dict | None = None,
                           seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """Eigenvalues (k,) descending, unit eigenvectors (k, P) of the Hessian of `name` at theta, and the method.

    method : "exact" (the full Hessian, `fast_hessian`), "lanczos" (Hessian-vector products only) or
        "auto" (exact up to EXACT_MAX_PARAMS parameters).
    The Hessian (or its products) is computed on theta's device, the eigenvectors on the CPU.
    """
    if method not in METHODS:
        raise unknown_name("Hessian method", method, METHODS)
    n = theta.shape[0]
    if method == "auto":
        method = "exact" if n <= EXACT_MAX_PARAMS else "lanczos"
    if method == "lanczos":
        values, vectors = lanczos_top(physics, theta, name, k, batch=batch, seed=seed)
        return values, vectors, method
    values, vectors = fast_spectrum(physics, theta, name, batch)
    return values[-k:].flip(0).numpy(), vectors[:, -k:].flip(1).T.numpy(), method


def grid_losses(physics: PhysicsLosses, center: np.ndarray, directions: np.ndarray, axes: list[np.ndarray],
                names: list[str], *, dtype=torch.float64, chunk: int | None = None, device: str = "cpu",
                progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """Losses at center + sum_k axes[k][i_k] directions[k] on the whole grid: {name: (R_0, ..., R_{d-1})},
    the vectors formed and evaluated on `device`."""
    shape = tuple(len(a) for a in axes)
    total = int(np.prod(shape))
    base = torch.as_tensor(center, dtype=dtype).to(device)
    basis = torch.as_tensor(directions, dtype=dtype).to(device)  # (d, P)
    theta0 = base[None]
    batch = physics.prepare(theta0)  # one quadrature for the whole grid
    block = max(256, min(16384, 2**22 // max(1, base.numel())))  # ~32 MiB of parameter vectors at a time
    out = {name: np.empty(total) for name in names}
    for start in range(0, total, block):
        index = np.unravel_index(np.arange(start, min(start + block, total)), shape)
        coords = torch.as_tensor(np.stack([axes[k][i] for k, i in enumerate(index)], axis=1), dtype=dtype).to(device)
        values = physics.evaluate(base + coords @ basis, names, chunk=chunk, batch=batch)
        for name in names:
            out[name][start : start + coords.shape[0]] = values[name].to(torch.float64).cpu().numpy()
        if progress is not None:
            progress(min(start + block, total), total)
    grids = {}
    for name, flat in out.items():
        flat[~np.isfinite(flat)] = np.nan
        grids[name] = flat.reshape(shape)
    return grids


def hessian_landscape(run: Run, trajectory: str | None = None, *, dims: int = 3, row: int = -1,
                      resolution: int | None = None, span: float | None = None, loss: str | None = None,
                      losses: list[str] | None = None, method: str = "auto", chunk: int | None = None,
                      name: str | None = None, save: bool = True, device: str = "cpu",
                      progress: Callable[[int, int], None] | None = None) -> dict:
    """A d-dimensional landscape along the top-d Hessian eigenvectors at row `row` of `trajectory`.

    `direction_landscape(..., directions="hessian")` (see there): dims 1..4, row the centre (negative:
    from the end), resolution per axis (default 101, 51, 21, 11), span (default 5% of ||centre||), loss
    whose Hessian gives the directions, losses on the grid, method "auto", "exact" or "lanczos", device of
    the Hessian and the grid. Stored in probes/NAME (default hessian-landscape-TRAJ-Dd).
    """
    from pinnviz.probes.direction_landscape import direction_landscape

    return direction_landscape(run, trajectory, dims=dims, directions="hessian", row=row, resolution=resolution,
                               span=span, loss=loss, losses=losses, method=method, chunk=chunk, name=name,
                               save=save, device=device, progress=progress)
