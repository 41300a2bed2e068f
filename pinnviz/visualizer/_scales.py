"""Colour scales for losses: log for positive losses, symmetric-log for energies that cross zero."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from matplotlib.colors import LogNorm, Normalize, SymLogNorm
from matplotlib.scale import SymmetricalLogTransform
from matplotlib.ticker import MaxNLocator

SYMLOG_BASE = 10.0
SYMLOG_LINSCALE = 0.5


def _finite(values: Iterable[np.ndarray]) -> np.ndarray:
    parts = [np.asarray(v, dtype=float).ravel() for v in values if v is not None]
    flat = np.concatenate(parts) if parts else np.empty(0)
    return flat[np.isfinite(flat)]


def loss_norm(*values: np.ndarray) -> Normalize:
    """The colour scale shared by a loss grid and the trajectory points drawn on it.

    Parameters
    ----------
    *values : ndarray
        Every array whose values the scale must cover (the grid, each trajectory's true losses);
        NaN and infinities are ignored.

    Returns
    -------
    matplotlib.colors.Normalize
        `LogNorm` when every finite value is positive; `SymLogNorm` (base 10) when some are zero or
        negative, as a Deep Ritz energy near its minimum. Its linear part reaches from -T to T, T the
        power of ten at or above ``|min|`` (so the minimum keeps its detail and larger values are
        compressed); with a minimum of zero, T is the power of ten at or below the 10th percentile of
        the non-zero ``|values|``. When T covers every value the scale is simply linear (see
        `scale_kind`). With no finite value at all, a plain ``Normalize(0, 1)``.
    """
    flat = _finite(values)
    if flat.size == 0:
        return Normalize(0.0, 1.0)
    lo, hi = float(flat.min()), float(flat.max())
    if lo > 0:
        if hi <= lo * (1 + 1e-12):  # a constant grid: a decade around it
            lo, hi = lo / 10**0.5, hi * 10**0.5
        return LogNorm(vmin=lo, vmax=hi)
    magnitude = np.abs(flat)
    largest = float(magnitude.max())
    if largest == 0.0:
        return SymLogNorm(linthresh=1.0, linscale=SYMLOG_LINSCALE, vmin=-1.0, vmax=1.0, base=SYMLOG_BASE)
    if lo < 0:
        # linear from the lowest energy up to as far above zero: the minimum, where a Deep Ritz trajectory
        # ends, keeps its detail; larger values are compressed logarithmically. An energy whose values
        # stay within that (-13.4 .. 3.4, say) gets a linear scale over its whole range.
        linthresh = 10.0 ** np.ceil(np.log10(-lo))
    else:  # zero is the minimum: linear up to the smallest non-zero magnitudes, log above
        nonzero = magnitude[magnitude > 0]
        linthresh = 10.0 ** np.floor(np.log10(max(float(np.percentile(nonzero, 10)), largest * 1e-6)))
    if hi <= lo:
        lo, hi = lo - linthresh, hi + linthresh
    return SymLogNorm(linthresh=linthresh, linscale=SYMLOG_LINSCALE, vmin=lo, vmax=hi, base=SYMLOG_BASE)


def scale_kind(norm: Normalize) -> str:
    """``"log"``, ``"symlog"`` or ``"linear"``: how `norm` maps values to colours over its range.

    A `SymLogNorm` whose linear part covers [vmin, vmax] is ``"linear"``.
    """
    if isinstance(norm, LogNorm):
        return "log"
    if isinstance(norm, SymLogNorm):
        reach = max(abs(float(norm.vmin)), abs(float(norm.vmax)))
        return "symlog" if float(norm.linthresh) < reach else "linear"
    return "linear"


def contour_levels(norm: Normalize, count: int) -> np.ndarray:
    """`count` contour levels evenly spaced in the norm's own scale, ending exactly at vmin and vmax."""
    levels = np.asarray(norm.inverse(np.linspace(0.0, 1.0, count)), dtype=float)
    levels[0], levels[-1] = norm.vmin, norm.vmax
    return np.unique(levels)  # strictly increasing, as contourf requires


def scaled(norm: Normalize, values: np.ndarray) -> np.ndarray:
    """Values in the norm's scale (log10 or symlog), for a 3-D surface's height; NaN stays NaN."""
    values = np.asarray(values, dtype=float)
    kind = scale_kind(norm)
    if kind == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)
    if kind == "symlog":
        transform = SymmetricalLogTransform(SYMLOG_BASE, norm.linthresh, SYMLOG_LINSCALE)
        out = np.full(values.shape, np.nan)
        finite = np.isfinite(values)
        out[finite] = transform.transform(values[finite].reshape(-1, 1)).ravel()
        return out
    return values


def _label(value: float) -> str:
    """A short tick label: plain for moderate values, m x 10^k (mathtext) otherwise."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if 1e-2 <= magnitude < 1e3:
        return f"{value:.3g}"
    exponent = int(np.floor(np.log10(magnitude) + 1e-9))
    mantissa = value / 10.0**exponent
    if abs(abs(mantissa) - 1.0) < 1e-6:
        return f"$-10^{{{exponent}}}$" if value < 0 else f"$10^{{{exponent}}}$"
    return f"${mantissa:.2g}\\times10^{{{exponent}}}$"


def _decades(lo: float, hi: float) -> list[float]:
    """Powers of ten in [lo, hi] (0 < lo <= hi), thinned to at most 7."""
    first, last = int(np.ceil(np.log10(lo) - 1e-9)), int(np.floor(np.log10(hi) + 1e-9))
    exponents = list(range(first, last + 1))
    step = max(1, int(np.ceil(len(exponents) / 7)))
    return [10.0**k for k in exponents[::step]]


def colorbar_ticks(norm: Normalize) -> tuple[np.ndarray, list[str]]:
    """Tick positions and labels for a colour bar of `norm`: decades on a log scale, 0 and signed decades
    on a symmetric-log one, about five round values on a linear one; never fewer than two."""
    lo, hi = float(norm.vmin), float(norm.vmax)
    kind = scale_kind(norm)
    ticks: list[float] = []
    if kind == "log":
        ticks = _decades(lo, hi)
        if len(ticks) < 2:  # less than a decade: 1-2-5 steps, else the two ends and the middle
            first, last = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
            ticks = [m * 10.0**k for k in range(first, last + 1) for m in (1, 2, 5) if lo <= m * 10.0**k <= hi]
            if len(ticks) < 2:
                ticks = [lo, float(np.sqrt(lo * hi)), hi]
    elif kind == "symlog":
        threshold = float(norm.linthresh)
        positive = _decades(max(threshold, 1e-300), hi) if hi >= threshold else []
        negative = [-v for v in _decades(max(threshold, 1e-300), -lo)] if -lo >= threshold else []
        ticks = sorted(negative + ([0.0] if lo <= 0 <= hi else []) + positive)
        positions = norm(np.asarray(ticks, dtype=float)) if ticks else np.empty(0)
        if lo < 0 and (not len(ticks) or float(np.min(np.abs(positions - 0.0))) > 0.06):
            ticks.insert(0, lo)  # the lowest energy matters (a Ritz minimum): label it
        if len(ticks) < 2:
            ticks = [lo, hi]
    else:  # linear, or a symmetric-log scale whose linear part covers the range
        ticks = [float(t) for t in MaxNLocator(6).tick_values(lo, hi) if lo <= t <= hi] or [lo, hi]
    ticks = np.asarray(ticks, dtype=float)
    return ticks, [_label(float(t)) for t in ticks]


def style_colorbar(colorbar) -> None:
    """Put `colorbar_ticks` on a colour bar and drop the unlabelled minor ticks."""
    ticks, labels = colorbar_ticks(colorbar.mappable.norm)
    colorbar.set_ticks(ticks, labels=labels)
    colorbar.minorticks_off()
