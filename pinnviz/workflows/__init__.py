"""End-to-end jobs built from the packages below: method comparison and the demo."""

from pinnviz.workflows.compare import METRIC_COLUMNS as METRIC_COLUMNS
from pinnviz.workflows.compare import compare_methods as compare_methods
from pinnviz.workflows.compare import metrics_rows as metrics_rows
from pinnviz.workflows.compare import write_metrics as write_metrics
from pinnviz.workflows.demo import run_demo as run_demo

__all__ = ["METRIC_COLUMNS", "compare_methods", "metrics_rows", "run_demo", "write_metrics"]
