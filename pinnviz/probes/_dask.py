"""Probes split over Dask workers: which share of the independent vectors each task evaluates.

A task is sent only the store's path and small numbers (trajectory names, row indices, seeds, grid
coordinates); the worker opens the store read-only, rebuilds what it needs and returns losses. The driver
assembles the shares in order and alone writes the probe.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pinnviz.landscape._distributed import BLOCKS_PER_WORKER


def shares(client, n: int, *, align: int = 1) -> list[tuple[int, int]]:
    """[start, stop) ranges covering range(n), a few per worker of the client; starts are multiples of `align`."""
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    units = -(-n // align)  # groups of `align` items, never cut
    cuts = [len(part) for part in np.array_split(np.arange(units), min(units, workers * BLOCKS_PER_WORKER))]
    bounds = np.concatenate([[0], np.cumsum(cuts)]) * align
    return [(int(a), int(min(b, n))) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if a < n]


def map_shares(client, function: Callable, ranges: list[tuple[int, int]], *args) -> list:
    """`function(*args, start, stop)` of every range on the client's workers; the results in range order."""
    futures = [client.submit(function, *args, start, stop, pure=False) for start, stop in ranges]
    return client.gather(futures)


def on_worker_threads() -> None:
    """One torch thread per task: a worker process runs one task per core (see ../shared/SCALE.md)."""
    import torch

    torch.set_num_threads(1)
