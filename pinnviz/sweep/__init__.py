"""Sweeps over seeds and settings on dask.distributed: one task per configuration, safe on shared storage.

Example (two single-threaded worker processes on this machine)::

    from pinnviz.sweep import SweepSpec, dask_client, run_sweep

    spec = SweepSpec("convection1d", options={"steps": 200}, grid={"beta": [1.0, 10.0], "seed": [0, 1, 2]})
    with dask_client(workers=2) as client:
        result = run_sweep(spec, "sweep-out", client=client)
"""

from pinnviz.sweep._cluster import check_cluster_options as check_cluster_options
from pinnviz.sweep._cluster import dask_client as dask_client
from pinnviz.sweep._driver import SweepResult as SweepResult
from pinnviz.sweep._driver import read_sweep as read_sweep
from pinnviz.sweep._driver import run_sweep as run_sweep
from pinnviz.sweep._lock import SweepBusyError as SweepBusyError
from pinnviz.sweep._lock import check_free as check_free
from pinnviz.sweep._report import SweepReport as SweepReport
from pinnviz.sweep._report import sweep_report as sweep_report
from pinnviz.sweep._results import FINAL as FINAL
from pinnviz.sweep._results import grid_means as grid_means
from pinnviz.sweep._results import result_rows as result_rows
from pinnviz.sweep._spec import SweepSpec as SweepSpec
from pinnviz.sweep._spec import Task as Task
from pinnviz.sweep._spec import expand as expand
from pinnviz.sweep._spec import expand_range as expand_range
from pinnviz.sweep._spec import validate as validate

__all__ = ["FINAL", "SweepBusyError", "SweepReport", "SweepResult", "SweepSpec", "Task", "check_cluster_options",
           "check_free", "dask_client", "expand", "expand_range", "grid_means", "read_sweep", "result_rows",
           "run_sweep", "sweep_report", "validate"]
