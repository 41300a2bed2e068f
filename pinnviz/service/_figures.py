"""Publication figures through `pinnviz.visualizer`, rendered on request into bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pinnviz.errors import unknown_name
from pinnviz.landscape import load_landscape
from pinnviz.probes import load_probe
from pinnviz.store import Run
from pinnviz.visualizer import landscape_figure, save_figure

MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
# probe kind -> how its visualizer figure takes the stored (arrays, attrs)
_SINGLE = {"mli", "random-planes", "goldilocks", "intrinsic-dim", "bad-minima"}
_OPTIONAL_LANDSCAPE = {"basis", "trajectory-pca"}
_LIST = {"hessian-walk", "mode-connectivity", "spectrum", "acceleration"}
PROBE_KINDS = sorted(_SINGLE | _OPTIONAL_LANDSCAPE | _LIST | {"ntk", "topology"})


def figure_bytes(fig, image_format: str) -> bytes:
    if image_format not in MEDIA_TYPES:
        raise unknown_name("figure format", image_format, MEDIA_TYPES)
    with tempfile.TemporaryDirectory(prefix="pinnviz-figure-") as folder:
        path = save_figure(fig, Path(folder) / f"figure.{image_format}")
        return path.read_bytes()


def landscape_figure_bytes(run: Run, name: str, losses: list[str] | None, image_format: str,
                           diagnostics: bool = True) -> bytes:
    """The same figure `pinnviz render` draws, as PNG, SVG or PDF bytes."""
    if image_format not in MEDIA_TYPES:
        raise unknown_name("figure format", image_format, MEDIA_TYPES)
    data = load_landscape(run.group, name)
    return figure_bytes(landscape_figure(data, losses, diagnostics=diagnostics), image_format)


def probe_kind(name: str, attrs: dict) -> str | None:
    """A stored probe's kind with a visualizer figure: its `probe` (or `kind`) attribute, else the kind its
    name starts with (`ntk-<traj>`); None for kinds drawn only from their arrays (hessian-landscape)."""
    for key in ("probe", "kind"):
        if attrs.get(key) in PROBE_KINDS:
            return attrs[key]
    if attrs.get("kind"):
        return None
    matches = [k for k in PROBE_KINDS if name == k or name.startswith(f"{k}-")]
    return max(matches, key=len) if matches else None


def probe_figure_bytes(run: Run, name: str, image_format: str) -> bytes:
    """The visualizer's figure of one stored probe."""
    from pinnviz.visualizer import _ntk, _probes_a, _probes_b

    stored = load_probe(run, name)
    kind = probe_kind(name, stored[1])
    if kind is None:
        raise unknown_name(f"figure for probe {name!r}; known probe kinds", name, PROBE_KINDS)
    function = getattr(_probes_a, f"{kind.replace('-', '_')}_figure", None) or getattr(
        _probes_b, f"{kind.replace('-', '_')}_figure", None)
    if kind == "ntk":
        fig = _ntk.ntk_figure([(name, stored[0])])
    elif kind == "topology":
        from pinnviz.probes.topology import load_topology
        from pinnviz.visualizer._topology import topology_figure

        fig = topology_figure(*load_topology(run, name))  # refuses a tree whose landscape has changed since
    elif kind in _LIST:
        fig = function([stored])
    else:
        fig = function(stored)
    return figure_bytes(fig, image_format)
