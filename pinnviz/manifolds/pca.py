"""`pca`: the plane of the first two principal components through the mean of the fitted points."""

from __future__ import annotations

import numpy as np

from pinnviz.manifolds._base import Manifold, as_latent, as_points, check_fit_input, check_fitted


class PCAManifold(Manifold):
    """Linear plane spanned by the first two principal components, through the mean.

    Attributes
    ----------
    mean_ : ndarray of shape (n_params,)
    components_ : ndarray of shape (2, n_params), orthonormal rows
    explained_variance_ratio_ : ndarray of shape (min(n_points, n_params),), every component
    extent_ : box of the fitted points' codes

    Example
    -------
    >>> X = np.random.default_rng(0).normal(size=(20, 5))
    >>> m = PCAManifold().fit(X)
    >>> m.encode(X).shape, m.decode(m.encode(X)).shape
    ((20, 2), (20, 5))
    """

    method = "pca"

    def __init__(self) -> None:
        pass

    def fit(self, X, *, segments=None) -> PCAManifold:
        X, _ = check_fit_input(X, segments)
        mean = X.mean(axis=0)
        _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
        # deterministic signs: the largest |entry| of each component is positive (as sklearn's svd_flip)
        signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
        vt *= np.where(signs == 0, 1.0, signs)[:, None]
        var = s**2
        self.mean_ = mean
        self.components_ = np.ascontiguousarray(vt[:2])
        self.explained_variance_ratio_ = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
        self._set_extent(self.encode(X))
        return self

    def encode(self, X) -> np.ndarray:
        check_fitted(self, "components_")
        X = as_points(X, n_params=self.mean_.shape[0])
        return (X - self.mean_) @ self.components_.T  # (n, P) @ (P, 2)

    def decode(self, Z) -> np.ndarray:
        check_fitted(self, "components_")
        return as_latent(Z) @ self.components_ + self.mean_  # (n, 2) @ (2, P)

    def get_state(self):
        check_fitted(self, "components_")
        arrays = {"mean_": self.mean_, "components_": self.components_,
                  "explained_variance_ratio_": self.explained_variance_ratio_}
        return arrays, {"extent_": list(self.extent_)}

    @classmethod
    def from_state(cls, hyper, arrays, attrs) -> PCAManifold:
        self = cls(**hyper)
        self.mean_ = arrays["mean_"]
        self.components_ = arrays["components_"]
        self.explained_variance_ratio_ = arrays["explained_variance_ratio_"]
        self.extent_ = tuple(attrs["extent_"])
        return self
