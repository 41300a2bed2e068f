"""`hessian-plane`: the plane through a point spanned by the Hessian eigenvectors of the two largest eigenvalues."""

from __future__ import annotations

import numpy as np

from pinnviz.errors import InvalidSettingError
from pinnviz.manifolds._base import as_points, check_fit_input
from pinnviz.manifolds._plane import PlaneManifold


class HessianPlaneManifold(PlaneManifold):
    """theta(z) = center + z0 v0 + z1 v1 with v0, v1 the top Hessian eigenvectors at `center`.

    A manifold never evaluates physics: the eigenvectors are computed by the probe
    (`pinnviz.probes.hessian_plane`, `pinnviz probe hessian-plane`) and handed in. `fit(X)` checks
    them and sets the extent from the codes of X. Encoding is the orthogonal projection.

    Parameters
    ----------
    center : array of shape (n_params,)
    directions : array of shape (2, n_params), orthonormal rows (eigenvectors)
    eigenvalues : the two eigenvalues (for the record), or None

    Attributes
    ----------
    center_ : ndarray of shape (n_params,)
    directions_ : ndarray of shape (2, n_params)
    """

    method = "hessian-plane"

    def __init__(self, *, center=None, directions=None, eigenvalues=None) -> None:
        self.center = center
        self.directions = directions
        self.eigenvalues = eigenvalues

    def fit(self, X, *, segments=None) -> HessianPlaneManifold:
        X, _ = check_fit_input(X, segments)
        if self.center is None or self.directions is None:
            raise InvalidSettingError("hessian-plane needs the Hessian eigenvectors; compute it with "
                                      "`pinnviz probe hessian-plane run.zarr -t TRAJECTORY` "
                                      "(compare reuses it; --refit cannot)")
        center = as_points(np.asarray(self.center)[None], n_params=X.shape[1], what="center")[0]
        directions = as_points(self.directions, n_params=X.shape[1], what="directions")
        if directions.shape[0] != 2 or not np.allclose(directions @ directions.T, np.eye(2), atol=1e-8):
            raise InvalidSettingError("directions must be two orthonormal rows (Hessian eigenvectors)")
        self.center_, self.directions_ = center, directions
        self._set_extent(self.encode(X))
        return self

    def hyper_parameters(self) -> dict:
        return {"center": None, "directions": None,
                "eigenvalues": None if self.eigenvalues is None else [float(v) for v in self.eigenvalues]}
