"""Finding the pinnviz stores under the served root, and addressing them by id only.

The scan is bounded (depth and folders visited), skips hidden folders, and follows a symbolic link only
when its target resolves inside the root, so nothing outside the root is ever listed or opened. A store's
id is a hash of its path relative to the root: stable across rescans and restarts (jobs refer to it),
and the only way a request can name a store.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

MAX_DEPTH = 6
MAX_FOLDERS = 20_000


@dataclass(frozen=True)
class StoreEntry:
    """One store found by the scan: `id` for requests, `path` resolved (inside root), `relative` for people."""

    id: str
    path: Path
    relative: str


def store_id(relative: str) -> str:
    return hashlib.sha256(relative.encode()).hexdigest()[:12]


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every link resolved, lies in `root` (itself resolved)."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a broken or looping link
        return False


def is_pinnviz_store(folder: Path) -> bool:
    """A Zarr group whose attributes carry the `pinnviz` schema marker (read from zarr.json only)."""
    meta = folder / "zarr.json"
    try:
        if meta.stat().st_size > 1_000_000:
            return False
        attrs = json.loads(meta.read_text()).get("attributes", {})
    except (OSError, ValueError):
        return False
    return isinstance(attrs, dict) and isinstance(attrs.get("pinnviz"), dict)


def scan_stores(root: Path) -> dict[str, StoreEntry]:
    """Every pinnviz store under `root` (resolved), by id; never descends into a store or out of root."""
    root = root.resolve()
    found: dict[str, StoreEntry] = {}
    seen: set[Path] = set()
    stack: list[tuple[Path, int]] = [(root, 0)]
    visited = 0
    while stack and visited < MAX_FOLDERS:
        folder, depth = stack.pop()
        real = folder.resolve()
        if real in seen or not real.is_relative_to(root):
            continue
        seen.add(real)
        visited += 1
        if is_pinnviz_store(folder):
            relative = real.relative_to(root).as_posix() or "."
            found[store_id(relative)] = StoreEntry(store_id(relative), real, relative)
            continue
        if depth >= MAX_DEPTH:
            continue
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                continue
            if is_dir and (not entry.is_symlink() or inside(Path(entry.path), root)):
                stack.append((Path(entry.path), depth + 1))
    return dict(sorted(found.items(), key=lambda item: item[1].relative))


def store_signature(path: Path) -> tuple:
    """Modification times that change whenever a store gains or updates a trajectory, manifold, landscape
    or probe (their zarr.json files and the folders holding them): the cache key of its summary."""
    stamps = []
    for sub in ("", "trajectories", "manifolds", "landscapes", "probes"):
        folder = path / sub if sub else path
        try:
            stamps.append(folder.stat().st_mtime_ns)
            stamps.append((folder / "zarr.json").stat().st_mtime_ns)
        except OSError:
            stamps.append(None)
            continue
        if sub:
            try:
                children = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for child in children:
                if child.is_dir(follow_symlinks=False):
                    try:
                        stamps.append((child.name, os.stat(os.path.join(child.path, "zarr.json")).st_mtime_ns))
                    except OSError:
                        stamps.append((child.name, None))
    return tuple(stamps)
