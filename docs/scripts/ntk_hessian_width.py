"""Hessian spectral norm at initialisation against width (the NTK paper's figure 1b), from stored probes.

    python ntk_hessian_width.py OUT.png STORE [STORE ...]

Each STORE holds untrained trajectories (`pinnviz train ... --steps 0 --seeds K`) of one problem and one
width, probed with `pinnviz probe spectrum STORE -t ... --loss residual --lanczos`. Prints one line per
store (problem, width, P, the spectral norm max |lambda| of each seed and their mean) and draws the norm
against width, one line per problem, every seed as a dot.
"""

import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pinnviz.probes import load_probe  # noqa: E402
from pinnviz.probes._store import probe_names  # noqa: E402
from pinnviz.store import open_run  # noqa: E402
from pinnviz.visualizer import save_figure  # noqa: E402


def main() -> None:
    out, stores = sys.argv[1], sys.argv[2:]
    curves: dict[str, list[tuple[int, np.ndarray]]] = {}
    lines = []
    for store in stores:
        run = open_run(store)
        norms = []
        for name in probe_names(run):
            arrays, attrs = load_probe(run, name)
            if attrs.get("probe") == "spectrum" and attrs.get("method") == "lanczos":
                norms.append(float(arrays["spectral_norm"][0]))  # the first row: the initialisation
        problem, width = run.problem["name"], int(run.model["width"])
        label = f"{problem} ({', '.join(f'{k}={run.problem[k]:g}' for k in ('beta', 'rho') if k in run.problem)})"
        params = run.trajectory(run.trajectory_names()[0]).params.shape[1]
        lines.append((label, width, f"{label}: width {width} (P = {params}): spectral norm per seed "
                      f"{', '.join(f'{v:.4g}' for v in norms)}; mean {np.mean(norms):.4g}"))
        curves.setdefault(label, []).append((width, np.array(norms)))
    for *_, line in sorted(lines):
        print(line)
    fig = Figure(figsize=(5.5, 3.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    for label, points in curves.items():
        points.sort(key=lambda p: p[0])
        widths = np.array([w for w, _ in points])
        line = ax.loglog(widths, [v.mean() for _, v in points], "-", label=f"{label}, mean over seeds")[0]
        for w, v in points:
            ax.loglog(np.full(len(v), w), v, "o", ms=3, color=line.get_color())
    ax.set_xlabel("width m (one hidden layer)")
    ax.set_ylabel("||Hessian of L_r||_2 at initialisation")
    ax.set_title("Residual-loss Hessian spectral norm (Lanczos)", fontsize=10)
    ax.legend(fontsize=7)
    save_figure(fig, out)


if __name__ == "__main__":
    main()
