"""`pinnviz probe NAME run.zarr ...`: the sub-app every probe command registers on.

Its commands are listed in `pinnviz.cli.PROBE_COMMANDS` and imported only when one runs.
"""

from __future__ import annotations

import typer

from pinnviz.cli import PROBE_COMMANDS
from pinnviz.cli._lazy import lazy_group

probe_app = typer.Typer(cls=lazy_group(PROBE_COMMANDS),
                        help="The paper's loss-landscape analyses (Rowan et al. 2024, section 2).",
                        no_args_is_help=True)
