"""Figures of the NTK probe: Delta K(t), the traces of K_uu and K_rr, and their spectra."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from pinnviz.errors import InvalidSettingError


def ntk_figure(results: Sequence[tuple[str, dict]], *, dpi: float = 100) -> Figure:
    """Three panels for one or more NTK probes, each given as (label, arrays of `probes.ntk`).

    (a) Delta K(t) = ||K(0) - K(t)||_2 / ||K(0)||_2 against the step; (b) Tr K_uu and Tr K_rr
    (log scale); (c) the eigenvalues of K_uu (dashed) and K_rr (solid) at the last probed step.
    """
    if not results:
        raise InvalidSettingError("ntk_figure needs at least one probe result")
    fig = Figure(figsize=(13.0, 3.8), dpi=dpi, layout="constrained")
    ax_delta, ax_trace, ax_eig = fig.subplots(1, 3)
    for i, (label, arrays) in enumerate(results):
        color = f"C{i % 10}"
        step = np.asarray(arrays["step"])
        ax_delta.plot(step, arrays["delta"], "-o", ms=3, color=color, label=label)
        ax_trace.plot(step, arrays["trace_rr"], "-", color=color, label=f"{label}: K_rr")
        ax_trace.plot(step, arrays["trace_uu"], "--", color=color, label=f"{label}: K_uu")
        for key, style in (("eig_rr", "-"), ("eig_uu", "--")):
            eig = np.clip(np.asarray(arrays[key])[-1], 1e-16, None)
            ax_eig.plot(np.arange(1, eig.size + 1), eig, style, color=color)
    ax_delta.set_xlabel("step")
    ax_delta.set_ylabel("||K(0) - K(t)|| / ||K(0)||")
    ax_delta.set_title("(a) relative change of the NTK")
    ax_delta.legend(fontsize=8)
    ax_trace.set_yscale("log")
    ax_trace.set_xlabel("step")
    ax_trace.set_title("(b) traces: K_rr solid, K_uu dashed")
    ax_eig.set_xscale("log")
    ax_eig.set_yscale("log")
    ax_eig.set_xlabel("index")
    ax_eig.set_ylabel("eigenvalue")
    ax_eig.set_title("(c) spectra at the last probed step")
    return fig
