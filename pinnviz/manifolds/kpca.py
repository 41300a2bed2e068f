"""`kpca`: scikit-learn's rbf KernelPCA with its learned pre-image, re-implemented from plain arrays.

scikit-learn fits; encode and decode are then computed here from the arrays it learned (training
points, centring sums, scaled eigenvectors, dual coefficients of the pre-image ridge regression), so
the fitted state can be stored without pickle and reloaded exactly.
"""

from __future__ import annotations

import numpy as np

from pinnviz.errors import InvalidSettingError
from pinnviz.manifolds._base import Manifold, as_latent, as_points, check_fit_input, check_fitted


def rbf(A: np.ndarray, B: np.ndarray, gamma: float) -> np.ndarray:
    """exp(-gamma ||a - b||^2) for every row pair: (n_a, n_b)."""
    sq = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * (A @ B.T)
    np.maximum(sq, 0.0, out=sq)
    return np.exp(-gamma * sq)


class KernelPCAManifold(Manifold):
    """Kernel PCA with an rbf kernel and a kernel-ridge pre-image (`KernelPCA(fit_inverse_transform=True)`).

    Parameters
    ----------
    gamma : float or None, default=None
        rbf width; None: 1 / n_params (scikit-learn's default). Used for the pre-image kernel too.
    alpha : float, default=1.0
        Ridge penalty of the pre-image regression.
    seed : int, default=0

    Attributes
    ----------
    X_fit_ : (n_points, n_params) training points
    K_fit_rows_ : (n_points,), K_fit_all_ : float  kernel centring sums
    scaled_alphas_ : (n_points, 2) eigenvectors / sqrt(eigenvalues)
    X_transformed_fit_ : (n_points, 2) codes of the training points
    dual_coef_ : (n_points, n_params) pre-image coefficients
    gamma_ : float
    """

    method = "kpca"

    def __init__(self, *, gamma: float | None = None, alpha: float = 1.0, seed: int = 0) -> None:
        self.gamma = gamma
        self.alpha = alpha
        self.seed = seed

    def fit(self, X, *, segments=None) -> KernelPCAManifold:
        from sklearn.decomposition import KernelPCA

        X, _ = check_fit_input(X, segments)
        if self.gamma is not None and not self.gamma > 0:
            raise InvalidSettingError(f"gamma={self.gamma} must be > 0 (or None for 1/n_params)")
        if not self.alpha > 0:
            raise InvalidSettingError(f"alpha={self.alpha} must be > 0")
        kpca = KernelPCA(n_components=2, kernel="rbf", gamma=self.gamma, alpha=self.alpha,
                         fit_inverse_transform=True, random_state=self.seed)
        kpca.fit(X)
        vals, vecs = kpca.eigenvalues_, kpca.eigenvectors_
        scaled = np.zeros_like(vecs)
        nz = np.flatnonzero(vals)
        scaled[:, nz] = vecs[:, nz] / np.sqrt(vals[nz])
        self.gamma_ = float(kpca.gamma_)
        self.X_fit_ = np.array(kpca.X_fit_, dtype=np.float64)
        # the centring sums of the training kernel (what KernelCenterer learns), from public arrays
        self.K_fit_rows_ = rbf(self.X_fit_, self.X_fit_, self.gamma_).mean(axis=0)
        self.K_fit_all_ = float(self.K_fit_rows_.mean())
        self.scaled_alphas_ = scaled
        self.X_transformed_fit_ = np.array(kpca.X_transformed_fit_, dtype=np.float64)
        self.dual_coef_ = np.array(kpca.dual_coef_, dtype=np.float64)
        self._set_extent(self.encode(X))
        return self

    def encode(self, X) -> np.ndarray:
        check_fitted(self, "dual_coef_")
        X = as_points(X, n_params=self.X_fit_.shape[1])
        K = rbf(X, self.X_fit_, self.gamma_)  # (n, n_fit)
        K = K - K.mean(axis=1, keepdims=True) - self.K_fit_rows_ + self.K_fit_all_  # centred
        return K @ self.scaled_alphas_

    def decode(self, Z) -> np.ndarray:
        check_fitted(self, "dual_coef_")
        return rbf(as_latent(Z), self.X_transformed_fit_, self.gamma_) @ self.dual_coef_

    _ARRAYS = ("X_fit_", "K_fit_rows_", "scaled_alphas_", "X_transformed_fit_", "dual_coef_")

    def get_state(self):
        check_fitted(self, "dual_coef_")
        arrays = {name: getattr(self, name) for name in self._ARRAYS}
        return arrays, {"gamma_": self.gamma_, "K_fit_all_": self.K_fit_all_, "extent_": list(self.extent_)}

    @classmethod
    def from_state(cls, hyper, arrays, attrs) -> KernelPCAManifold:
        self = cls(**hyper)
        for name in cls._ARRAYS:
            setattr(self, name, arrays[name])
        self.gamma_ = float(attrs["gamma_"])
        self.K_fit_all_ = float(attrs["K_fit_all_"])
        self.extent_ = tuple(attrs["extent_"])
        return self
