"""The Manifold protocol: every 2-D projection of parameter space, linear or learned."""

from __future__ import annotations

import numpy as np

from pinnviz.errors import NotFittedError


class Manifold:
    """Base of every projection: `fit(X)`, `encode(X (n, P)) -> (n, 2)`, `decode(Z (n, 2)) -> (n, P)`.

    Subclasses store only hyperparameters in `__init__` and set fitted state (names ending in `_`)
    in `fit`. Landscape, diagnostics and rendering code only use this interface.

    Class attributes
    ----------------
    method : registry name ("pca", "random", "kpca", "umap", "autoencoder", ...)
    can_decode : whether `decode` is supported (decided up front, never a surprise after `fit`)
    bounded_latent : whether the latent space is a fixed box (the autoencoder's [-1, 1]^2)
    """

    method: str = ""
    can_decode: bool = True
    bounded_latent: bool = False

    def fit(self, X: np.ndarray) -> Manifold:  # pragma: no cover - interface
        raise NotImplementedError

    def encode(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def decode(self, Z: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

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


def check_fitted(manifold: Manifold, attribute: str) -> None:
    if getattr(manifold, attribute, None) is None:
        raise NotFittedError(f"{type(manifold).__name__} is not fitted yet; call fit(X) first")
