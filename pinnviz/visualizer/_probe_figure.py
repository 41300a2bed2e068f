"""Redraw stored probes' figures from the store alone, without recomputing anything."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from pinnviz.errors import InvalidSettingError
from pinnviz.landscape import load_landscape
from pinnviz.probes._store import load_probe
from pinnviz.store import Run
from pinnviz.visualizer import _probes_a, _probes_b

#: kinds drawn from one stored probe
SINGLE = {"mli": _probes_a.mli_figure, "goldilocks": _probes_b.goldilocks_figure,
          "intrinsic-dim": _probes_b.intrinsic_dim_figure, "bad-minima": _probes_b.bad_minima_figure}
#: kinds whose figure overlays several stored probes (one per trajectory)
OVERLAID = {"hessian-walk": _probes_a.hessian_walk_figure, "mode-connectivity": _probes_a.mode_connectivity_figure,
            "spectrum": _probes_a.spectrum_figure, "acceleration": _probes_b.acceleration_figure}
WITH_LANDSCAPES = ("random-planes", "basis", "trajectory-pca")


def probe_kind(name: str, attrs: dict) -> str:
    """The probe's kind: its `probe` (or `kind`) attribute, else the longest known kind its name starts with."""
    kind = attrs.get("probe") or attrs.get("kind")
    if kind:
        return str(kind)
    known = sorted([*SINGLE, *OVERLAID, *WITH_LANDSCAPES], key=len, reverse=True)
    return next((k for k in known if name.startswith(k)), "")


def probe_figure(run: Run, names: Sequence[str], *, loss: str | None = None) -> Figure:
    """The figure `pinnviz probe KIND ... -o` drew for the stored probes `names` (one kind).

    Several names are allowed for the kinds that overlay trajectories (hessian-walk, mode-connectivity,
    spectrum, acceleration). `loss` picks the loss of a random-planes probe (default: its first).

    Raises
    ------
    UnknownNameError
        A name is not a probe of the store.
    InvalidSettingError
        No name, names of different kinds, several names of a single-probe kind, or a kind whose figure
        needs more than the store (ntk figures combine stores; topology recomputes its tree).
    """
    names = list(names)
    if not names:
        raise InvalidSettingError("no probe given; `pinnviz info STORE` lists the stored probes")
    probes = [load_probe(run, name) for name in names]
    kinds = {probe_kind(name, attrs) for name, (_, attrs) in zip(names, probes, strict=True)}
    if len(kinds) > 1:
        raise InvalidSettingError(f"probes {', '.join(names)} are of different kinds ({', '.join(sorted(kinds))}); "
                                  "draw one kind at a time")
    (kind,) = kinds
    if kind in OVERLAID:
        return OVERLAID[kind](probes)
    if len(probes) > 1:
        raise InvalidSettingError(f"a {kind} figure shows one probe; got {len(probes)}: {', '.join(names)}")
    probe = probes[0]
    attrs = probe[1]
    if kind in SINGLE:
        return SINGLE[kind](probe)
    if kind == "random-planes":
        return _probes_a.random_planes_figure(probe, loss)
    if kind == "basis":
        return _probes_b.basis_figure(probe, load_landscape(run.group, attrs["landscape"])
                                      if attrs.get("landscape") else None)
    if kind == "trajectory-pca":
        planes = {p: load_landscape(run.group, p) for p in attrs.get("planes") or []}
        return _probes_b.trajectory_pca_figure(probe, planes or None)
    if kind in ("direction-landscape", "hessian-landscape"):
        raise InvalidSettingError(f"probe {names[0]!r} is a {attrs.get('dims', 'd')}-D landscape, drawn through its "
                                  f"merge tree: `pinnviz probe topology STORE --landscape {names[0]} -o FIGURE`")
    raise InvalidSettingError(f"probe {names[0]!r} ({kind or 'unknown kind'}) has no figure drawn from the store "
                              f"alone; run `pinnviz probe {kind or 'KIND'} ... -o FIGURE` again")
