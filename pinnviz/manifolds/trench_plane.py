"""`trench`: the plane through a solution spanned by a null direction [Delta, 0] and a random direction."""

from __future__ import annotations

import numpy as np

from pinnviz.errors import InvalidSettingError
from pinnviz.manifolds._base import as_points, check_fit_input
from pinnviz.manifolds._plane import PlaneManifold


class TrenchPlaneManifold(PlaneManifold):
    """theta(z) = center + z0 v + z1 V: v a given (null) direction, V a seeded random direction.

    Rowan et al. (2024), section 2.6: with linearly dependent basis functions a Gram null vector Delta
    placed in the output-layer weights, v = [Delta, 0], leaves the state field and so every loss
    unchanged; the loss in the plane of v and a random direction shows a straight "trench". Both
    directions have unit norm, V is orthogonalised against v. The latent box is [-span, span]^2.

    Parameters
    ----------
    direction : array of shape (n_params,)
        The null direction v (computed by `pinnviz.probes.basis_probe`); stored as the fitted `directions_`.
    seed : int, default=0
        Seed of the random direction.
    span : float, default=1.0
        Half-width of the latent box along both axes (parameter-space distance, directions are unit).
    center : array of shape (n_params,) or None
        The plane's origin; None: the last fitted point (the solution).

    Attributes
    ----------
    center_ : ndarray of shape (n_params,)
    directions_ : ndarray of shape (2, n_params), orthonormal rows [v, V]
    extent_ : (-span, span, -span, span)

    Example
    -------
    >>> X = np.random.default_rng(0).normal(size=(5, 4))
    >>> m = TrenchPlaneManifold(direction=[0.0, 0.0, 1.0, 1.0], span=2.0).fit(X)
    >>> bool(np.allclose(m.decode(np.zeros((1, 2)))[0], X[-1])), m.latent_extent(0.0)
    (True, (-2.0, 2.0, -2.0, 2.0))
    """

    method = "trench"

    def __init__(self, *, direction=None, seed: int = 0, span: float = 1.0, center=None) -> None:
        self.direction = direction
        self.seed = seed
        self.span = span
        self.center = center

    def fit(self, X, *, segments=None) -> TrenchPlaneManifold:
        X, _ = check_fit_input(X, segments)
        if self.direction is None:
            raise InvalidSettingError("TrenchPlaneManifold needs direction=, the null direction [Delta, 0]")
        if not float(self.span) > 0:
            raise InvalidSettingError(f"span={self.span} must be > 0")
        v = as_points(np.asarray(self.direction)[None], n_params=X.shape[1], what="direction")[0]
        if np.linalg.norm(v) == 0:
            raise InvalidSettingError("the null direction is zero")
        v = v / np.linalg.norm(v)
        center = X[-1].copy() if self.center is None else as_points(np.asarray(self.center)[None],
                                                                     n_params=X.shape[1], what="center")[0]
        V = np.random.default_rng(self.seed).standard_normal(X.shape[1])
        V -= (V @ v) * v
        V /= np.linalg.norm(V)
        self.center_ = center
        self.directions_ = np.stack([v, V])
        s = float(self.span)
        self.extent_ = (-s, s, -s, s)
        return self

    def hyper_parameters(self) -> dict:
        hyper = super().hyper_parameters()
        hyper["direction"] = None  # stored as the fitted directions_
        hyper["center"] = None  # stored as center_
        return hyper
