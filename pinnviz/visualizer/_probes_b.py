"""Figures of the probes basis, goldilocks, intrinsic-dim, trajectory-pca, acceleration and bad-minima.

Each function takes a stored probe as `(arrays, attrs)` (what `pinnviz.probes.load_probe` returns), plus
landscapes where a probe draws contours, and returns a `matplotlib.figure.Figure` (never pyplot).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pinnviz.landscape import LandscapeData
from pinnviz.visualizer._landscape import landscape_axes
from pinnviz.visualizer._scales import style_colorbar

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


def _steps_axis(ax) -> None:
    """At most five round step ticks (20000-step runs otherwise crowd the labels)."""
    ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    ax.set_xlabel("step")


def _contour_panel(fig: Figure, ax, data: LandscapeData, loss: str, title: str) -> None:
    mappable = landscape_axes(ax, data, loss, legend=False)
    style_colorbar(fig.colorbar(mappable, ax=ax, label=loss, shrink=0.85))
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


def trajectory_pca_figure(probe: Probe, planes: dict[str, LandscapeData] | None = None, *,
                          dpi: float = 100) -> Figure:
    """Explained variance of the first components, and the trajectory on the planes (1,2), (1,3), (2,3)."""
    arrays, attrs = probe
    planes = planes or {}
    panels = 1 + len(planes)
    fig = Figure(figsize=(4.0 * panels, 3.6), dpi=dpi, layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    ratios = np.asarray(arrays["explained_variance_ratio"])[:10]
    ax = axes[0]
    ax.bar(np.arange(1, len(ratios) + 1), 100 * ratios, color="C0")
    ax.plot(np.arange(1, len(ratios) + 1), 100 * np.cumsum(ratios), "o-", color="C3", ms=3, label="cumulative")
    ax.set_xlabel("principal component")
    ax.set_ylabel("explained variance (%)")
    ax.set_title(f"{attrs['trajectory']}: PC1 {100 * ratios[0]:.1f}%, PC1+2 {100 * attrs['first_two']:.1f}%",
                 fontsize=9)
    ax.legend(fontsize=7)
    for ax, (label, data) in zip(axes[1:], planes.items(), strict=True):
        i, j = label[-2], label[-1]
        _contour_panel(fig, ax, data, attrs["loss"], f"{attrs['loss']} on the plane of PC{i}, PC{j}")
        ax.set_xlabel(f"$\\varepsilon_{i}$ (PC{i})")
        ax.set_ylabel(f"$\\varepsilon_{j}$ (PC{j})")
    return fig


def acceleration_figure(probes: Sequence[Probe], *, dpi: float = 100) -> Figure:
    """|theta''| and |theta''| / |theta'|^2 against step, one curve per trajectory (log scale)."""
    fig = Figure(figsize=(10.0, 3.6), dpi=dpi, layout="constrained")
    axes = fig.subplots(1, 2)
    for k, (arrays, attrs) in enumerate(probes):
        label = f"{attrs['trajectory']} (lr {attrs['lr']:g})"
        for ax, key in zip(axes, ("acceleration", "normalised"), strict=True):
            values = np.asarray(arrays[key], dtype=float)
            ax.plot(arrays["steps"], np.where(values > 0, values, np.nan), lw=0.7, color=f"C{k}", label=label)
    axes[0].set_ylabel("$|\\ddot\\theta|$")
    axes[1].set_ylabel("$|\\ddot\\theta| \\,/\\, |\\dot\\theta|^2$")
    for ax in axes:
        ax.set_yscale("log")
        _steps_axis(ax)
        ax.legend(fontsize=7)
    axes[0].set_title("acceleration (eq. 6)", fontsize=9)
    axes[1].set_title("acceleration normalised by squared velocity", fontsize=9)
    return fig


def goldilocks_figure(probe: Probe, *, dpi: float = 100) -> Figure:
    """Per loss: final loss against hypersphere radius (every trial and the median), and the norm of
    unconstrained runs from scaled initialisations against step."""
    arrays, attrs = probe
    losses = list(attrs["losses"])
    fig = Figure(figsize=(9.0, 3.2 * len(losses)), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(losses), 2, squeeze=False)
    radii = arrays["radii"]
    for i, loss in enumerate(losses):
        ax = axes[i, 0]
        final = arrays[f"{loss}/final"]  # (R, trials)
        for k in range(final.shape[1]):
            ax.plot(radii, final[:, k], "o", color="C0", ms=3, alpha=0.5)
        ax.plot(radii, np.nanmedian(final, axis=1), "-", color="C3", label="median")
        ax.set_xscale("log")
        _loss_scale(ax, final)
        ax.set_xlabel("hypersphere radius R")
        ax.set_ylabel(f"final {loss}")
        ax.set_title(f"{loss}: {attrs['optimizer']} on ||theta|| = R, {attrs['steps']} steps, "
                     f"{attrs['trials']} trials", fontsize=9)
        ax.legend(fontsize=7)
        ax = axes[i, 1]
        norms = arrays[f"{loss}/free_norms"]  # (T, S, trials)
        for j, scale in enumerate(arrays["scales"]):
            for k in range(norms.shape[2]):
                ax.plot(arrays["free_steps"], norms[:, j, k], color=f"C{j}", lw=0.8,
                        label=f"init x{scale:g}" if k == 0 else None)
        ax.set_yscale("log")
        _steps_axis(ax)
        ax.set_ylabel("||theta||")
        ax.set_title(f"{loss}: parameter norm, unconstrained", fontsize=9)
        ax.legend(fontsize=7)
    return fig


def intrinsic_dim_figure(probe: Probe, *, dpi: float = 100) -> Figure:
    """Per loss: loss curves of training in random subspaces of each dimension, and the full reference."""
    arrays, attrs = probe
    losses = list(attrs["losses"])
    fig = Figure(figsize=(4.6 * len(losses), 3.6), dpi=dpi, layout="constrained")
    axes = fig.subplots(1, len(losses), squeeze=False)[0]
    for ax, loss in zip(axes, losses, strict=True):
        curves = arrays[f"{loss}/curves"]
        for j, d in enumerate(arrays["dims"]):
            ax.plot(arrays["steps"], curves[:, j], lw=1.0, color=f"C{j}", label=f"d = {d}")
        every = [curves]
        if f"{loss}/reference" in arrays:
            ax.plot(arrays["steps"], arrays[f"{loss}/reference"], "k--", lw=1.0,
                    label=f"full ({attrs['n_params']} params)")
            every.append(arrays[f"{loss}/reference"])
        _loss_scale(ax, np.concatenate([np.ravel(v) for v in every]))
        _steps_axis(ax)
        ax.set_ylabel(loss)
        ax.set_title(f"{loss} in random subspaces", fontsize=9)
        ax.legend(fontsize=7)
    return fig


def bad_minima_figure(probe: Probe, *, dpi: float = 100) -> Figure:
    """A grid (loss x width) of loss curves, one colour per optimizer, one line per run."""
    arrays, attrs = probe
    losses, widths, optimizers = list(attrs["losses"]), list(attrs["widths"]), list(attrs["optimizers"])
    fig = Figure(figsize=(4.2 * len(widths), 3.2 * len(losses)), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(losses), len(widths), squeeze=False)
    for i, loss in enumerate(losses):
        for j, width in enumerate(widths):
            ax = axes[i, j]
            every = []
            for k, opt in enumerate(optimizers):
                curves = arrays[f"{loss}/{opt}/w{width}"]
                every.append(curves)
                for r in range(curves.shape[1]):
                    ax.plot(arrays["steps"], curves[:, r], color=f"C{k}", lw=0.7, alpha=0.7,
                            label=opt if r == 0 else None)
            _loss_scale(ax, np.concatenate([c.ravel() for c in every]))
            _steps_axis(ax)
            ax.set_ylabel(loss)
            ax.set_title(f"{loss}, width {width}: {attrs['runs']} runs each", fontsize=9)
            ax.legend(fontsize=7)
    return fig
