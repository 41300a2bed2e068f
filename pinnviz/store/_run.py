"""A run store: one Zarr v3 group per run, schema 1 (see docs/architecture.md)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr
import zarr.errors

from pinnviz import __version__
from pinnviz.errors import (
    AlreadyExistsError,
    DamagedStoreError,
    IncompatibleRunError,
    NotARunError,
    RunNotFoundError,
    SchemaTooNewError,
    StoreAccessError,
    unknown_name,
)
from pinnviz.store._meta import SCHEMA as SCHEMA
from pinnviz.store._meta import display_status as display_status
from pinnviz.store._meta import process_alive as process_alive
from pinnviz.store._paths import writable

# zarr writes a node's zarr.json through a temporary `zarr.<hex>.partial` file beside it, renamed into place:
# a group listed meanwhile names that file among its members, and zarr warns that it is not one
TEMPORARY_FILE_WARNING = r"Object at zarr\.[0-9a-f]+\.partial is not recognized as a component"
warnings.filterwarnings("ignore", message=TEMPORARY_FILE_WARNING, category=zarr.errors.ZarrUserWarning)

Location = Path | str  # a local folder, or an fsspec URL such as "memory://run.zarr"


def store_location(path: str | os.PathLike) -> Location:
    """A local path as a `Path`; an fsspec URL ("memory://...", "s3://...") kept as its string."""
    text = os.fspath(path)
    return text if "://" in text else Path(text)


def _open_group(path: Location, mode: str) -> zarr.Group:
    try:
        return zarr.open_group(str(path), mode=mode)
    except (FileNotFoundError, zarr.errors.NodeNotFoundError):
        raise RunNotFoundError(f"no store at {path}") from None
    # zarr's own errors are ValueErrors (an array where a group should be, bad metadata), as is
    # unreadable JSON; the file system's are OSErrors
    except (ValueError, OSError) as exc:
        raise NotARunError(f"{path} is not a pinnviz store ({type(exc).__name__}: {exc})") from None


def check_schema(attrs: dict, path: Path) -> None:
    meta = attrs.get("pinnviz")
    if not isinstance(meta, dict) or "schema" not in meta:
        raise NotARunError(f"{path} is a Zarr group but not a pinnviz store (no 'pinnviz' attribute)")
    if int(meta["schema"]) > SCHEMA:
        raise SchemaTooNewError(
            f"{path} uses store schema {meta['schema']}, newer than this pinnviz ({__version__}, "
            f"schema {SCHEMA}); upgrade pinnviz to read it"
        )


@dataclass
class Trajectory:
    """One stored trajectory, cut to the rows whose write completed.

    params : (n_rows, n_params) float64 (a float32 store is widened); steps : (n_rows,) int64;
    losses : name -> (n_rows,).
    """

    name: str
    params: np.ndarray
    steps: np.ndarray
    losses: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    attrs: dict

    @property
    def status(self) -> str:
        return self.attrs.get("status", "unknown")


class Run:
    """An opened store. Use `open_run` or `create_run`.

    Attributes
    ----------
    path : Path, or the URL string of a store behind fsspec ("memory://run.zarr")
    group : zarr.Group (root)
    problem : dict, settings to rebuild the problem
    model : dict, settings to rebuild the network (with its parameter layout)
    """

    def __init__(self, path: Location, group: zarr.Group, *, overwrite: bool = False) -> None:
        self.path = path
        self.group = group
        # whether results (manifolds, landscapes, probes) of an existing name may be replaced (--force)
        self.overwrite = overwrite
        attrs = dict(group.attrs)
        check_schema(attrs, path)
        self.problem: dict = attrs.get("problem", {})
        self.model: dict = attrs.get("model", {})
        for label in ("problem", "model"):
            value = attrs.get(label)
            if not isinstance(value, dict) or (label == "problem" and not value.get("name")):
                raise NotARunError(f"{path} has no valid {label!r} attribute (damaged, or not written by "
                                   "`pinnviz train`); it cannot be read as a run")

    def check_overwrite(self, kind: str, name: str) -> None:
        """Refuse to replace `<kind>s/<name>` (kind: manifold, landscape, probe) unless `overwrite` is set."""
        key = f"{kind}s"
        if not self.overwrite and key in self.group and name in self.group[key]:
            raise AlreadyExistsError(f"{kind} {name!r} already exists in {self.path}; pass --force to replace "
                                     "it, or choose another --name")

    @property
    def writable(self) -> bool:
        return not self.group.read_only

    # ------------------------------------------------------------------ trajectories
    def trajectory_names(self) -> list[str]:
        """The stored trajectories (groups holding a `params` array); see `foreign_entries` for the rest."""
        if "trajectories" not in self.group:
            return []
        return sorted(name for name, g in self.group["trajectories"].groups() if "params" in g)

    def foreign_entries(self) -> list[str]:
        """Groups under trajectories/ that are not trajectories (e.g. left by a name with '/' in it)."""
        if "trajectories" not in self.group:
            return []
        return sorted(f"trajectories/{name}" for name, g in self.group["trajectories"].groups()
                      if "params" not in g)

    def trajectory_group(self, name: str) -> zarr.Group:
        names = self.trajectory_names()
        if name not in names:
            raise unknown_name(f"trajectory in {self.path}", name, names)
        return self.group[f"trajectories/{name}"]

    def trajectory(self, name: str, *, params: bool = True) -> Trajectory:
        """Read one trajectory: rows beyond its recorded length (a write cut short) are dropped.

        `params=False` leaves the parameter vectors unread (an empty (0, n_params) array): for
        summaries of trajectories too large to read (1,000 rows of 1 M parameters are 8 GB).
        """
        group = self.trajectory_group(name)
        attrs = dict(group.attrs)
        n = int(attrs.get("length", 0))
        losses = {k: read_rows(a, n) for k, a in group["loss"].arrays()} if "loss" in group else {}
        weights = {k: read_rows(a, n) for k, a in group["weights"].arrays()} if "weights" in group else {}
        stored = group["params"]
        vectors = (read_rows(stored, n).astype(np.float64, copy=False) if params
                   else np.zeros((0, stored.shape[1])))
        return Trajectory(name, vectors, read_rows(group["step"], n), losses, weights, attrs)

    def params_array(self, name: str) -> tuple[zarr.Array, int]:
        """The stored `params` array of a trajectory, unread, and its recorded length (rows past it are
        incomplete): for trajectories too large to read whole (`manifolds/_outofcore.py`)."""
        group = self.trajectory_group(name)
        return group["params"], int(group.attrs.get("length", 0))

    def trajectory_attrs(self, name: str) -> dict:
        return dict(self.trajectory_group(name).attrs)

    # ------------------------------------------------------------------ rebuild
    def physics(self, *, activation: str | None = None):
        """The problem, network and batched losses this store was trained with, rebuilt from attrs."""
        from pinnviz.nets import MLP
        from pinnviz.problems import PhysicsLosses, problem_from_settings

        model = dict(self.model)
        if activation is not None:
            model["activation"] = activation
        return PhysicsLosses(problem_from_settings(self.problem), MLP.from_settings(model))


def read_rows(array: zarr.Array, n: int | None = None) -> np.ndarray:
    """The first `n` rows (all with None) of a stored array; a chunk file that cannot be decoded (truncated,
    overwritten) raises DamagedStoreError naming the array instead of a codec traceback."""
    try:
        return np.asarray(array[...] if n is None else array[:n])
    except (RuntimeError, ValueError, TypeError, OSError) as exc:
        raise DamagedStoreError(f"cannot read {array.path} of the store: a chunk file is damaged "
                                f"({type(exc).__name__}: {exc}); restore the store from a copy") from None


def open_run(path: str | os.PathLike, mode: str = "r", *, overwrite: bool = False) -> Run:
    """Open an existing store; mode "r" (read) or "r+" (add to it; refused up front for a read-only folder).

    `path` is a local folder or an fsspec URL (``memory://run.zarr``, ``s3://bucket/run.zarr``).
    `overwrite` allows replacing stored manifolds, landscapes and probes of the same name (the CLI's --force).
    """
    path = store_location(path)
    if isinstance(path, Path):
        if not path.exists():
            raise RunNotFoundError(f"no store at {path}")
        if not (path / "zarr.json").exists():
            raise NotARunError(f"{path} is not a pinnviz store (no zarr.json)")
        if mode != "r" and not writable(path):
            raise StoreAccessError(f"{path} is read-only; this command writes to the store: make it writable "
                                   "or work on a copy")
    return Run(path, _open_group(path, mode), overwrite=overwrite)


def check_new_store(path: str | os.PathLike, problem: dict, model: dict) -> Run | None:
    """What `create_run` would do, checked without writing: the matching existing store (opened "r+"), or None
    for a new one whose folder can be created. Raises IncompatibleRunError or StoreAccessError."""
    path = store_location(path)
    if _exists(path):
        if isinstance(path, Path):
            if not path.is_dir():
                raise IncompatibleRunError(f"--out {path} is a file, not a Zarr store; choose another path")
            if not (path / "zarr.json").exists():
                if any(path.iterdir()):
                    raise NotARunError(f"--out {path} is a folder that is not a pinnviz store; choose another path")
                return None
        run = open_run(path, mode="r+")
        for label, have, want in (("problem", run.problem, problem), ("model", run.model, model)):
            if have != want:
                diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
                raise IncompatibleRunError(
                    f"{path} holds a different {label} ({', '.join(diff)} differ); "
                    "write to a new --out store"
                )
        return run
    if isinstance(path, Path):
        existing = path.parent
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
        if not existing.is_dir():
            raise IncompatibleRunError(f"cannot create {path}: {existing} is a file, not a folder")
        if not writable(existing):
            raise StoreAccessError(f"cannot create {path}: {existing} is read-only; choose a writable --out")
    return None


def create_run(path: str | os.PathLike, problem: dict, model: dict) -> Run:
    """Create a new store, or open an existing one whose problem and model match."""
    path = store_location(path)
    run = check_new_store(path, problem, model)
    if run is not None:
        return run
    group = zarr.open_group(str(path), mode="w" if isinstance(path, Path) and path.exists() else "w-")
    group.update_attributes(
        {"pinnviz": {"schema": SCHEMA, "version": __version__}, "problem": problem, "model": model}
    )
    group.create_group("trajectories")
    return Run(path, group)


def _exists(path: Location) -> bool:
    if isinstance(path, Path):
        return path.exists()
    try:
        zarr.open_group(path, mode="r")
    except (FileNotFoundError, zarr.errors.NodeNotFoundError):
        return False
    return True
