"""`pinnviz rm` and `pinnviz mv`: remove or rename a trajectory, manifold, landscape or probe of a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pinnviz.cli._common import friendly_errors, out
from pinnviz.store import open_run
from pinnviz.store._manage import parse_target, remove, rename

Store = Annotated[Path, typer.Argument(help="A pinnviz store (run.zarr).")]


@friendly_errors
def rm_command(
    store: Store,
    target: Annotated[str, typer.Argument(help="KIND/NAME: trajectories/NAME, manifolds/NAME, landscapes/NAME "
                                               "or probes/NAME.")],
    force: Annotated[bool, typer.Option("--force", help="Also remove everything computed from it.")] = False,
) -> None:
    """Remove a trajectory, manifold, landscape or probe; refused while others depend on it, unless --force."""
    kind, name = parse_target(target)
    for removed in remove(open_run(store, mode="r+"), kind, name, force=force):
        out.print(f"removed {removed}", highlight=False)


@friendly_errors
def mv_command(
    store: Store,
    target: Annotated[str, typer.Argument(help="KIND/OLD, e.g. manifolds/pca.")],
    new: Annotated[str, typer.Argument(help="The new name (same kind).")],
) -> None:
    """Rename a trajectory, manifold, landscape or probe; landscapes and probes follow a renamed source."""
    kind, old = parse_target(target)
    updated = rename(open_run(store, mode="r+"), kind, old, new)
    out.print(f"renamed {kind}/{old} to {kind}/{new}" + (f"; updated {', '.join(updated)}" if updated else ""),
              highlight=False)
