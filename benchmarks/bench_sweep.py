"""Sweep throughput: 16 short convection runs one after another in this process vs on 2 Dask workers.

Both sweeps train the same 16 configurations (beta x seed) with `pinnviz.sweep.run_sweep`: once with
`client=None` (tasks run here, one by one, torch at one thread) and once on a LocalCluster of 2
single-threaded worker processes. Prints the speed-up (the target is >= 1.7x on 2 free cores), the
cluster's start-up time (paid once per sweep, not per task) and the scheduling overhead per task:
the worker time a task costs beyond its own training, (workers x wall - sum of task seconds) / tasks.

    python benchmarks/bench_sweep.py [--steps 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from pinnviz.sweep import SweepSpec, dask_client, run_sweep

SMALL = {"points": 256, "ic_points": 64, "bc_points": 32, "nx": 64, "nt": 20}


def spec(steps: int) -> SweepSpec:
    return SweepSpec("convection1d", dict(SMALL), {"steps": steps, "width": 20, "depth": 2, "loss": "total"},
                     {"beta": [1.0, 5.0, 10.0, 30.0], "seed": [0, 1, 2, 3]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        sequential = run_sweep(spec(args.steps), Path(tmp) / "sequential", client=None)
        sequential_wall = time.perf_counter() - start
        start = time.perf_counter()
        with dask_client(workers=args.workers) as client:
            client.wait_for_workers(args.workers)
            startup = time.perf_counter() - start
            start = time.perf_counter()
            parallel = run_sweep(spec(args.steps), Path(tmp) / "parallel", client=client)
            parallel_wall = time.perf_counter() - start
    n = len(parallel.tasks)
    assert sequential.count("done") == parallel.count("done") == n, "every configuration must finish"
    busy = sum(t["seconds"] for t in parallel.tasks)
    print(f"{n} convection1d runs of {args.steps} steps (width 20, depth 2, one torch thread each)")
    print(f"sequential, in this process: {sequential_wall:7.2f} s  ({sequential_wall / n:.3f} s a task)")
    print(f"{args.workers} Dask workers:              {parallel_wall:7.2f} s  (+ {startup:.2f} s cluster start-up)")
    print(f"speed-up: {sequential_wall / parallel_wall:.2f}x (target >= 1.7x on 2 free cores); "
          f"with start-up {sequential_wall / (parallel_wall + startup):.2f}x")
    print(f"scheduling overhead per task: {(args.workers * parallel_wall - busy) / n * 1000:.0f} ms "
          f"(worker time beyond training; a task trained for {busy / n:.3f} s on average)")


if __name__ == "__main__":
    main()
