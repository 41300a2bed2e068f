"""The Manifold protocol: every 2-D projection of parameter space, linear or learned."""

from __future__ import annotations

import inspect

import numpy as np

from pinnviz.errors import InvalidSettingError, NonFiniteError, NotFittedError


class Manifold:
    """Base of every projection: `fit(X)`, `encode(X (n, P)) -> (n, 2)`, `decode(Z (n, 2)) -> (n, P)`.

    Subclasses store only hyperparameters in `__init__` and set fitted state (names ending in `_`)
    in `fit`. Landscape, diagnostics and rendering code only use this interface.

    Class attributes
    ----------------
    method : registry name ("pca", "random", "kpca", "umap", "autoencoder", ...)
    can_decode : whether `decode` is supported (decided up front, never a surprise after `fit`)
    bounded_latent : whether the latent space is a fixed box (the autoencoder's [-1, 1]^2)
    slow_decode : whether `decode` costs much per point (UMAP: ~20 ms), so callers sample

    Persistence
    -----------
    A fitted manifold is saved as plain arrays plus JSON attributes: `get_state()` returns
    `(arrays, attrs)` and `from_state(hyper, arrays, attrs)` rebuilds it; `hyper_parameters()` gives
    the constructor's arguments. `pinnviz.manifolds.save_manifold` / `load_manifold` use these.
    """

    method: str = ""
    can_decode: bool = True
    bounded_latent: bool = False
    slow_decode: bool = False

    # ------------------------------------------------------------------ the protocol
    def fit(self, X: np.ndarray, *, segments: list[tuple[int, int]] | None = None) -> Manifold:
        """Fit on X (n_points, n_params); `segments` are the (start, stop) rows of each trajectory in X."""
        raise NotImplementedError  # pragma: no cover - interface

    def encode(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def decode(self, Z: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def decodable(self, Z: np.ndarray) -> np.ndarray:
        """Which latent points (n, 2) `decode` can map back faithfully: bool (n,). All, unless overridden."""
        Z = as_latent(Z)
        return np.ones(len(Z), dtype=bool)

    def latent_extent(self, margin: float = 0.1) -> tuple[float, float, float, float]:
        """(x0_min, x0_max, x1_min, x1_max) of the default landscape grid.

        Bounded latents return their box; others the box of the fitted points' codes widened by
        `margin` times its size on each side (see `extent_` set by `fit`).
        """
        check_fitted(self, "extent_")
        lo0, hi0, lo1, hi1 = self.extent_
        if self.bounded_latent:
            return (lo0, hi0, lo1, hi1)
        w0, w1 = hi0 - lo0, hi1 - lo1
        return (lo0 - margin * w0, hi0 + margin * w0, lo1 - margin * w1, hi1 + margin * w1)

    def projection_error(self, X: np.ndarray) -> np.ndarray:
        """Relative projection error ||m - decode(encode(m))|| / ||m|| of each row of X: (n,)."""
        X = as_points(X)
        R = self.decode(self.encode(X))
        norm = np.linalg.norm(X, axis=1)
        return np.linalg.norm(X - R, axis=1) / np.where(norm > 0, norm, 1.0)

    # ------------------------------------------------------------------ persistence
    @classmethod
    def hyper_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [n for n, p in sig.parameters.items() if n != "self" and p.kind is not p.VAR_KEYWORD]

    def hyper_parameters(self) -> dict:
        """The constructor's arguments (JSON-ready values)."""
        return {name: _jsonable(getattr(self, name)) for name in self.hyper_names()}

    def get_state(self) -> tuple[dict[str, np.ndarray], dict]:
        """Fitted state as (name -> array, JSON attributes); never pickle."""
        raise NotImplementedError  # pragma: no cover - interface

    @classmethod
    def from_state(cls, hyper: dict, arrays: dict[str, np.ndarray], attrs: dict) -> Manifold:
        raise NotImplementedError  # pragma: no cover - interface

    def _set_extent(self, codes: np.ndarray) -> None:
        self.extent_ = (float(codes[:, 0].min()), float(codes[:, 0].max()),
                        float(codes[:, 1].min()), float(codes[:, 1].max()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper_parameters().items())
        return f"{type(self).__name__}({args})"


def check_fitted(manifold: Manifold, attribute: str) -> None:
    if getattr(manifold, attribute, None) is None:
        raise NotFittedError(f"{type(manifold).__name__} is not fitted yet; call fit(X) first")


def as_points(X, *, n_params: int | None = None, what: str = "X") -> np.ndarray:
    """X as a finite float64 (n, P) array, or a PinnvizError saying what is wrong."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise InvalidSettingError(f"{what} must have shape (n_points, n_params), got {X.shape}")
    if n_params is not None and X.shape[1] != n_params:
        raise InvalidSettingError(f"{what} has {X.shape[1]} parameters, the manifold was fitted on {n_params}")
    if not np.all(np.isfinite(X)):
        bad = int(np.count_nonzero(~np.isfinite(X).all(axis=1)))
        raise NonFiniteError(f"{what} holds NaN or infinity in {bad} of {len(X)} rows")
    return X


def as_latent(Z) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != 2:
        raise InvalidSettingError(f"latent points must have shape (n, 2), got {Z.shape}")
    return Z


def check_fit_input(X, segments) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Validate the points to fit on and their trajectory segments."""
    X = as_points(X)
    return X, check_segments(len(X), segments)


def check_segments(n_points: int, segments) -> list[tuple[int, int]]:
    """Validate the (start, stop) trajectory segments of n_points points to fit on (default: one)."""
    if n_points < 3:
        raise InvalidSettingError(f"need at least 3 points to fit a 2-D manifold, got {n_points}")
    if segments is None:
        segments = [(0, n_points)]
    segments = [(int(a), int(b)) for a, b in segments]
    covered = sorted(segments)
    if covered[0][0] != 0 or covered[-1][1] != n_points or any(
        b != c for (_, b), (c, _) in zip(covered[:-1], covered[1:], strict=True)
    ) or any(b <= a for a, b in covered):
        raise InvalidSettingError(f"segments {segments} must tile rows 0..{n_points} of X without gaps")
    return segments


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
