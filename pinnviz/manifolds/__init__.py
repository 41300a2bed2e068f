"""Projections of parameter space behind one protocol: `encode` (n, P) -> (n, 2), `decode` back."""

from pinnviz.manifolds._base import Manifold as Manifold
from pinnviz.manifolds._base import check_fitted as check_fitted
from pinnviz.manifolds._fit import fit_manifold as fit_manifold
from pinnviz.manifolds._persist import load_manifold as load_manifold
from pinnviz.manifolds._persist import manifold_info as manifold_info
from pinnviz.manifolds._persist import manifold_names as manifold_names
from pinnviz.manifolds._persist import manifold_staleness as manifold_staleness
from pinnviz.manifolds._persist import save_manifold as save_manifold
from pinnviz.manifolds._persist import trajectory_fingerprint as trajectory_fingerprint
from pinnviz.manifolds._registry import MANIFOLDS as MANIFOLDS
from pinnviz.manifolds._registry import manifold_class as manifold_class
from pinnviz.manifolds.autoencoder import AutoencoderManifold as AutoencoderManifold
from pinnviz.manifolds.kpca import KernelPCAManifold as KernelPCAManifold
from pinnviz.manifolds.pca import PCAManifold as PCAManifold
from pinnviz.manifolds.random_plane import RandomPlaneManifold as RandomPlaneManifold
from pinnviz.manifolds.umap_ import OutsideEmbeddingError as OutsideEmbeddingError
from pinnviz.manifolds.umap_ import UMAPManifold as UMAPManifold

__all__ = [
    "MANIFOLDS", "AutoencoderManifold", "KernelPCAManifold", "Manifold", "OutsideEmbeddingError", "PCAManifold",
    "RandomPlaneManifold", "UMAPManifold", "check_fitted", "fit_manifold", "load_manifold", "manifold_class",
    "manifold_info", "manifold_names", "manifold_staleness", "save_manifold",
    "trajectory_fingerprint",
]
