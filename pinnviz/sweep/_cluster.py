"""Where tasks run: a LocalCluster started here, an existing Dask cluster by address or scheduler file, or here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pinnviz.errors import InvalidSettingError

# how often our own scheduler checks task-lock leases (distributed's default is 10 s)
LEASE_VALIDATION = "2s"


def check_cluster_options(workers: int | None, scheduler: str | None, scheduler_file: Path | None) -> None:
    """At most one of the three; workers >= 0 (0: run in this process, one task after another)."""
    given = [label for label, value in (("--workers", workers), ("--scheduler", scheduler),
                                        ("--scheduler-file", scheduler_file)) if value is not None]
    if len(given) > 1:
        raise InvalidSettingError(f"give one of {', '.join(given)}, not several")
    if workers is not None and workers < 0:
        raise InvalidSettingError(f"workers={workers} must be >= 0 (0 runs every task in this process)")
    if scheduler_file is not None and not Path(scheduler_file).is_file():
        raise InvalidSettingError(f"no scheduler file at {scheduler_file}")


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, scheduler_file: Path | None = None,
                *, default_workers: int | None = None) -> Iterator[object | None]:
    """A `distributed.Client`, or None for `workers=0` (tasks run in this process).

    With none of the three given, a LocalCluster of `default_workers` (the CPU count when None)
    single-threaded worker processes is started and closed again at the end.
    """
    check_cluster_options(workers, scheduler, scheduler_file)
    if workers is None and scheduler is None and scheduler_file is None:
        workers = default_workers if default_workers is not None else (os.cpu_count() or 1)
    if workers == 0:
        yield None
        return
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None or scheduler_file is not None:
        try:
            client = Client(scheduler, scheduler_file=None if scheduler_file is None else str(scheduler_file),
                            timeout="20s")
        except OSError as exc:
            where = scheduler or scheduler_file
            raise InvalidSettingError(f"cannot reach the Dask scheduler at {where} ({exc})") from None
        with client:
            yield client
        return
    with dask.config.set({"distributed.scheduler.locks.lease-validation-interval": LEASE_VALIDATION}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster) as client:
        yield client
