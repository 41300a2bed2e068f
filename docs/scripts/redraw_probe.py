"""Redraw a stored probe's figure without re-running it: python redraw_probe.py STORE PROBE OUT.png [--loss NAME].

PROBE is the name under probes/ (`pinnviz info STORE` lists them), e.g. mli, basis-pinn,
random-planes-final-drm, bad-minima, acceleration-pinn. The figure function is chosen from the probe's
`probe` attribute or, for probes that store none, from the start of its name. Probes that the CLI draws
several at a time (hessian-walk, mode-connectivity, spectrum, acceleration) are drawn alone.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.landscape import load_landscape  # noqa: E402
from pinnviz.probes import load_probe  # noqa: E402
from pinnviz.store import open_run  # noqa: E402
from pinnviz.visualizer import _probes_a, _probes_b, save_figure  # noqa: E402

SINGLE = {"mli": _probes_a.mli_figure, "goldilocks": _probes_b.goldilocks_figure,
          "intrinsic-dim": _probes_b.intrinsic_dim_figure, "bad-minima": _probes_b.bad_minima_figure}
LISTS = {"hessian-walk": _probes_a.hessian_walk_figure, "mode-connectivity": _probes_a.mode_connectivity_figure,
         "spectrum": _probes_a.spectrum_figure, "acceleration": _probes_b.acceleration_figure}


def kind_of(name: str, attrs: dict) -> str:
    if attrs.get("probe"):
        return attrs["probe"]
    known = [*SINGLE, *LISTS, "random-planes", "basis", "trajectory-pca"]
    return next((k for k in sorted(known, key=len, reverse=True) if name.startswith(k)), "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("probe")
    parser.add_argument("out")
    parser.add_argument("--loss", help="random-planes: which stored loss to draw (default: the first)")
    args = parser.parse_args()
    run = open_run(args.store)
    probe = load_probe(run, args.probe)
    kind = kind_of(args.probe, probe[1])
    if kind in SINGLE:
        fig = SINGLE[kind](probe)
    elif kind in LISTS:
        fig = LISTS[kind]([probe])
    elif kind == "random-planes":
        fig = _probes_a.random_planes_figure(probe, args.loss)
    elif kind == "basis":
        name = probe[1].get("landscape")
        fig = _probes_b.basis_figure(probe, load_landscape(run.group, name) if name else None)
    elif kind == "trajectory-pca":
        planes = {p: load_landscape(run.group, p) for p in probe[1].get("planes", [])}
        fig = _probes_b.trajectory_pca_figure(probe, planes or None)
    else:
        raise SystemExit(f"probe {args.probe!r}: no figure function known for it")
    print(save_figure(fig, args.out))


if __name__ == "__main__":
    main()
