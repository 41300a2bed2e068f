"""Section 4.1 of the topological-profiles paper at reduced scale: convection PINNs over beta and learning rate.

    python docs/scripts/topology_convection.py WORKDIR docs/figures [--steps 500] [--phase PHASE]
        [--betas 1,5,10,20,30,40] [--lrs 1e-3,3e-3,1e-2] [--seeds 5] [--workers 2]

1. trains `convection1d` for every (beta, lr, seed) with ONE `pinnviz sweep` (a LocalCluster of --workers
   single-threaded workers) into WORKDIR: one store per beta (`convection1d_beta=10.zarr`), one trajectory
   per (lr, seed) (`lr=0.01_seed=3`); re-running finishes what is missing and repeats nothing;
2. the heat map of the mean relative test error over the seeds, drawn by `pinnviz sweep-report`;
3. 3-D Hessian-direction landscapes (`pinnviz landscape --dims 3 --directions hessian`) of the seeds at a
   low, a transition and a high beta, their merge trees and profiles, and numbers for funnel against bowl;
4. 3-D against 4-D for one seed, and `pinnviz probe topology`'s four panels of one transition landscape.
Writes topology-convection-heatmap.png, topology-convection-profiles.png, topology-convection-3d-4d.png,
topology-convection-betaB-seedS.png
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

from pinnviz.probes._store import probe_names
from pinnviz.probes.topology import landscape_field, topology
from pinnviz.store import open_run
from pinnviz.visualizer import save_figure
from pinnviz.visualizer._scales import loss_norm
from pinnviz.visualizer._topology import profile_axes

BETAS = (1, 5, 10, 20, 30, 40)
LRS = (1e-3, 3e-3, 1e-2)
SEEDS = 5
PROBLEM = ["--set", "points=200", "--set", "ic_points=64", "--set", "bc_points=32", "--set", "nx=64", "--set",
           "nt=25", "--width", "16", "--depth", "2", "--loss", "total"]
RELATIVE_PERSISTENCE = 0.01  # minima of persistence below 1% of the landscape's range are dropped


def pinnviz(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pinnviz", "--threads", "1", *args], check=True, stdout=subprocess.DEVNULL)


def store_path(work: Path, beta: float) -> Path:
    """The sweep's store of one beta (every lr and seed is a trajectory of it)."""
    return work / f"convection1d_beta={beta:g}.zarr"


def trajectory_name(lr: float, seed: int) -> str:
    return f"lr={lr:g}_seed={seed}"


def train_all(work: Path, steps: int, betas: tuple, lrs: tuple, seeds: int, workers: int) -> None:
    """One `pinnviz sweep` over beta x lr x seed."""
    pinnviz("sweep", "convection1d", "--grid", "beta=" + ",".join(f"{b:g}" for b in betas),
            "--grid", "lr=" + ",".join(f"{lr:g}" for lr in lrs), "--grid", f"seed=0..{seeds - 1}", *PROBLEM,
            "--steps", str(steps), "--log-every", str(max(1, steps // 5)), "--out", str(work),
            "--workers", str(workers))


def test_errors(work: Path, betas: tuple, lrs: tuple, seeds: int) -> dict:
    """The final relative test error of every (beta, lr) and seed, read from the sweep's stores."""
    errors = {}
    for beta in betas:
        run = open_run(store_path(work, beta))
        for lr in lrs:
            errors[(beta, lr)] = [float(run.trajectory(trajectory_name(lr, s)).losses["test"][-1])
                                  for s in range(seeds)]
    return errors


def heatmap(work: Path, figures: Path) -> None:
    """`pinnviz sweep-report`: the mean over seeds of the final test loss (the relative L2 error)."""
    pinnviz("sweep-report", str(work), "--x", "beta", "--y", "lr", "--value", "test", "-o",
            str(figures / "topology-convection-heatmap.png"))


def profile(path: Path, trajectory: str, dims: int, resolution: int) -> tuple:
    """The stored d-D Hessian landscape of `trajectory` (computed by `pinnviz landscape` if missing), its merge
    tree simplified at RELATIVE_PERSISTENCE of its range, the field and the tree's metrics."""
    name = f"hl-{trajectory}-{dims}d"
    if name not in probe_names(open_run(path)):
        pinnviz("landscape", str(path), "--dims", str(dims), "--directions", "hessian", "--trajectory",
                trajectory, "--resolution", str(resolution), "--name", name)
    run = open_run(path, mode="r+")
    field = landscape_field(run, name)["field"]
    finite = field[np.isfinite(field)]
    threshold = RELATIVE_PERSISTENCE * float(finite.max() - finite.min())
    stored = f"topology-{name}" in probe_names(run)  # stored by an earlier call: the same tree again
    tree, attrs = topology(run, name, min_persistence=threshold, name=f"topology-{name}", save=not stored)
    return tree, field, attrs["metrics"]


def profiles(work: Path, figures: Path, betas: tuple, lr: float, seeds: int) -> dict:
    fig = Figure(figsize=(16, 3.0 * len(betas)), layout="constrained")
    axes = fig.subplots(len(betas), seeds, squeeze=False)
    metrics = {}
    for i, beta in enumerate(betas):
        path = store_path(work, beta)
        for j in range(seeds):
            trajectory = trajectory_name(lr, j)
            tree, field, m = profile(path, trajectory, 3, 15)
            test = float(open_run(path).trajectory(trajectory).losses["test"][-1])
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
    path = store_path(work, beta)
    trajectory = trajectory_name(lr, 0)
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    out = {}
    for ax, (dims, resolution) in zip(axes, ((3, 15), (4, 9)), strict=True):
        tree, field, m = profile(path, trajectory, dims, resolution)
        out[f"{dims}d"] = m
        profile_axes(ax, tree, norm=loss_norm(field))
        ax.set_title(f"{dims}-D ({resolution}^{dims}): {m['minima']} minim{'um' if m['minima'] == 1 else 'a'}, "
                     f"{m['saddles']} saddle{'' if m['saddles'] == 1 else 's'}",
                     fontsize="small")
    fig.suptitle(f"beta {beta}, lr {lr:g}, seed 0: 3-D against 4-D Hessian landscape")
    save_figure(fig, figures / "topology-convection-3d-4d.png", dpi=100)
    return out


def four_panels(work: Path, figures: Path, beta: float, lr: float, seed: int, persistence: float = 0.05) -> None:
    """`pinnviz probe topology`'s own figure (profile, tree, persistence diagram, critical points) of one
    stored 3-D landscape, simplified at an absolute persistence."""
    landscape = f"hl-{trajectory_name(lr, seed)}-3d"
    pinnviz("probe", "topology", str(store_path(work, beta)), "--landscape", landscape, "--min-persistence",
            f"{persistence:g}", "--name", f"topology-{landscape}-p{persistence:g}", "--force", "-o",
            str(figures / f"topology-convection-beta{beta:g}-seed{seed}.png"))


def counts_table(work: Path, betas: tuple, lr: float) -> list[dict]:
    """Per stored 3-D (and 4-D) landscape at `lr`: minima and saddles at persistence 0, 0.1% and 1% of the
    range, and the funnel depth in decades: log10(median / min) and log10(max / min) of the loss on the grid."""
    rows = []
    prefix = f"hl-lr={lr:g}_"
    for beta in betas:
        run = open_run(store_path(work, beta))
        for name in (n for n in probe_names(run) if n.startswith(prefix)):
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


def numbers(text: str, kind: type) -> tuple:
    return tuple(kind(v) if kind is float else int(v) for v in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="the sweep folder")
    parser.add_argument("figures", type=Path)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--betas", default=",".join(map(str, BETAS)))
    parser.add_argument("--lrs", default=",".join(f"{lr:g}" for lr in LRS))
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile-betas", default="1,10,40", help="low, transition, high")
    parser.add_argument("--profile-lr", type=float, default=1e-2)
    parser.add_argument("--phase", choices=("all", "train", "profiles", "heatmap", "table"), default="all")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    betas, lrs = numbers(args.betas, float), numbers(args.lrs, float)
    betas = tuple(int(b) if b == int(b) else b for b in betas)
    profile_betas = tuple(int(b) if b == int(b) else b for b in numbers(args.profile_betas, float))
    args.figures.mkdir(parents=True, exist_ok=True)
    if args.phase in ("all", "train"):
        train_all(args.work, args.steps, betas, lrs, args.seeds, args.workers)
    summary = args.figures / "topology-convection.json"
    result = json.loads(summary.read_text()) if summary.exists() else {}
    result.update({"steps": args.steps, "seeds": args.seeds, "betas": betas, "lrs": lrs,
                   "trained_with": "pinnviz sweep"})
    if args.phase in ("all", "profiles"):
        result["profile_lr"] = args.profile_lr
        result["profiles"] = profiles(args.work, args.figures, profile_betas, args.profile_lr, args.seeds)
        result["3d_vs_4d"] = three_against_four(args.work, args.figures, profile_betas[1], args.profile_lr)
        four_panels(args.work, args.figures, profile_betas[1], args.profile_lr, args.seeds - 1)
    if args.phase in ("all", "table"):
        result["counts"] = counts_table(args.work, profile_betas, args.profile_lr)
    if args.phase in ("all", "heatmap"):
        errors = test_errors(args.work, betas, lrs, args.seeds)
        heatmap(args.work, args.figures)
        result["test_error"] = {f"beta={b} lr={lr:g}": errors[(b, lr)] for (b, lr) in errors}
    summary.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("profiles", "counts")}, indent=1))


if __name__ == "__main__":
    main()
