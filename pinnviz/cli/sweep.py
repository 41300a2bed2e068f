"""`pinnviz sweep` (one training per configuration of a grid, on Dask) and `pinnviz sweep-report` (its heat map)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pinnviz.cli._common import err, friendly_errors, out
from pinnviz.errors import InvalidSettingError

CLUSTER = "Where tasks run"

# the cluster options, shared by every command that can run on Dask
WorkersOption = Annotated[int | None, typer.Option(
    help="Start a LocalCluster of N single-threaded worker processes (default: one per CPU; 0: run here).",
    rich_help_panel=CLUSTER)]
SchedulerOption = Annotated[str | None, typer.Option(
    help="Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786.", rich_help_panel=CLUSTER)]
SchedulerFileOption = Annotated[Path | None, typer.Option(
    help="Scheduler file written by `dask scheduler --scheduler-file` or dask-jobqueue.", rich_help_panel=CLUSTER)]

# train options a sweep decides itself
REFUSED = {"out_path": "--out is the sweep folder", "name": "a sweep names each trajectory by its settings",
           "seeds": "a sweep trains one seed per task; use --grid seed=0..4",
           "resume_run": "re-run the same sweep command to resume it", "problem": "give the problem once"}


def _train_click():
    from pinnviz.cli.train import train_command

    app = typer.Typer()
    app.command()(train_command)
    return typer.main.get_command(app)


def _parse_train(problem: str, args: list[str], label: str):
    """`pinnviz train`'s own parser on these arguments (its types and checks); its context."""
    try:
        return _train_click().make_context("pinnviz train", [problem, *args])
    except Exception as exc:  # typer's click raises its UsageError / BadParameter
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        raise InvalidSettingError(f"{label}: {message}") from None


def train_options(problem: str, args: list[str]) -> tuple[dict, dict]:
    """Train-command arguments, parsed by `pinnviz train`'s own parser: (problem settings, training options)."""
    ctx = _parse_train(problem, args, "train option")
    given = {name: value for name, value in ctx.params.items()
             if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE" and name != "problem"}
    for name in given:
        if name in REFUSED:
            raise InvalidSettingError(f"--{name.replace('_', '-')}: {REFUSED[name]}")
    return _library_options(given)


def _library_options(params: dict) -> tuple[dict, dict]:
    from pinnviz.cli.train import parse_settings, parse_weights

    params = dict(params)
    problem_options = parse_settings(params.pop("settings", None))
    for key in ("solution", "quadrature", "points"):
        if key in params:
            problem_options[key] = params.pop(key)
    if "weights" in params:
        params["weights"] = parse_weights(params["weights"])
    return problem_options, params


def grid_values(key: str, texts: list[str]) -> tuple[str, list]:
    """A grid key (train option or problem setting) and its values converted as `pinnviz train` would."""
    from pinnviz.cli.train import parse_settings, parse_weights
    from pinnviz.sweep import expand_range

    key = key.strip().replace("-", "_") if not key.startswith("set.") else key.strip()
    texts = [t for text in texts for t in expand_range(text)]
    if key in REFUSED:
        raise InvalidSettingError(f"--grid {key}: {REFUSED[key]}")
    params = {p.name: p for p in _train_click().params}
    if key in params and key != "settings":
        flag = params[key].opts[0]
        values = [_parse_train("poisson1d", [flag, text], f"--grid {key}={text}").params[key] for text in texts]
        return key, [parse_weights(v) if key == "weights" else v for v in values]
    return key, [parse_settings([f"x={text}"])["x"] for text in texts]


def parse_grid(pairs: list[str]) -> dict[str, list]:
    grid: dict[str, list] = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise InvalidSettingError(f"--grid {pair!r} must look like KEY=V1,V2 or KEY=LOW..HIGH")
        name, parsed = grid_values(key, [v.strip() for v in values.split(",")])
        grid[name] = parsed
    return grid


def read_config(path: Path) -> dict:
    """A sweep.toml: problem, out, workers | scheduler | scheduler_file, [train] options, [grid] values."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidSettingError(f"cannot read --config {path}: {exc}") from None
    known = {"problem", "out", "workers", "scheduler", "scheduler_file", "threads_per_task", "train", "grid"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidSettingError(f"--config {path}: unknown key {', '.join(unknown)}; "
                                  f"valid: {', '.join(sorted(known))}")
    args = []
    for key, value in data.get("train", {}).items():
        flag = "--set" if key == "set" else f"--{key.replace('_', '-')}"
        for item in value if isinstance(value, list) else [value]:
            args += [flag, str(item)]
    grid = {}
    for key, value in data.get("grid", {}).items():
        texts = [str(v) for v in value] if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        grid[key] = texts
    return {**data, "train_args": args, "grid_texts": grid}


@friendly_errors
def sweep_command(
    ctx: typer.Context,
    problem: Annotated[str | None, typer.Argument(help="Problem name, e.g. convection1d (or from --config).")] = None,
    grid: Annotated[list[str] | None, typer.Option(help="KEY=V1,V2,... or KEY=LOW..HIGH (repeatable): a train "
                                                   "option (lr, seed, width, ...) or a problem setting.")] = None,
    config: Annotated[Path | None, typer.Option(help="A sweep.toml: problem, out, workers, a train table of "
                                                "options and a grid table.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Sweep folder: one store per problem "
                                                 "configuration, sweep.json, sweep.csv, sweep.md.")] = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    scheduler_file: SchedulerFileOption = None,
    threads_per_task: Annotated[int, typer.Option(help="torch threads of each task.", rich_help_panel=CLUSTER)] = 1,
) -> None:
    """Train every configuration of a grid, one task each, on a LocalCluster or an existing Dask cluster.

    Any other option is a `pinnviz train` option shared by every configuration (--steps 500 --loss pinn ...).
    Re-running the same command finishes what is missing, resumes what was interrupted and repeats nothing.
    """
    from pinnviz.sweep import SweepSpec, check_cluster_options, check_free, dask_client, run_sweep, validate

    settings = read_config(config) if config is not None else {}
    problem = problem or settings.get("problem")
    if problem is None:
        raise InvalidSettingError("give the problem (pinnviz sweep PROBLEM ...) or `problem` in --config")
    out_dir = out_dir or (Path(settings["out"]) if "out" in settings else None)
    if out_dir is None:
        raise InvalidSettingError("give the sweep folder with --out DIR (or `out` in --config)")
    if workers is None and scheduler is None and scheduler_file is None:
        workers, scheduler = settings.get("workers"), settings.get("scheduler")
        scheduler_file = Path(settings["scheduler_file"]) if "scheduler_file" in settings else None
    check_cluster_options(workers, scheduler, scheduler_file)
    problem_options, options = train_options(problem, [*settings.get("train_args", []), *ctx.args])
    texts = {k: v for k, v in settings.get("grid_texts", {}).items()}
    for pair in grid or []:
        key, _, values = pair.partition("=")
        texts[key.strip()] = [v.strip() for v in values.split(",")] if values.strip() else []
    parsed = parse_grid([f"{k}={','.join(v)}" for k, v in texts.items()])
    if not parsed:
        raise InvalidSettingError("give at least one --grid KEY=V1,V2,...")
    spec = SweepSpec(problem, problem_options, options, parsed)
    validate(spec)  # every configuration, before a cluster is started
    check_free(out_dir)
    columns = [TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]}"),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with dask_client(workers, scheduler, scheduler_file) as client, \
            Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("sweep", total=None, failed="")

        def progress(done: int, total: int, failed: int) -> None:
            bar.update(task, completed=done, total=total, failed=f"{failed} failed" if failed else "")

        result = run_sweep(spec, out_dir, client=client, threads=threads_per_task, progress=progress,
                           log=lambda m: bar.console.print(m, highlight=False, soft_wrap=True))
    out.print(f"{len(result.tasks)} configurations: {result.count('done')} done, {result.count('failed')} failed "
              f"({result.ran} run now, {result.seconds:.1f} s)")
    for path in result.files:
        out.print(f"wrote {path}")
    if result.count("failed"):
        raise typer.Exit(1)


# any option the sweep does not know is a `pinnviz train` option (parsed by `train_options`)
sweep_command.context_settings = {"allow_extra_args": True, "ignore_unknown_options": True}


def _where(pairs: list[str] | None) -> dict[str, Any]:
    where = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidSettingError(f"--where {pair!r} must look like KEY=VALUE")
        try:
            where[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            where[key.strip()] = value
    return where


@friendly_errors
def sweep_report_command(
    out_dir: Annotated[Path, typer.Argument(help="A sweep folder (written by pinnviz sweep).")],
    x: Annotated[str, typer.Option("--x", help="Swept key along the horizontal axis, e.g. beta.")],
    y: Annotated[str, typer.Option("--y", help="Swept key along the vertical axis, e.g. lr.")],
    value: Annotated[str, typer.Option(help="A logged loss (its final value), e.g. test.")],
    where: Annotated[list[str] | None, typer.Option(help="KEY=VALUE for every other swept key but seed.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Image to write (.png, .svg or .pdf; "
                                                "default DIR/heatmap-VALUE-X-Y.png).")] = None,
) -> None:
    """Heat map of the mean over seeds of one final value, over two swept settings."""
    from pinnviz.sweep import sweep_report
    from pinnviz.visualizer import save_figure
    from pinnviz.visualizer._export import figure_format

    path = output or out_dir / f"heatmap-{value}-{x}-{y}.png"
    figure_format(path)
    report = sweep_report(out_dir, x, y, value, _where(where))
    from rich.table import Table

    from pinnviz.sweep._spec import format_value

    table = Table(title=f"mean {value} over seeds ({y} down, {x} across)")
    table.add_column(f"{y} \\ {x}")
    for v in report.x_values:
        table.add_column(format_value(v), justify="right")
    for i, v in enumerate(report.y_values):
        cells = [f"{report.means[i, j]:.4g} (n={report.counts[i, j]})" if report.counts[i, j] else "none"
                 for j in range(len(report.x_values))]
        table.add_row(format_value(v), *cells)
    out.print(table)
    out.print(f"wrote {save_figure(report.figure(), path)}")
