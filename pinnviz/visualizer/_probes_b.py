"""Figures of the probes basis, goldilocks, intrinsic-dim, trajectory-pca, acceleration and bad-minima.

Each function takes a stored probe as `(arrays, attrs)` (what `pinnviz.probes.load_probe` returns), plus
landscapes where a probe draws contours, and returns a `matplotlib.figure.Figure` (never pyplot).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from pinnviz.landscape import LandscapeData
from pinnviz.visualizer._landscape import landscape_axes

Probe = tuple[dict, dict]  # (arrays, attrs) of a stored probe


def _loss_scale(ax, values: np.ndarray, axis: str = "y") -> None:
    """Log scale for a positive loss, symmetric log for an energy that reaches zero or below."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    setter = ax.set_yscale if axis == "y" else ax.set_xscale
    if finite.size and np.all(finite > 0):
        setter("log")
    elif finite.size:
        setter("symlog", linthresh=max(1e-3, float(np.percentile(np.abs(finite), 5)) or 1.0))


def _contour_panel(fig: Figure, ax, data: LandscapeData, loss: str, title: str) -> None:
    mappable = landscape_axes(ax, data, loss, legend=False)
    fig.colorbar(mappable, ax=ax, label=loss, shrink=0.85)
    ax.set_title(title, fontsize=9)


def basis_figure(probe: Probe, landscape: LandscapeData | None = None, *, dpi: float = 100) -> Figure:
    """Basis functions, the Gram spectrum with the rank threshold, and the trench plane (when computed)."""
    arrays, attrs = probe
    panels = 3 if landscape is not None else 2
    fig = Figure(figsize=(4.2 * panels, 3.6), dpi=dpi, layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    x, H = arrays["x"], arrays["basis"]
    ax = axes[0]
    if x.shape[1] == 1:
        order = np.argsort(x[:, 0])
        ax.plot(x[order, 0], H[order], lw=1.0)
        ax.set_xlabel("x")
        ax.set_ylabel("$h_i(x) = D(x)\\,\\phi_i(x)$")
    else:  # several inputs: each basis function's values over the quadrature points
        ax.plot(H, lw=0.6)
        ax.set_xlabel("quadrature point")
        ax.set_ylabel("$h_i$")
    ax.set_title(f"{attrs['width']} basis functions ({attrs['trajectory']}, step {attrs['step']})", fontsize=9)
    ax = axes[1]
    values = np.asarray(arrays["eigenvalues"])[::-1]
    relative = np.abs(values) / values.max()
    kept = values > attrs["tolerance"] * values.max()
    index = np.arange(1, len(values) + 1)
    ax.semilogy(index[kept], np.maximum(relative[kept], 1e-300), "o", color="C0", label="counted")
    ax.semilogy(index[~kept], np.maximum(relative[~kept], 1e-300), "x", color="C3", label="below tolerance")
    ax.axhline(attrs["tolerance"], color="k", ls="--", lw=0.8)
    ax.set_xlabel("eigenvalue index")
    ax.set_ylabel("|eigenvalue| / largest")
    ax.set_title(f"Gram matrix: rank {attrs['rank']} of {attrs['width']}", fontsize=9)
    ax.legend(fontsize=7)
    if landscape is not None:
        _contour_panel(fig, axes[2], landscape, attrs["loss"],
                       f"{attrs['loss']}: trench plane; rel. change along Delta "
                       f"{attrs['null_relative_change']:.1e}")
        axes[2].set_xlabel("null direction [Delta, 0]")
        axes[2].set_ylabel("random direction")
    return fig
