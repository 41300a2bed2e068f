"""A plane in parameter space, `center_ + z @ directions_`: what the random, trench and Hessian planes share."""

from __future__ import annotations

import numpy as np

from pinnviz.manifolds._base import Manifold, as_latent, as_points, check_fitted


class PlaneManifold(Manifold):
    """Base of the linear planes through a point: fitted `center_` (P,) and `directions_` (2, P).

    `encode` is the least-squares projection onto the plane (the orthogonal projection when the
    directions are orthonormal), `decode` is exact, and the state is just those two arrays.
    """

    def encode(self, X) -> np.ndarray:
        check_fitted(self, "directions_")
        X = as_points(X, n_params=self.center_.shape[0])
        D = self.directions_
        gram = D @ D.T  # (2, 2)
        return np.linalg.solve(gram, D @ (X - self.center_).T).T  # (n, 2)

    def decode(self, Z) -> np.ndarray:
        check_fitted(self, "directions_")
        return self.center_ + as_latent(Z) @ self.directions_  # (n, 2) @ (2, P)

    def affine_decoder(self):
        """decode(Z) = coefficients(Z) @ basis + offset: (center (P,), directions (2, P), coefficients)."""
        check_fitted(self, "directions_")
        return self.center_, self.directions_, as_latent

    def get_state(self):
        check_fitted(self, "directions_")
        return {"center_": self.center_, "directions_": self.directions_}, {"extent_": list(self.extent_)}

    @classmethod
    def from_state(cls, hyper, arrays, attrs):
        self = cls(**hyper)
        self.center_ = arrays["center_"]
        self.directions_ = arrays["directions_"]
        self.extent_ = tuple(attrs["extent_"])
        return self
