"""Out-of-core linear algebra on trajectories too large for memory: rows read from Zarr block by block.

A `RowSource` is the (n_points, n_params) matrix of the selected rows of one or more stored trajectories,
never held whole: it hands out column blocks (all rows, a band of parameters) and row blocks (a few rows,
every parameter), each sized by a memory budget. `snapshot_pca` is exact PCA by the method of snapshots
(Sirovich 1987): for n_points much smaller than n_params, the n x n Gram matrix of the centred rows,
accumulated over column blocks, has eigenvalues s^2 and eigenvectors U of the thin SVD X_c = U S V^T,
and the components are V^T = S^-1 U^T X_c, a second pass over the column blocks. Memory: n^2 + one block
+ the k components kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pinnviz.errors import InvalidSettingError, NonFiniteError

MEMORY_BUDGET = 512 << 20  # bytes of one block of rows or columns read at a time
IN_MEMORY_BYTES = 1 << 30  # selected points up to this size are read into memory whole


def block_size(per_unit_bytes: int, budget: int = MEMORY_BUDGET, multiple: int = 1) -> int:
    """How many units (rows or columns) of `per_unit_bytes` each fit in `budget`, rounded down to `multiple`."""
    units = max(1, budget // max(per_unit_bytes, 1))
    return max(multiple, units // multiple * multiple) if units >= multiple else units


class RowSource:
    """Rows of stored trajectories as one lazy (n_points, n_params) float64 matrix.

    Parameters
    ----------
    parts : (name, array, rows) per trajectory: a Zarr (or NumPy) array (T, P) and the row indices of it
        taken, in order; the matrix is their concatenation.
    steps : name -> (T,) stored steps (for error messages), optional
    """

    def __init__(self, parts: Sequence[tuple[str, object, np.ndarray]], steps: dict | None = None) -> None:
        self.parts = [(name, array, np.asarray(rows, dtype=np.int64)) for name, array, rows in parts]
        widths = {int(array.shape[1]) for _, array, _ in self.parts}
        if len(widths) != 1:
            raise InvalidSettingError(f"trajectories have different parameter counts {sorted(widths)}")
        self.n_params = widths.pop()
        self.n_points = int(sum(len(rows) for _, _, rows in self.parts))
        self.steps = steps or {}

    @classmethod
    def from_array(cls, X: np.ndarray) -> RowSource:
        X = np.asarray(X)
        return cls([("X", X, np.arange(len(X)))])

    def __len__(self) -> int:
        return self.n_points

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_points, self.n_params

    @property
    def nbytes(self) -> int:
        return 8 * self.n_points * self.n_params

    def _chunk_width(self) -> int:
        widths = [int(getattr(array, "chunks", (1, self.n_params))[1]) for _, array, _ in self.parts]
        return min(widths) if widths else self.n_params

    def _read(self, array, rows: np.ndarray, columns: slice) -> np.ndarray:
        if hasattr(array, "oindex"):  # Zarr: only the chunks holding these rows and columns are read
            return np.asarray(array.oindex[rows, columns], dtype=np.float64)
        return np.asarray(array[rows, columns], dtype=np.float64)

    def _check_finite(self, name: str, rows: np.ndarray, block: np.ndarray) -> None:
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            first = int(rows[np.flatnonzero(bad)[0]])
            step = self.steps.get(name)
            where = f"step {int(step[first])}" if step is not None else f"row {first}"
            raise NonFiniteError(f"trajectory {name!r} holds NaN or infinity (first at {where}); it diverged: "
                                 "leave it out with --trajectories")

    def column_blocks(self, budget: int = MEMORY_BUDGET) -> Iterator[tuple[slice, np.ndarray]]:
        """(columns, X[:, columns]) bands covering every parameter, each about `budget` bytes."""
        width = block_size(8 * self.n_points, budget, min(self._chunk_width(), self.n_params))
        for c0 in range(0, self.n_params, width):
            columns = slice(c0, min(c0 + width, self.n_params))
            blocks = []
            for name, array, rows in self.parts:
                block = self._read(array, rows, columns)
                self._check_finite(name, rows, block)
                blocks.append(block)
            yield columns, np.concatenate(blocks) if len(blocks) > 1 else blocks[0]

    def rows(self, indices) -> np.ndarray:
        """Rows (m, P) of the matrix at `indices` (into the concatenation), read one by one: for a few rows."""
        bounds = np.cumsum([0] + [len(rows) for _, _, rows in self.parts])
        out = np.empty((len(indices), self.n_params))
        for i, index in enumerate(np.asarray(indices, dtype=np.int64)):
            part = int(np.searchsorted(bounds, index, side="right") - 1)
            _, array, rows = self.parts[part]
            out[i] = np.asarray(array[int(rows[index - bounds[part]])], dtype=np.float64)
        return out

    def row_blocks(self, budget: int = MEMORY_BUDGET) -> Iterator[tuple[slice, np.ndarray]]:
        """(rows of the matrix, X[rows]) for consecutive row blocks of about `budget` bytes."""
        yield from row_blocks_of(self.parts, self.n_params, budget, self._check_finite)


def row_blocks_of(parts, n_params: int, budget: int = MEMORY_BUDGET, check=None):
    """Row blocks of a list of (name, array, rows): yields (slice of the concatenation, block float64)."""
    height = block_size(8 * n_params, budget)
    offset = 0
    for name, array, rows in parts:
        rows = np.asarray(rows, dtype=np.int64)
        for r0 in range(0, len(rows), height):
            picked = rows[r0 : r0 + height]
            if len(picked) and np.all(np.diff(picked) == 1):  # contiguous: a plain slice reads fewer chunks
                block = np.asarray(array[int(picked[0]) : int(picked[-1]) + 1], dtype=np.float64)
            elif hasattr(array, "oindex"):
                block = np.asarray(array.oindex[picked, :], dtype=np.float64)
            else:
                block = np.asarray(array[picked], dtype=np.float64)
            if check is not None:
                check(name, picked, block)
            yield slice(offset + r0, offset + r0 + len(picked)), block
        offset += len(rows)


def svd_flip_rows(components: np.ndarray) -> np.ndarray:
    """Signs (k,) making the largest |entry| of each row positive (as scikit-learn's svd_flip)."""
    signs = np.sign(components[np.arange(len(components)), np.argmax(np.abs(components), axis=1)])
    return np.where(signs == 0, 1.0, signs)


@dataclass
class SnapshotPCA:
    """The result of `snapshot_pca`; shapes with n = n_points, P = n_params, k = components kept."""

    mean: np.ndarray  # (P,)
    components: np.ndarray  # (k, P), orthonormal rows, signs as `svd_flip_rows`
    singular_values: np.ndarray  # (n,), every singular value of the centred rows, descending
    coords: np.ndarray  # (n, k), the centred rows in the basis of the components (U S)
    centred_sq_norms: np.ndarray  # (n,), ||x - mean||^2 (the Gram diagonal)
    sq_norms: np.ndarray  # (n,), ||x||^2

    def residual_norms(self) -> np.ndarray:
        """||x - mean - B^T B (x - mean)|| of every row (n,), from the Gram diagonal (no pass over the data)."""
        return np.sqrt(np.clip(self.centred_sq_norms - (self.coords**2).sum(axis=1), 0.0, None))


def snapshot_pca(source: RowSource, n_components: int, *, budget: int = MEMORY_BUDGET,
                 device: str = "cpu") -> SnapshotPCA:
    """Exact PCA of the rows of `source` by the method of snapshots, reading it twice by column blocks.

    Parameters
    ----------
    source : the (n_points, n_params) rows, n_points small enough for an (n, n) matrix in memory
    n_components : k, components returned (fewer when the centred rows have lower numerical rank:
        directions with s below 1e-7 s_max are lost to rounding in the Gram matrix and never returned)
    budget : bytes of one column block
    device : torch device of the Gram products ("cpu" or "cuda"); results are NumPy float64
    """
    n, P = source.n_points, source.n_params
    dev = torch.device(device)
    gram = torch.zeros((n, n), dtype=torch.float64, device=dev)
    mean, cross, mean_sq = np.empty(P), np.zeros(n), 0.0
    for columns, block in source.column_blocks(budget):
        mean[columns] = block.mean(axis=0)
        centred = block - mean[columns]
        cross += centred @ mean[columns]  # (n, w) @ (w,): for ||x||^2 = ||c||^2 + 2 c.mean + ||mean||^2
        mean_sq += float(mean[columns] @ mean[columns])
        on_device = torch.as_tensor(centred).to(dev)
        gram += on_device @ on_device.T  # (n, w) @ (w, n)
    eigenvalues, vectors = torch.linalg.eigh(gram)
    eigenvalues, vectors = eigenvalues.flip(0).cpu().numpy(), vectors.flip(1).cpu().numpy()
    centred_sq = np.diag(gram.cpu().numpy()).copy()
    del gram
    singular = np.sqrt(np.clip(eigenvalues, 0.0, None))
    rank = int(np.sum(singular > singular[0] * 1e-7)) if singular[0] > 0 else 0
    k = max(1, min(int(n_components), rank))
    left = torch.as_tensor((vectors[:, :k] / np.where(singular[:k] > 0, singular[:k], 1.0)).T.copy()).to(dev)
    components = np.empty((k, P))
    for columns, block in source.column_blocks(budget):
        centred = torch.as_tensor(block - mean[columns]).to(dev)
        components[:, columns] = (left @ centred).cpu().numpy()  # (k, n) @ (n, w): S^-1 U^T X_c
    signs = svd_flip_rows(components)
    components *= signs[:, None]
    coords = vectors[:, :k] * singular[:k] * signs  # (n, k)
    return SnapshotPCA(mean, components, singular, coords, centred_sq, centred_sq + 2 * cross + mean_sq)


def residual_norms(source: RowSource, mean: np.ndarray, basis: np.ndarray, *,
                   budget: int = MEMORY_BUDGET) -> np.ndarray:
    """||x - mean - B^T B (x - mean)|| for every row x of `source` (basis B (k, P) orthonormal rows): (n,)."""
    out = np.empty(source.n_points)
    for rows, block in source.row_blocks(budget):
        centred = block - mean
        out[rows] = np.linalg.norm(centred - (centred @ basis.T) @ basis, axis=1)  # (b, P) @ (P, k) @ (k, P)
    return out
