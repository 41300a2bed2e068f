"""The Neuro-Visualizer's losses as pure functions of tensors (Elhamod & Karpatne, section 3, appendix A).

Shapes: Y (n_points, n_params) standardised points, Z (n_points, 2) their codes in [-1, 1]^2.
"""

from __future__ import annotations

import math

import numpy as np
import torch

ANCHORS = ("none", "polar", "center", "circle")


def anchor_targets(mode: str, segments: list[tuple[int, int]], *, radius: float = 0.8,
                   points: list[int] | None = None, reference: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows of X to anchor and their latent targets: (indices (k,), targets (k, 2)).

    polar: the reference trajectory's first point to (-r, -r), its last to (r, r).
    center: the reference trajectory's last point to (0, 0).
    circle: `points` (rows of X), or each trajectory's last point, at (r sin(2 pi k/n), r cos(2 pi k/n)).
    """
    start, stop = segments[reference]
    if mode == "none":
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
    if mode == "polar":
        return np.array([start, stop - 1]), np.array([[-radius, -radius], [radius, radius]])
    if mode == "center":
        return np.array([stop - 1]), np.zeros((1, 2))
    rows = np.asarray(points if points is not None else [b - 1 for _, b in segments], dtype=np.int64)
    angles = 2.0 * math.pi * np.arange(len(rows)) / len(rows)
    return rows, radius * np.stack([np.sin(angles), np.cos(angles)], axis=1)


def reconstruction_loss(Y: torch.Tensor, Y_hat: torch.Tensor) -> torch.Tensor:
    """MSE of the standardised reconstruction."""
    return ((Y_hat - Y) ** 2).mean()


def anchor_loss(Z: torch.Tensor, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared latent distance of the anchored points to their targets."""
    return ((Z[rows] - targets) ** 2).sum(dim=1).mean()


def grid_loss(encoder, decoder, Y: torch.Tensor, Z: torch.Tensor, grid: torch.Tensor, scale: torch.Tensor,
              log_D: torch.Tensor, zoom: float) -> torch.Tensor:
    """Grid scaling: mean over g of ((log d_par - d_lat) - (log D - s))^2.

    For each grid point g (G, 2), m is the fitted point whose code is nearest to g (searched over all
    points, using the codes Z (n_points, 2), e.g. refreshed once per epoch), d_lat = |g - encode(m)|
    (encode(m) recomputed, so gradients reach the encoder) and d_par = ||decode(g) - m|| in parameter
    units (`scale` (P,) undoes the standardisation); log_D (n_points,) is the log first-to-last
    distance of m's trajectory.
    """
    nearest = torch.cdist(grid, Z.detach()).argmin(dim=1)  # (G,) index of the nearest code
    d_lat = (grid - encoder(Y[nearest])).norm(dim=1)  # (G,)
    d_par = ((decoder(grid) - Y[nearest]) * scale).norm(dim=1)  # (G,)
    tiny = torch.finfo(d_par.dtype).tiny
    return (((d_par + tiny).log() - d_lat) - (log_D[nearest] - zoom)).pow(2).mean()


def spacing_loss(Z: torch.Tensor, segments: list[tuple[int, int]]) -> torch.Tensor:
    """Trajectory spacing: no non-neighbour closer in latent space than a point's farther neighbour.

    For each point i of a trajectory, with r_i the larger latent distance to its trajectory neighbours
    i-1 and i+1, penalises relu(r_i - |z_i - z_j|)^2 over the points j of the same trajectory with
    |i - j| > 1 (mean over those pairs).
    """
    total, count = Z.new_zeros(()), 0
    for start, stop in segments:
        n = stop - start
        if n < 4:
            continue
        Zs = Z[start:stop]
        step = (Zs[1:] - Zs[:-1]).norm(dim=1)  # (n-1,)
        reach = torch.maximum(torch.cat([step[:1], step]), torch.cat([step, step[-1:]]))  # (n,)
        dist = torch.cdist(Zs, Zs)  # (n, n)
        idx = torch.arange(n, device=Z.device)
        far = (idx[:, None] - idx[None, :]).abs() > 1
        total = total + torch.relu(reach[:, None] - dist)[far].pow(2).sum()
        count += int(far.sum())
    return total / max(count, 1)


def grid_concentration(decode, X: np.ndarray, segments: list[tuple[int, int]], resolution: int = 25, *,
                       residual: np.ndarray | None = None, spans: np.ndarray | None = None) -> float:
    """Mean over a resolution^2 grid of [-1, 1]^2 of the distance from decode(g) to the nearest fitted
    point, divided by that point's trajectory first-to-last distance D (a measure of how tightly the
    decoded grid hugs the trajectory; smaller with a larger grid scale).

    For an autoencoder in a principal subspace, `decode` and X are subspace coordinates, `residual`
    (n,) the norms of the points' components outside it (so distances are exact: decoded points lie in
    the subspace) and `spans` (n_segments,) each trajectory's D measured on the full vectors.
    """
    axis = np.linspace(-1.0, 1.0, resolution)
    grid = np.stack(np.meshgrid(axis, axis, indexing="xy"), axis=-1).reshape(-1, 2)
    decoded = decode(grid)
    D = np.empty(len(X))
    for i, (a, b) in enumerate(segments):
        span = np.linalg.norm(X[b - 1] - X[a]) if spans is None else spans[i]
        D[a:b] = max(span, np.finfo(float).tiny)
    sq = (decoded * decoded).sum(1)[:, None] + (X * X).sum(1)[None, :] - 2.0 * decoded @ X.T
    if residual is not None:
        sq = sq + (residual**2)[None, :]
    nearest = sq.argmin(axis=1)
    dist = np.sqrt(np.maximum(sq[np.arange(len(grid)), nearest], 0.0))
    return float(np.mean(dist / D[nearest]))
