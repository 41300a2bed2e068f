"""The one registry of manifold methods, and the one place an unknown name is rejected."""

from __future__ import annotations

from pinnviz.errors import unknown_name
from pinnviz.manifolds._base import Manifold
from pinnviz.manifolds.autoencoder import AutoencoderManifold
from pinnviz.manifolds.hessian_plane import HessianPlaneManifold
from pinnviz.manifolds.kpca import KernelPCAManifold
from pinnviz.manifolds.pca import PCAManifold
from pinnviz.manifolds.random_plane import RandomPlaneManifold
from pinnviz.manifolds.trench_plane import TrenchPlaneManifold
from pinnviz.manifolds.umap_ import UMAPManifold

MANIFOLDS: dict[str, type[Manifold]] = {
    cls.method: cls
    for cls in (PCAManifold, RandomPlaneManifold, KernelPCAManifold, UMAPManifold, AutoencoderManifold,
                HessianPlaneManifold, TrenchPlaneManifold)
}


def manifold_class(method: str) -> type[Manifold]:
    """The class registered under `method`, or UnknownNameError listing the valid names."""
    try:
        return MANIFOLDS[method]
    except KeyError:
        raise unknown_name("manifold method", method, MANIFOLDS) from None
