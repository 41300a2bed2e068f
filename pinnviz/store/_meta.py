"""A local store's metadata read from the JSON files Zarr v3 writes, without importing zarr.

`pinnviz info` needs only metadata: importing zarr alone takes longer than the rest of the command
(about 0.4 s of the 1 s budget). The trajectory writer records each trajectory's last row in its
attributes (`last_step`, `last_losses`) with its `length`, so a summary reads no array. Anything this
reader cannot answer (a store behind fsspec, a trajectory written before those attributes existed,
unreadable metadata) is left to the zarr reader (`store/_run.py`), which also gives the errors.
"""

from __future__ import annotations

import json
import math
import os
import socket
from pathlib import Path

META = "zarr.json"
SCHEMA = 1  # of the store layout (docs/architecture.md); a newer one is refused


def _node(path: Path) -> dict | None:
    """The parsed zarr.json of a node, or None when there is none."""
    try:
        text = (path / META).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    node = json.loads(text)
    return node if isinstance(node, dict) else None


class LocalMeta:
    """Groups and attributes of a local Zarr v3 store, read as JSON (read-only).

    Raises OSError or ValueError on a file it cannot read or parse: callers fall back to zarr.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def attrs(self, rel: str = "") -> dict:
        node = _node(self.root / rel)
        if node is None or node.get("node_type") != "group":
            raise ValueError(f"{rel or '/'} is not a group")
        return dict(node.get("attributes") or {})

    def has(self, rel: str) -> bool:
        return (self.root / rel / META).is_file()

    def groups(self, rel: str) -> list[str]:
        """Names of the child groups of `rel` (sorted); [] when `rel` is not a group."""
        folder = self.root / rel
        if not self.has(rel):
            return []
        names = []
        for entry in sorted(os.listdir(folder)):
            node = _node(folder / entry) if (folder / entry).is_dir() else None
            if node is not None and node.get("node_type") == "group":
                names.append(entry)
        return names


def last_row_attrs(step: int, losses: dict[str, float]) -> dict:
    """The attributes that record a trajectory's last row (JSON: a non-finite loss is stored as None)."""
    return {"last_step": int(step),
            "last_losses": {k: (float(v) if math.isfinite(v) else None) for k, v in losses.items()}}


def last_losses(attrs: dict) -> dict[str, float]:
    """The recorded last row's losses (None read back as NaN)."""
    return {k: (math.nan if v is None else float(v)) for k, v in (attrs.get("last_losses") or {}).items()}


def process_alive(attrs: dict) -> bool | None:
    """Whether the process that writes a trajectory still runs (None when it cannot be told)."""
    pid, host = attrs.get("pid"), attrs.get("host")
    if pid is None or host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def display_status(attrs: dict) -> str:
    """Status for people: a 'running' trajectory whose writer is gone is 'interrupted'."""
    status = attrs.get("status", "unknown")
    if status == "running" and process_alive(attrs) is False:
        return "interrupted"
    return status
