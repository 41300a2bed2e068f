"""Figures of the probes mli, hessian-walk, mode-connectivity, random-planes and spectrum.

Each function takes what `pinnviz.probes.load_probe` returns, `(arrays, attrs)` (or several of them),
and returns a `matplotlib.figure.Figure`; write it with `save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from pinnviz.errors import InvalidSettingError
from pinnviz.visualizer._scales import contour_levels, loss_norm, style_colorbar

Probe = tuple[dict, dict]  # (arrays, attrs) of a stored probe


def _positive(values: np.ndarray) -> bool:
    finite = np.asarray(values)[np.isfinite(values)]
    return finite.size > 0 and bool(np.all(finite > 0))


def mli_figure(probe: Probe, *, dpi: float = 100) -> Figure:
    """One panel per (loss, initial scale): every curve L(theta_i + alpha (theta_f - theta_i)) against alpha."""
    arrays, attrs = probe
    curves, alpha, scale = arrays["curves"], arrays["alpha"], arrays["scale"]
    losses, monotonic = list(attrs["losses"]), arrays["monotonic"]
    loss_names = sorted(set(losses))
    scales = sorted({float(s) for s in scale if np.isfinite(s)}) or [float("nan")]
    # at least 5.6 in wide: with one scale the suptitle is wider than the panel and was clipped
    fig = Figure(figsize=(max(3.4 * len(scales), 5.6), 2.8 * len(loss_names)), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(loss_names), len(scales), squeeze=False)
    for i, loss in enumerate(loss_names):
        for j, s in enumerate(scales):
            ax = axes[i, j]
            rows = [k for k in range(len(losses)) if losses[k] == loss and (scale[k] == s or np.isnan(s))]
            for k in rows:
                ax.plot(alpha, curves[k], lw=1.0, color="C0" if monotonic[k] else "C3")
            if rows and _positive(curves[rows]):
                ax.set_yscale("log")
            elif rows:
                ax.set_yscale("symlog", linthresh=1.0)
            ax.set_title(f"{loss}, init x{s:g}: {int(np.sum(monotonic[rows]))}/{len(rows)} monotonic", fontsize=9)
            ax.set_xlabel("alpha")
            ax.set_ylabel(loss)
    fig.suptitle(f"MLI: {int(np.sum(monotonic))} of {len(losses)} curves decrease monotonically", fontsize=10)
    return fig


def hessian_walk_figure(walks: Sequence[Probe], *, dpi: float = 100) -> Figure:
    """|loss change| against distance travelled, one curve per walk, with |theta_0| marked."""
    if not walks:
        raise InvalidSettingError("no Hessian walk to draw")
    fig = Figure(figsize=(6.0, 4.0), dpi=dpi, layout="constrained")
    ax = fig.subplots()
    for k, (arrays, attrs) in enumerate(walks):
        change = np.abs(arrays["change"][1:])
        ax.semilogy(arrays["distance"][1:], np.maximum(change, 1e-17), color=f"C{k}",
                    label=f"{attrs['loss']} ({attrs['trajectory']}), eta={attrs['eta']:g}")
        ax.axvline(attrs["theta_norm"], color=f"C{k}", ls="--", lw=0.8)
    ax.set_xlabel("|theta_t - theta_f|  (dashed: |theta_f|)")
    ax.set_ylabel("|L(theta_t) - L(theta_f)|")
    ax.set_title("Hessian walk along the smallest-|eigenvalue| eigenvector")
    ax.legend(fontsize=8)
    return fig


def mode_connectivity_figure(results: Sequence[Probe], *, dpi: float = 100) -> Figure:
    """Loss along the straight and the Bezier path, one panel per stored result."""
    if not results:
        raise InvalidSettingError("no mode-connectivity result to draw")
    fig = Figure(figsize=(4.4 * len(results), 3.6), dpi=dpi, layout="constrained")
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (arrays, attrs) in zip(axes, results, strict=True):
        t = arrays["t"]
        ax.plot(t, arrays["straight"], label=f"straight (barrier {attrs['barrier_straight']:.3g})")
        ax.plot(t, arrays["curved"], label=f"Bezier (barrier {attrs['barrier_curved']:.3g})")
        if _positive(np.concatenate([arrays["straight"], arrays["curved"]])):
            ax.set_yscale("log")
        ax.set_xlabel("t")
        ax.set_ylabel(attrs["loss"])
        ax.set_title(f"{attrs['loss']}: {' vs '.join(attrs['trajectories'])}", fontsize=9)
        ax.legend(fontsize=8)
    return fig


def random_planes_figure(probe: Probe, loss: str | None = None, *, dpi: float = 100, levels: int = 20) -> Figure:
    """A grid of contour plots (3 x 3 for 9 pairs) of one loss on the random planes."""
    arrays, attrs = probe
    loss = loss or attrs["losses"][0]
    if f"loss/{loss}" not in arrays:
        raise InvalidSettingError(f"random-planes holds no loss {loss!r}; it has {', '.join(attrs['losses'])}")
    grids, axis = arrays[f"loss/{loss}"], arrays["axis"]
    n = grids.shape[0]
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(2.6 * cols + 0.8, 2.4 * rows + 0.5), dpi=dpi, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    norm = loss_norm(grids)
    mappable = None
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            ax.set_axis_off()
            continue
        mappable = ax.contourf(axis, axis, grids[k], levels=contour_levels(norm, levels), norm=norm, cmap="viridis",
                               extend="both")
        ax.plot([0], [0], "w+", ms=6)
        ax.set_xticks([axis[0], 0, axis[-1]])
        ax.set_yticks([axis[0], 0, axis[-1]])
        ax.tick_params(labelsize=7)
    style_colorbar(fig.colorbar(mappable, ax=axes, shrink=0.8, label=loss))
    what = f", Monte Carlo B={attrs['stochastic']}" if attrs.get("stochastic") else ""
    fig.suptitle(f"{loss} around the {attrs['at']} point of {attrs['trajectory']}{what}", fontsize=10)
    return fig


def spectrum_figure(spectra: Sequence[Probe], *, shift: float = 1e-6, bins: int = 60, dpi: float = 100) -> Figure:
    """Per spectrum: a 2-D histogram of log10(|lambda| + shift) against step, and the extreme eigenvalues."""
    if not spectra:
        raise InvalidSettingError("no spectrum to draw")
    fig = Figure(figsize=(9.0, 3.2 * len(spectra)), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(spectra), 2, squeeze=False)
    for (ax_h, ax_c), (arrays, attrs) in zip(axes, spectra, strict=True):
        step, eig = arrays["step"], arrays["eigenvalues"]
        mag = np.log10(np.abs(eig) + shift)  # (M, P)
        edges_y = np.linspace(mag.min(), mag.max() + 1e-9, bins + 1)
        counts = np.stack([np.histogram(row, edges_y)[0] for row in mag], axis=1)  # (bins, M)
        x_edges = np.concatenate([step[:1], 0.5 * (step[1:] + step[:-1]), step[-1:]]) if len(step) > 1 \
            else np.array([step[0] - 0.5, step[0] + 0.5])
        mesh = ax_h.pcolormesh(x_edges, edges_y, np.log10(counts + 1.0), cmap="magma")
        fig.colorbar(mesh, ax=ax_h, label="log10(count + 1)")
        ax_h.set_xlabel("step")
        ax_h.set_ylabel(f"log10(|lambda| + {shift:g})")
        extremes = " (Lanczos: ends only)" if attrs.get("method") == "lanczos" else ""
        ax_h.set_title(f"{attrs['loss']}, {attrs['activation']}: Hessian spectrum{extremes}", fontsize=9)
        ax_c.semilogy(step, np.maximum(arrays["largest"], 1e-16), "o-", ms=3, label="largest lambda")
        ax_c.semilogy(step, np.maximum(arrays["most_negative"], 1e-16), "o-", ms=3, label="|most negative lambda|")
        ax_c.set_xlabel("step")
        ax_c.set_ylabel("eigenvalue magnitude")
        ax_c.legend(fontsize=8)
    return fig
