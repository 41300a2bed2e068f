"""`random`: a plane through one point spanned by two seeded, filter-normalised random directions."""

from __future__ import annotations

import numpy as np

from pinnviz.errors import InvalidSettingError
from pinnviz.manifolds._base import as_points, check_fit_input
from pinnviz.manifolds._plane import PlaneManifold

NORMALISATIONS = ("filter", "layer", "none")


def normalisation_pieces(layout: list[dict] | None, n_params: int, normalise: str = "filter") -> list[np.ndarray]:
    """Index arrays of the pieces of a parameter vector normalised together (see `RandomPlaneManifold`).

    "filter": each row (one neuron's incoming weights) of every weight matrix and each bias vector whole;
    "layer": each tensor whole; "none" (or no layout): the whole vector.
    """
    if not layout or normalise == "none":
        return [np.arange(n_params)]
    pieces = []
    for entry in layout:
        shape, offset = tuple(entry["shape"]), int(entry["offset"])
        size = int(np.prod(shape))
        idx = np.arange(offset, offset + size)
        if normalise == "filter" and len(shape) >= 2:
            pieces.extend(idx.reshape(shape[0], -1))
        else:
            pieces.append(idx)
    covered = np.concatenate(pieces)
    if covered.size != n_params or np.unique(covered).size != n_params:
        raise InvalidSettingError(f"layout covers {np.unique(covered).size} of {n_params} parameters; "
                                  "it does not belong to these trajectories")
    return pieces


def random_directions(center: np.ndarray, layout: list[dict] | None, seed: int, count: int,
                      normalise: str = "filter") -> np.ndarray:
    """`count` seeded Gaussian directions (count, P), each rescaled piece by piece to the norms of `center`.

    Li et al. (2018): with "filter", every neuron's (row's) and bias vector's norm in each direction
    equals its norm in `center`; pieces that are zero at the center stay zero. The first two rows are the
    directions of `RandomPlaneManifold(seed=seed)` through the same center.
    """
    if normalise not in NORMALISATIONS:
        raise InvalidSettingError(f"normalise={normalise!r} must be one of {', '.join(NORMALISATIONS)}")
    center = np.asarray(center, dtype=np.float64)
    directions = np.random.default_rng(seed).standard_normal((int(count), center.shape[0]))
    if normalise != "none":
        for idx in normalisation_pieces(layout, center.shape[0], normalise):
            target = np.linalg.norm(center[idx])
            norms = np.linalg.norm(directions[:, idx], axis=1, keepdims=True)
            directions[:, idx] *= np.divide(target, norms, out=np.zeros_like(norms), where=norms > 0)
    return directions


class RandomPlaneManifold(PlaneManifold):
    """theta(z) = center + z0 d0 + z1 d1 with two Gaussian directions d0, d1 (Li et al. 2018).

    Each direction is rescaled piece by piece to the norms of `center`: with `normalise="filter"`
    each row (one neuron's incoming weights) of every weight matrix and each bias vector as a whole;
    with `"layer"` each tensor as a whole; `"none"` keeps the raw Gaussian directions. Pieces whose
    norm at the center is zero stay zero. Encoding is the least-squares projection onto the plane.

    Parameters
    ----------
    seed : int, default=0
    center : array of shape (n_params,) or None, default=None
        The point the plane passes through; None: the last fitted point.
    layout : list of {"name", "shape", "offset"} or None
        The network's parameter layout (`run.model["layout"]`); None: the whole vector is one layer.
    normalise : {"filter", "layer", "none"}, default="filter"

    Attributes
    ----------
    center_ : ndarray of shape (n_params,)
    directions_ : ndarray of shape (2, n_params)
    """

    method = "random"

    def __init__(self, *, seed: int = 0, center=None, layout: list[dict] | None = None,
                 normalise: str = "filter") -> None:
        self.seed = seed
        self.center = center
        self.layout = layout
        self.normalise = normalise

    def _pieces(self, n_params: int) -> list[np.ndarray]:
        """Index arrays of the pieces normalised together."""
        return normalisation_pieces(self.layout, n_params, self.normalise)

    def fit(self, X, *, segments=None) -> RandomPlaneManifold:
        X, _ = check_fit_input(X, segments)
        if self.normalise not in NORMALISATIONS:
            raise InvalidSettingError(f"normalise={self.normalise!r} must be one of {', '.join(NORMALISATIONS)}")
        center = X[-1].copy() if self.center is None else as_points(np.asarray(self.center)[None],
                                                                     n_params=X.shape[1], what="center")[0]
        directions = random_directions(center, self.layout, self.seed, 2, self.normalise)
        if np.linalg.matrix_rank(directions) < 2:
            raise InvalidSettingError("the random directions are degenerate (the center is almost all zeros); "
                                      "choose another point or normalise='none'")
        self.center_ = center
        self.directions_ = directions
        self._set_extent(self.encode(X))
        return self

    def hyper_parameters(self) -> dict:
        hyper = super().hyper_parameters()
        hyper["center"] = None  # stored as the fitted center_ array
        return hyper
