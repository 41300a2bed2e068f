"""A landscape grid sharded over Dask workers: blocks of latent coordinates out, losses and distances back.

Only latent coordinates (n, 2) travel to the workers, never decoded parameter vectors: each worker opens
the store read-only, rebuilds the manifold and the physics from it and evaluates its block exactly as
`evaluate_block` does on one machine; the driver assembles the blocks in grid order and writes the store.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

BLOCKS_PER_WORKER = 4  # several blocks each, so a slow worker does not hold up the whole map


def block_on_worker(store: str, manifold_name: str, info: dict, Z: np.ndarray, names: list[str], device: str,
                    dtype: str, chunk: int | None, threads: int | None):
    """Evaluate one block of latent points (n, 2) on a worker, from the store alone (opened read-only)."""
    import torch

    from pinnviz.landscape._evaluate import data_distance_of, evaluate_grid
    from pinnviz.manifolds import load_manifold
    from pinnviz.store import open_run
    from pinnviz.trainers import DTYPES

    if threads:
        torch.set_num_threads(threads)
    run = open_run(store, mode="r")
    manifold = load_manifold(run, manifold_name)
    physics = run.physics()
    torch_dtype = DTYPES[dtype]
    # the first quadrature drawn from a rebuilt problem: the driver's too
    quadrature = physics.prepare(torch.zeros((1, physics.net.n_params), dtype=torch_dtype, device=device))
    distance = data_distance_of(run, manifold, info, device, torch_dtype)  # the driver's choice of rows
    return evaluate_grid(manifold, physics, Z, names, quadrature, distance, device=device, torch_dtype=torch_dtype,
                         chunk=chunk)


def sharded_grid(client, store: Path, manifold_name: str, info: dict, Z: np.ndarray, names: Sequence[str], *,
                 device: str, dtype: str, chunk: int | None, progress=None, threads: int | None = 1):
    """`evaluate_grid` of the whole grid Z (n, 2), split into blocks evaluated by the client's workers."""
    from distributed import as_completed

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    blocks = [b for b in np.array_split(Z, min(len(Z), workers * BLOCKS_PER_WORKER)) if len(b)]
    rows = {"fitted_on": list(info.get("fitted_on", [])), "fitted": dict(info.get("fitted", {}))}
    start = time.perf_counter()
    futures = [client.submit(block_on_worker, str(Path(store).resolve()), manifold_name, rows, block, list(names),
                             device, dtype, chunk, threads, pure=False) for block in blocks]
    order = {future.key: i for i, future in enumerate(futures)}
    results: list = [None] * len(futures)
    done = 0
    for future in as_completed(futures):
        results[order[future.key]] = future.result()
        done += len(blocks[order[future.key]])
        if progress is not None:
            progress("evaluate", done, len(Z))
    wall = time.perf_counter() - start
    decode = sum(r[3] for r in results)
    evaluate = sum(r[4] for r in results)
    flat = {name: np.concatenate([r[0][name] for r in results]) for name in names}
    distance = np.concatenate([r[1] for r in results])
    undecodable = np.concatenate([r[2] for r in results])
    # wall time of the sharded map, split in the workers' proportion of decoding and evaluating
    share = wall / max(decode + evaluate, 1e-12)
    return flat, distance, undecodable, decode * share, evaluate * share
