"""A sweep: a problem, base training settings and a grid of values, expanded into one task per configuration."""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pinnviz.errors import InvalidSettingError
from pinnviz.problems import problem_class
from pinnviz.trainers import TrainConfig, build_training
from pinnviz.trainers._job import MODEL_OPTIONS

PROBLEM_PREFIX = "set."  # forces a grid key to be a problem setting (poisson1d has a `seed` setting of its own)
REFUSED = {"seeds": "a sweep trains one seed per task; use --grid seed=0..4",
           "name": "a sweep names every trajectory by its settings"}


@dataclass
class SweepSpec:
    """What a sweep trains.

    Attributes
    ----------
    problem : registered problem name
    problem_options : problem settings shared by every task
    options : `build_training` keywords shared by every task (lr, steps, width, ...)
    grid : key -> values, in the order given; a key is a `build_training` keyword or a problem setting
        (``set.NAME`` forces the latter)
    """

    problem: str
    problem_options: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> SweepSpec:
        return cls(data["problem"], dict(data.get("problem_options", {})), dict(data.get("options", {})),
                   {k: list(v) for k, v in data.get("grid", {}).items()})


@dataclass
class Task:
    """One configuration: trained into trajectory `trajectory` of the store `store` (a name inside the sweep folder)."""

    id: str
    store: str
    trajectory: str
    values: dict[str, Any]  # the grid values of this configuration
    problem_options: dict[str, Any]
    options: dict[str, Any]


def key_kind(problem: str, key: str) -> str:
    """'problem' (a store setting: problem or network) or 'train' (a trajectory setting); raises for others."""
    settings = problem_class(problem).OPTIONS
    if key.startswith(PROBLEM_PREFIX) and key[len(PROBLEM_PREFIX):] in settings:
        return "problem"
    if key in REFUSED:
        raise InvalidSettingError(f"--grid {key}: {REFUSED[key]}")
    if key in MODEL_OPTIONS:
        return "model"
    if key in TrainConfig.__dataclass_fields__:
        return "train"
    if key in settings:
        return "problem"
    valid = sorted({*MODEL_OPTIONS, *TrainConfig.__dataclass_fields__, *settings} - set(REFUSED))
    raise InvalidSettingError(f"--grid {key}: not a training option or a {problem} setting; valid: {', '.join(valid)}")


def format_value(value: Any) -> str:
    """A value as it appears in store and trajectory names: 0.001, 10, tanh."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, list | tuple):
        text = "+".join(format_value(v) for v in value)
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9.+=-]", "-", text)


def _label(key: str) -> str:
    return key[len(PROBLEM_PREFIX):] if key.startswith(PROBLEM_PREFIX) else key


def expand(spec: SweepSpec) -> list[Task]:
    """Every configuration of the grid (the Cartesian product, first key slowest) as a task."""
    for key, values in spec.grid.items():
        if not values:
            raise InvalidSettingError(f"--grid {key} has no values")
        if len(set(map(repr, values))) != len(values):
            raise InvalidSettingError(f"--grid {key} repeats a value: {values}")
    kinds = {key: key_kind(spec.problem, key) for key in spec.grid}
    tasks = []
    for combo in itertools.product(*spec.grid.values()):
        values = dict(zip(spec.grid, combo, strict=True))
        problem_options = dict(spec.problem_options)
        options = dict(spec.options)
        for key, value in values.items():
            if kinds[key] == "problem":
                problem_options[_label(key)] = value
            else:
                options[key] = value
        store_part = "".join(f"_{_label(k)}={format_value(v)}" for k, v in values.items() if kinds[k] != "train")
        traj_values = {k: v for k, v in values.items() if kinds[k] == "train"}
        traj_values.setdefault("seed", options.get("seed", 0))
        trajectory = "_".join(f"{k}={format_value(v)}" for k, v in traj_values.items())
        store = f"{spec.problem}{store_part}.zarr"
        tasks.append(Task(f"{store[:-5]}/{trajectory}", store, trajectory, values, problem_options, options))
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise InvalidSettingError("two configurations of the grid get the same name; make the values distinct")
    return tasks


def validate(spec: SweepSpec) -> tuple[list[Task], dict[str, tuple[dict, dict]]]:
    """Expand the grid and check every configuration as `pinnviz train` would, before anything runs.

    Returns the tasks and, per store name, the (problem settings, model settings) its root records.
    """
    problem_class(spec.problem)
    tasks = expand(spec)
    stores: dict[str, tuple[dict, dict]] = {}
    for task in tasks:
        try:
            physics, _ = build_training(spec.problem, task.problem_options, **task.options)
        except InvalidSettingError as exc:
            raise InvalidSettingError(f"configuration {task.id}: {exc}") from None
        settings = (physics.problem.settings(), physics.net.settings())
        if stores.setdefault(task.store, settings) != settings:
            raise InvalidSettingError(f"configurations of store {task.store} build different problems")
    return tasks, stores


def expand_range(text: str) -> list[str]:
    """'0..4' -> ['0', '1', '2', '3', '4'] (inclusive integers); anything else -> [text]."""
    match = re.fullmatch(r"\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*", text)
    if not match:
        return [text]
    lo, hi = int(match.group(1)), int(match.group(2))
    if hi < lo:
        raise InvalidSettingError(f"range {text!r} is empty; write LOW..HIGH with LOW <= HIGH")
    return [str(v) for v in range(lo, hi + 1)]


def sweep_paths(out_dir: Path) -> dict[str, Path]:
    """Where a sweep folder keeps its files."""
    return {"json": out_dir / "sweep.json", "lock": out_dir / "sweep.lock", "csv": out_dir / "sweep.csv",
            "md": out_dir / "sweep.md", "partial": out_dir / ".partial"}
