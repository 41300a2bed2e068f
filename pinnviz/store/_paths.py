"""Checks that an output path can be written, made before any work (never creating anything)."""

from __future__ import annotations

import os
from pathlib import Path

from pinnviz.errors import InvalidSettingError, StoreAccessError


def writable(path: Path, *, directory: bool = True) -> bool:
    """Whether this process (its effective user) may write `path` (and enter it, for a folder)."""
    mode = os.W_OK | (os.X_OK if directory else 0)
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def writable_file(path: Path, what: str = "output") -> Path:
    """Check, before any work, that `path` can be written as a file (its folder exists or can be made, is
    writable, and `path` is not a folder)."""
    path = Path(path)
    if path.is_dir():
        raise InvalidSettingError(f"{what} {path} is a folder; give a file name such as {path / 'figure.png'}")
    writable_folder(path.parent, what)
    if path.exists() and not writable(path, directory=False):
        raise StoreAccessError(f"{what} {path} is read-only; choose another path or fix its permissions")
    return path


def writable_folder(path: Path, what: str = "output folder") -> Path:
    """Check that `path` is (or can be created as) a writable folder, without creating it."""
    path = Path(path)
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidSettingError(f"{what} {path}: {existing} is a file, not a folder")
    if not writable(existing):
        raise StoreAccessError(f"{what} {path}: {existing} is read-only; choose a writable path or fix its "
                               "permissions")
    return path
