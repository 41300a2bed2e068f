"""`pca`: the plane of the first two principal components through the mean of the fitted points."""

from __future__ import annotations

import numpy as np

from pinnviz.errors import InvalidSettingError
from pinnviz.manifolds._base import Manifold, as_latent, as_points, check_fit_input, check_fitted
from pinnviz.manifolds._outofcore import IN_MEMORY_BYTES, RowSource, snapshot_pca, svd_flip_rows

SOLVERS = ("auto", "svd", "snapshots")


class PCAManifold(Manifold):
    """Linear plane spanned by the first two principal components, through the mean.

    Parameters
    ----------
    solver : {"auto", "svd", "snapshots"}, default="auto"
        "svd": NumPy's thin SVD of the centred points in memory. "snapshots": exact PCA from the
        (n, n) Gram matrix accumulated over column blocks (`_outofcore.snapshot_pca`), which also
        reads trajectories larger than memory straight from the store. "auto": snapshots for a
        store-backed `RowSource` or above `IN_MEMORY_BYTES` of points, SVD otherwise.
    device : str, default="cpu"
        Torch device of the snapshot Gram products ("cuda" where available).

    Attributes
    ----------
    mean_ : ndarray of shape (n_params,)
    components_ : ndarray of shape (2, n_params), orthonormal rows
    explained_variance_ratio_ : ndarray of shape (min(n_points, n_params),), every component
    solver_ : the solver used
    extent_ : box of the fitted points' codes

    Example
    -------
    >>> X = np.random.default_rng(0).normal(size=(20, 5))
    >>> m = PCAManifold().fit(X)
    >>> m.encode(X).shape, m.decode(m.encode(X)).shape
    ((20, 2), (20, 5))
    """

    method = "pca"
    out_of_core = True  # fit() takes a store-backed RowSource

    def __init__(self, *, solver: str = "auto", device: str = "cpu") -> None:
        self.solver = solver
        self.device = device

    def fit(self, X, *, segments=None) -> PCAManifold:
        if self.solver not in SOLVERS:
            raise InvalidSettingError(f"pca: solver={self.solver!r} must be one of {', '.join(SOLVERS)}")
        if isinstance(X, RowSource):
            return self._fit_snapshots(X)
        X, _ = check_fit_input(X, segments)
        if self.solver == "snapshots" or (self.solver == "auto" and X.nbytes > IN_MEMORY_BYTES):
            return self._fit_snapshots(RowSource.from_array(X))
        mean = X.mean(axis=0)
        _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
        vt *= svd_flip_rows(vt)[:, None]  # deterministic signs: the largest |entry| of each component positive
        self._set_fitted(mean, vt[:2], s, "svd")
        self._set_extent(self.encode(X))
        return self

    def _fit_snapshots(self, source: RowSource) -> PCAManifold:
        if source.n_points < 3:
            raise InvalidSettingError(f"need at least 3 points to fit a 2-D manifold, got {source.n_points}")
        pca = snapshot_pca(source, 2, device=self.device)
        if len(pca.components) < 2:
            raise InvalidSettingError("pca: the fitted points span fewer than 2 directions; no plane to fit")
        self._set_fitted(pca.mean, pca.components, pca.singular_values, "snapshots")
        self._set_extent(pca.coords[:, :2])
        return self

    def _set_fitted(self, mean, components, singular, solver) -> None:
        var = singular**2
        self.mean_ = mean
        self.components_ = np.ascontiguousarray(components[:2])
        self.explained_variance_ratio_ = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
        self.solver_ = solver

    def encode(self, X) -> np.ndarray:
        check_fitted(self, "components_")
        X = as_points(X, n_params=self.mean_.shape[0])
        return (X - self.mean_) @ self.components_.T  # (n, P) @ (P, 2)

    def decode(self, Z) -> np.ndarray:
        check_fitted(self, "components_")
        return as_latent(Z) @ self.components_ + self.mean_  # (n, 2) @ (2, P)

    def affine_decoder(self):
        """decode(Z) = coefficients(Z) @ basis + offset: (offset (P,), basis (2, P), coefficients)."""
        check_fitted(self, "components_")
        return self.mean_, self.components_, as_latent

    def get_state(self):
        check_fitted(self, "components_")
        arrays = {"mean_": self.mean_, "components_": self.components_,
                  "explained_variance_ratio_": self.explained_variance_ratio_}
        return arrays, {"extent_": list(self.extent_), "solver_": self.solver_}

    @classmethod
    def from_state(cls, hyper, arrays, attrs) -> PCAManifold:
        self = cls(**hyper)
        self.mean_ = arrays["mean_"]
        self.components_ = arrays["components_"]
        self.explained_variance_ratio_ = arrays["explained_variance_ratio_"]
        self.extent_ = tuple(attrs["extent_"])
        self.solver_ = attrs.get("solver_", "svd")
        return self
