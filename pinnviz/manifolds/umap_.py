"""`umap`: umap-learn's UMAP with its `inverse_transform`, stored without pickle.

Persistence: umap-learn's fitted object holds numba structures, a search index and a graph that
have no plain-array form. The store keeps the fitted points (as the float32 values UMAP saw), the
settings, the seed and the embedding; reloading re-fits UMAP on exactly those points with the same
seed (UMAP is deterministic for a fixed `random_state`: it then runs single-threaded and, below 4096
points, computes exact neighbours) and checks that the re-fitted embedding equals the stored one,
raising `IncompatibleRunError` otherwise (e.g. another umap-learn version). Reloading therefore costs
one fit (seconds) and gives identical `encode`/`decode`.

Decoding: `inverse_transform` interpolates inside the Delaunay triangulation of the embedding; outside
its convex hull it silently uses an unrelated simplex. `decodable(Z)` says which latent points lie
inside the hull, and `decode` returns NaN rows for the others (`outside="nan"`, the default), raises
(`outside="raise"`) or returns umap-learn's values anyway (`outside="allow"`).
"""

from __future__ import annotations

import warnings

import numpy as np

from pinnviz.errors import IncompatibleRunError, InvalidSettingError
from pinnviz.manifolds._base import Manifold, as_latent, as_points, check_fit_input, check_fitted

OUTSIDE = ("nan", "raise", "allow")


def _import_umap():
    """umap-learn, imported without its ImportWarning about the optional TensorFlow (ParametricUMAP)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportWarning)
        import umap
    return umap


class OutsideEmbeddingError(InvalidSettingError):
    """Decoding latent points outside the region a manifold can invert."""


class UMAPManifold(Manifold):
    """UMAP embedding (umap-learn) with its approximate inverse.

    Parameters
    ----------
    n_neighbors : int, default=15
    min_dist : float, default=0.1
    seed : int, default=0
    outside : {"nan", "raise", "allow"}, default="nan"
        What `decode` does for latent points outside the embedding's convex hull.

    Attributes
    ----------
    X_fit_ : (n_points, n_params) the fitted points (float32 values in float64)
    embedding_ : (n_points, 2)
    umap_ : the umap-learn object (not stored; rebuilt by re-fitting)
    """

    method = "umap"
    slow_decode = True

    def __init__(self, *, n_neighbors: int = 15, min_dist: float = 0.1, seed: int = 0,
                 outside: str = "nan") -> None:
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.seed = seed
        self.outside = outside

    def _fit_umap(self, X32: np.ndarray):
        umap = _import_umap()
        model = umap.UMAP(n_components=2, n_neighbors=self.n_neighbors, min_dist=self.min_dist,
                          random_state=self.seed, n_jobs=1, transform_seed=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # e.g. spectral init falling back
            model.fit(X32)
        return model

    def fit(self, X, *, segments=None) -> UMAPManifold:
        X, _ = check_fit_input(X, segments)
        if self.outside not in OUTSIDE:
            raise InvalidSettingError(f"outside={self.outside!r} must be one of {', '.join(OUTSIDE)}")
        if not 2 <= self.n_neighbors < len(X):
            raise InvalidSettingError(f"n_neighbors={self.n_neighbors} must be >= 2 and < the number of "
                                      f"fitted points ({len(X)}); lower n_neighbors or fit more points")
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        self.umap_ = self._fit_umap(X32)
        self.X_fit_ = X32.astype(np.float64)
        self.embedding_ = np.asarray(self.umap_.embedding_, dtype=np.float64)
        self._hull, self._rows = None, None
        self._set_extent(self.embedding_)
        return self

    def encode(self, X) -> np.ndarray:
        """Codes of X: a fitted point gets its embedding row, any other point umap-learn's `transform`."""
        check_fitted(self, "umap_")
        X32 = as_points(X, n_params=self.X_fit_.shape[1]).astype(np.float32)
        if getattr(self, "_rows", None) is None:
            self._rows = {row.tobytes(): i for i, row in enumerate(self.X_fit_.astype(np.float32))}
        known = np.array([self._rows.get(row.tobytes(), -1) for row in X32], dtype=np.int64)
        Z = np.empty((len(X32), 2))
        Z[known >= 0] = self.embedding_[known[known >= 0]]
        new = np.flatnonzero(known < 0)
        if len(new):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                Z[new] = self.umap_.transform(X32[new])
        return Z

    def _simplices(self, Z: np.ndarray) -> np.ndarray:
        """Index of the Delaunay simplex holding each code, -1 outside (a small tolerance keeps the
        embedding's own hull vertices inside)."""
        if self._hull is None:
            from scipy.spatial import Delaunay

            self._hull = Delaunay(self.embedding_, qhull_options="QJ")
        return self._hull.find_simplex(Z, tol=1e-6)

    def decodable(self, Z) -> np.ndarray:
        check_fitted(self, "umap_")
        return self._simplices(as_latent(Z)) >= 0

    def decode(self, Z) -> np.ndarray:
        check_fitted(self, "umap_")
        Z = as_latent(Z)
        simplex = self._simplices(Z)
        inside = simplex >= 0
        if self.outside == "raise" and not inside.all():
            raise OutsideEmbeddingError(
                f"{int((~inside).sum())} of {len(Z)} latent points lie outside the convex hull of the UMAP "
                "embedding, where its inverse is meaningless; decode inside latent_extent(0) or use outside='nan'"
            )
        out = np.full((len(Z), self.X_fit_.shape[1]), np.nan)
        rows = np.arange(len(Z)) if self.outside == "allow" else np.flatnonzero(inside)
        if len(rows):
            Zr = Z[rows].copy()
            # umap-learn looks codes up without tolerance: move codes on a simplex's boundary a hair
            # (1e-6 of the way) toward its centroid so that the lookup finds the simplex they belong to
            ok = simplex[rows] >= 0
            centroids = self._hull.points[self._hull.simplices[simplex[rows][ok]]].mean(axis=1)
            Zr[ok] += 1e-6 * (centroids - Zr[ok])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                out[rows] = self.umap_.inverse_transform(Zr.astype(np.float32))
        return out

    def latent_extent(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        """The embedding's box; the default margin is 0 because decoding outside the hull is refused."""
        return super().latent_extent(margin)

    def get_state(self):
        check_fitted(self, "umap_")
        umap = _import_umap()
        attrs = {"extent_": list(self.extent_), "umap_version": getattr(umap, "__version__", "unknown")}
        return {"X_fit_": self.X_fit_, "embedding_": self.embedding_}, attrs

    @classmethod
    def from_state(cls, hyper, arrays, attrs) -> UMAPManifold:
        self = cls(**hyper)
        X32 = np.ascontiguousarray(arrays["X_fit_"], dtype=np.float32)
        self.umap_ = self._fit_umap(X32)
        self.X_fit_ = X32.astype(np.float64)
        self.embedding_ = np.asarray(self.umap_.embedding_, dtype=np.float64)
        if not np.array_equal(self.embedding_, arrays["embedding_"]):
            diff = float(np.abs(self.embedding_ - arrays["embedding_"]).max())
            raise IncompatibleRunError(
                f"re-fitting the stored UMAP (umap-learn {attrs.get('umap_version')}) did not reproduce its "
                f"embedding (max difference {diff:.3g}); fit the manifold again with this installation"
            )
        self._hull, self._rows = None, None
        self.extent_ = tuple(attrs["extent_"])
        return self
