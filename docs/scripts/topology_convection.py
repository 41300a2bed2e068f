"""Section 4.1 of the topological-profiles paper at reduced scale: convection PINNs over beta and learning rate.

    python docs/scripts/topology_convection.py WORKDIR docs/figures [--steps 500] [--phase PHASE]

1. trains `convection1d` for every (beta, lr), 5 seeds in one batch each, with `pinnviz train` (skips
   stores that exist);
2. the heat map of the mean relative test error over the seeds;
3. 3-D Hessian-direction landscapes (`probe hessian-landscape`) of the 5 seeds at a low, a transition and
   a high beta, their merge trees and profiles, and numbers for funnel against bowl;
4. 3-D against 4-D for one seed.
Writes topology-convection-heatmap.png, topology-convection-profiles.png, topology-convection-3d-4d.png
and topology-convection.json into the figures folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from pinnviz.probes.hessian_landscape import hessian_landscape
from pinnviz.probes.topology import landscape_field, topology
from pinnviz.store import open_run
from pinnviz.visualizer import save_figure
from pinnviz.visualizer._scales import loss_norm
from pinnviz.visualizer._topology import profile_axes

BETAS = (1, 5, 10, 20, 30, 40)
LRS = (1e-3, 3e-3, 1e-2)
SEEDS = 5
PROBLEM = ["--set", "points=200", "--set", "ic_points=64", "--set", "bc_points=32", "--set", "nx=64", "--set",
           "nt=25", "--width", "16", "--depth", "2"]
RELATIVE_PERSISTENCE = 0.01  # minima of persistence below 1% of the landscape's range are dropped


def store_path(work: Path, beta: float, lr: float) -> Path:
    return work / f"conv_b{beta:g}_lr{lr:g}.zarr"


def train_all(work: Path, steps: int) -> None:
    for lr in LRS:
        for beta in BETAS:
            path = store_path(work, beta, lr)
            if path.exists():
                continue
            command = [sys.executable, "-m", "pinnviz", "--threads", "1", "train", "convection1d", "--set",
                       f"beta={beta}", *PROBLEM, "--lr", f"{lr:g}", "--steps", str(steps), "--seeds", str(SEEDS),
                       "--log-every", str(max(1, steps // 5)), "--out", str(path)]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            print(f"trained beta={beta} lr={lr:g}", flush=True)


def test_errors(work: Path) -> dict:
    errors = {}
    for lr in LRS:
        for beta in BETAS:
            run = open_run(store_path(work, beta, lr))
            errors[(beta, lr)] = [float(run.trajectory(t).losses["test"][-1]) for t in run.trajectory_names()]
    return errors


def heatmap(errors: dict, figures: Path) -> None:
    grid = np.array([[np.mean(errors[(b, lr)]) for b in BETAS] for lr in LRS])
    fig = Figure(figsize=(7.5, 3.2), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(grid, cmap="magma_r", vmin=0, vmax=max(1.0, float(grid.max())), aspect="auto")
    for i in range(len(LRS)):
        for j in range(len(BETAS)):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center",
                    color="white" if grid[i, j] > 0.55 else "black", fontsize="small")
    ax.set_xticks(range(len(BETAS)), [str(b) for b in BETAS])
    ax.set_yticks(range(len(LRS)), [f"{lr:g}" for lr in LRS])
    ax.set_xlabel("beta (wave speed)")
    ax.set_ylabel("learning rate")
    ax.set_title(f"mean relative test error over {SEEDS} seeds")
    fig.colorbar(image, ax=ax, label="relative L2 error")
    save_figure(fig, figures / "topology-convection-heatmap.png", dpi=120)


def profile(run, trajectory: str, dims: int, resolution: int) -> tuple:
    name = f"hl-{trajectory}-{dims}d"
    if name not in (run.group["probes"] if "probes" in run.group else {}):
        hessian_landscape(run, trajectory, dims=dims, resolution=resolution, name=name)
    field = landscape_field(run, name)["field"]
    finite = field[np.isfinite(field)]
    threshold = RELATIVE_PERSISTENCE * float(finite.max() - finite.min())
    tree, attrs = topology(run, name, min_persistence=threshold, name=f"topology-{name}")
    return tree, field, attrs["metrics"]


def profiles(work: Path, figures: Path, betas: tuple, lr: float) -> dict:
    fig = Figure(figsize=(16, 3.0 * len(betas)), layout="constrained")
    axes = fig.subplots(len(betas), SEEDS, squeeze=False)
    metrics = {}
    for i, beta in enumerate(betas):
        run = open_run(store_path(work, beta, lr), mode="r+")
        for j, trajectory in enumerate(run.trajectory_names()[:SEEDS]):
            tree, field, m = profile(run, trajectory, 3, 15)
            test = float(run.trajectory(trajectory).losses["test"][-1])
            metrics[f"beta={beta} seed={j}"] = {**m, "test_error": test}
            ax = axes[i, j]
            profile_axes(ax, tree, norm=loss_norm(field))
            ax.set_title(f"beta {beta}, seed {j}: test {test:.2f}, {m['minima']} min, {m['saddles']} sad",
                         fontsize="small")
            ax.set_xlabel("basin size (cells)" if i == len(betas) - 1 else "")
            print(f"profile beta={beta} seed={j}", flush=True)
    fig.suptitle(f"3-D Hessian-direction profiles (15^3 grid, span 5% of ||theta||, lr {lr:g}; minima of "
                 f"persistence < {RELATIVE_PERSISTENCE:.0%} of the range dropped)")
    save_figure(fig, figures / "topology-convection-profiles.png", dpi=90)
    return metrics


def three_against_four(work: Path, figures: Path, beta: float, lr: float) -> dict:
    run = open_run(store_path(work, beta, lr), mode="r+")
    trajectory = run.trajectory_names()[0]
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    out = {}
    for ax, (dims, resolution) in zip(axes, ((3, 15), (4, 9)), strict=True):
        tree, field, m = profile(run, trajectory, dims, resolution)
        out[f"{dims}d"] = m
        profile_axes(ax, tree, norm=loss_norm(field))
        ax.set_title(f"{dims}-D ({resolution}^{dims}): {m['minima']} minim{'um' if m['minima'] == 1 else 'a'}, "
                     f"{m['saddles']} saddle{'' if m['saddles'] == 1 else 's'}",
                     fontsize="small")
    fig.suptitle(f"beta {beta}, lr {lr:g}, seed 0: 3-D against 4-D Hessian landscape")
    save_figure(fig, figures / "topology-convection-3d-4d.png", dpi=100)
    return out


def counts_table(work: Path, betas: tuple, lr: float) -> list[dict]:
    """Per stored 3-D (and 4-D) landscape: minima and saddles at persistence 0, 0.1% and 1% of the range, and
    the funnel depth in decades: log10(median / min) and log10(max / min) of the loss on the grid."""
    rows = []
    for beta in betas:
        run = open_run(store_path(work, beta, lr))
        for name in sorted(n for n in run.group["probes"].group_keys() if n.startswith("hl-")):
            field = landscape_field(run, name)["field"]
            finite = field[np.isfinite(field)]
            lo, hi, med = float(finite.min()), float(finite.max()), float(np.median(finite))
            row = {"beta": beta, "landscape": name, "decades_median": float(np.log10(med / lo)),
                   "decades_max": float(np.log10(hi / lo))}
            for fraction in (0.0, 0.001, 0.01):
                tree, _ = topology(run, name, min_persistence=fraction * (hi - lo), save=False)
                row[f"minima@{fraction:g}"] = int(tree.is_minimum.sum())
                row[f"saddles@{fraction:g}"] = int(np.unique(tree.saddles).size)
            rows.append(row)
            print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("figures", type=Path)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--profile-betas", default="1,5,40", help="low, transition, high")
    parser.add_argument("--profile-lr", type=float, default=1e-2)
    parser.add_argument("--phase", choices=("all", "train", "profiles", "heatmap", "table"), default="all")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    args.figures.mkdir(parents=True, exist_ok=True)
    if args.phase in ("all", "train"):
        train_all(args.work, args.steps)
    summary = args.figures / "topology-convection.json"
    result = json.loads(summary.read_text()) if summary.exists() else {}
    result.update({"steps": args.steps, "seeds": SEEDS, "betas": BETAS, "lrs": LRS})
    if args.phase in ("all", "profiles"):
        betas = tuple(float(b) if "." in b else int(b) for b in args.profile_betas.split(","))
        result["profile_lr"] = args.profile_lr
        result["profiles"] = profiles(args.work, args.figures, betas, args.profile_lr)
        result["3d_vs_4d"] = three_against_four(args.work, args.figures, betas[1], args.profile_lr)
    if args.phase in ("all", "table"):
        betas = tuple(float(b) if "." in b else int(b) for b in args.profile_betas.split(","))
        result["counts"] = counts_table(args.work, betas, args.profile_lr)
    if args.phase in ("all", "heatmap"):
        errors = test_errors(args.work)
        heatmap(errors, args.figures)
        result["test_error"] = {f"beta={b} lr={lr:g}": errors[(b, lr)] for (b, lr) in errors}
    summary.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "profiles"}, indent=1))


if __name__ == "__main__":
    main()
