"""Neuro-Visualizer autoencoder vs PCA on a 1,000-point trajectory of a 480-parameter PINN.

Trains the default Poisson problem (1-20-20-1 tanh MLP, 480 parameters, Adam 1e-3) for 7,500 steps
with the `pinn` loss (or reuses --store), fits the autoencoder on 1,000 evenly spaced rows within a
time budget, and prints the fit time and the mean relative projection error
||m - D(E(m))|| / ||m|| against PCA's, on the fitted rows and on the 6,501 rows not fitted on.

    .venv/bin/python benchmarks/bench_autoencoder.py [--seconds 45] [--anchor polar] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from pinnviz.manifolds import AutoencoderManifold, PCAManifold
from pinnviz.nets import MLP
from pinnviz.problems import PhysicsLosses, Poisson1D
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train


def trajectory(store: Path | None, loss: str) -> np.ndarray:
    if store is None:
        store = Path(tempfile.mkdtemp()) / "bench.zarr"
    if not store.exists() or f"{loss}-adam-seed0" not in open_run(store).trajectory_names():
        t0 = time.perf_counter()
        train(store, PhysicsLosses(Poisson1D(), MLP(1, 1, 20, 2)), TrainConfig(loss=loss, steps=7500))
        print(f"trained {loss} for 7500 steps in {time.perf_counter() - t0:.1f} s -> {store}")
    return open_run(store).trajectory(f"{loss}-adam-seed0").params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--loss", default="pinn")
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--anchor", default="none")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X = trajectory(args.store, args.loss)
    fit_rows = np.unique(np.linspace(0, len(X) - 1, args.points).round().astype(int))
    held = np.setdiff1d(np.arange(len(X)), fit_rows)
    Xf, Xh = X[fit_rows], X[held]
    print(f"trajectory {X.shape[0]} x {X.shape[1]}; fitting on {len(Xf)} rows, {len(Xh)} held out")

    pca = PCAManifold().fit(Xf)
    t0 = time.perf_counter()
    ae = AutoencoderManifold(epochs=None, seconds=args.seconds, lr=args.lr, anchor=args.anchor,
                             threads=args.threads, seed=args.seed, batch_size=args.batch_size).fit(Xf)
    seconds = time.perf_counter() - t0

    rows = []
    for label, A in (("fitted", Xf), ("held-out", Xh)):
        e_pca, e_ae = pca.projection_error(A).mean(), ae.projection_error(A).mean()
        rows.append((label, e_pca, e_ae, e_pca / e_ae))
    print(f"autoencoder: {seconds:.1f} s wall ({ae.epochs_} epochs, best at {ae.best_epoch_}, "
          f"stopped: {ae.stopped_}), anchor={args.anchor}, batch={args.batch_size}, threads={args.threads}, "
          f"hidden={ae.hidden_}")
    if len(ae.anchor_rows_):
        d = np.linalg.norm(ae.encode(Xf[ae.anchor_rows_]) - ae.anchor_targets_, axis=1)
        print("anchor distances: " + ", ".join(f"{v:.4f}" for v in d))
    print(f"{'points':>10} {'PCA error':>12} {'AE error':>12} {'PCA / AE':>10}")
    for label, e_pca, e_ae, ratio in rows:
        print(f"{label:>10} {e_pca:12.4g} {e_ae:12.4g} {ratio:10.1f}x")
    target = 10 if args.anchor != "none" else 30
    ok = seconds < 60 and all(r[3] >= target for r in rows)
    print(f"target: < 60 s and >= {target}x lower than PCA: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
