"""Removing and renaming what a store holds (`pinnviz rm`, `pinnviz mv`), never leaving it unreadable.

What depends on what is read from the attributes the writers record: a manifold's `fitted_on`
trajectories, a landscape's `manifold` and its `diagnostics/<trajectory>` groups, a probe's
`trajectory`, `trajectories`, `manifold` and `landscape`. A group is removed by renaming its folder
out of the store (atomic on one file system) and only then deleting it, dependents first, so a store
interrupted half way is still a valid store.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from pinnviz.errors import IncompatibleRunError, InvalidSettingError, unknown_name
from pinnviz.store._names import check_name
from pinnviz.store._run import Run

KINDS = ("trajectories", "manifolds", "landscapes", "probes")
_SINGULAR = {"trajectory": "trajectories", "manifold": "manifolds", "landscape": "landscapes", "probe": "probes"}


def parse_target(text: str) -> tuple[str, str]:
    """`KIND/NAME` (KIND plural or singular: `manifold/pca`, `trajectories/drm-adam-seed0`) -> (kind, name)."""
    kind, sep, name = text.partition("/")
    kind = _SINGULAR.get(kind, kind)
    if not sep or kind not in KINDS or not name:
        raise InvalidSettingError(f"{text!r} must be KIND/NAME with KIND one of {', '.join(KINDS)} "
                                  "(e.g. manifolds/pca)")
    return kind, name


def names_of(run: Run, kind: str) -> list[str]:
    return sorted(n for n, _ in run.group[kind].groups()) if kind in run.group else []


def _attrs(run: Run, kind: str, name: str) -> dict:
    return dict(run.group[f"{kind}/{name}"].attrs)


def _listed(value) -> list:
    return list(value) if isinstance(value, list | tuple) else ([value] if value else [])


def direct_dependents(run: Run, kind: str, name: str) -> list[str]:
    """`kind/name` of everything that was computed from `kind/name` (one level)."""
    found = []
    if kind == "trajectories":
        found += [f"manifolds/{m}" for m in names_of(run, "manifolds")
                  if name in _listed(_attrs(run, "manifolds", m).get("fitted_on"))]
        found += [f"landscapes/{k}" for k in names_of(run, "landscapes")
                  if f"landscapes/{k}/diagnostics/{name}" in run.group]
    if kind == "manifolds":
        found += [f"landscapes/{k}" for k in names_of(run, "landscapes")
                  if _attrs(run, "landscapes", k).get("manifold") == name]
    keys = {"trajectories": ("trajectory", "trajectories"), "manifolds": ("manifold",),
            "landscapes": ("landscape",), "probes": ("landscape",)}.get(kind, ())
    for probe in names_of(run, "probes"):
        attrs = _attrs(run, "probes", probe)
        # a probe's `landscape` is under landscapes/, or under probes/ (a d-D landscape) where `source` says so
        if kind in ("landscapes", "probes") and (attrs.get("source") == "probes") != (kind == "probes"):
            continue
        if any(name in _listed(attrs.get(key)) for key in keys):
            found.append(f"probes/{probe}")
    return found


def dependents(run: Run, kind: str, name: str) -> list[str]:
    """Everything computed, directly or not, from `kind/name`: deepest first, so removal is safe in order."""
    order: list[str] = []

    def visit(target: str) -> None:
        for child in direct_dependents(run, *target.split("/", 1)):
            if child not in order and child != f"{kind}/{name}":
                visit(child)
                if child not in order:
                    order.append(child)

    visit(f"{kind}/{name}")
    return order


def _local_root(run: Run) -> Path:
    if not isinstance(run.path, Path):
        raise IncompatibleRunError(f"{run.path}: rm and mv work on a store in a local folder")
    if not run.writable:
        raise IncompatibleRunError(f"{run.path} is open read-only; open it with mode='r+'")
    return run.path


def _check_exists(run: Run, kind: str, name: str) -> None:
    names = names_of(run, kind)
    if name not in names:
        raise unknown_name(kind[:-1] if kind != "trajectories" else "trajectory", name, names)


def remove(run: Run, kind: str, name: str, *, force: bool = False) -> list[str]:
    """Remove `kind/name`; with `force` also everything computed from it (else refuse, naming them).

    Returns the removed `kind/name`s, dependents first.
    """
    root = _local_root(run)
    _check_exists(run, kind, name)
    below = dependents(run, kind, name)
    if below and not force:
        raise IncompatibleRunError(f"{kind}/{name} is used by {', '.join(below)}; remove those first, or pass "
                                   "--force to remove them too")
    removed = []
    for target in [*below, f"{kind}/{name}"]:
        folder = root / target
        trash = root.parent / f".{root.name}.removed-{uuid.uuid4().hex[:12]}"
        try:
            folder.rename(trash)  # one atomic step: the store no longer lists it
        except OSError as exc:
            done = f" (already removed: {', '.join(removed)})" if removed else ""
            raise IncompatibleRunError(f"cannot remove {target} from {root}: {exc.strerror}{done}") from None
        shutil.rmtree(trash, ignore_errors=True)
        removed.append(target)
    return removed


def check_new_name(name: str, kind: str = "new") -> None:
    """A name a group can take: the one check of every user-given name (`store/_names.check_name`)."""
    check_name(kind, name)


def rename(run: Run, kind: str, old: str, new: str) -> list[str]:
    """Rename `kind/old` to `kind/new`; references to a renamed manifold or landscape follow it.

    A trajectory that manifolds, landscapes or probes were computed from is not renamed (their arrays
    are keyed by its name): remove or recompute those first. Returns the references updated.
    """
    root = _local_root(run)
    _check_exists(run, kind, old)
    check_new_name(new)
    if new in names_of(run, kind):
        raise IncompatibleRunError(f"{kind}/{new} already exists; remove it first (pinnviz rm)")
    below = direct_dependents(run, kind, old)
    if kind == "trajectories" and below:
        raise IncompatibleRunError(f"trajectories/{old} is used by {', '.join(below)}; rename it before "
                                   "fitting, or remove those first (pinnviz rm --force)")
    try:
        (root / kind / old).rename(root / kind / new)
    except OSError as exc:
        raise IncompatibleRunError(f"cannot rename {kind}/{old} in {root}: {exc.strerror}") from None
    key = {"manifolds": "manifold", "landscapes": "landscape", "probes": "landscape"}.get(kind)
    for target in below:
        group = run.group[target]
        if key and group.attrs.get(key) == old:
            group.update_attributes({key: new})
    return below
