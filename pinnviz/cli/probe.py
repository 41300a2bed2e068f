"""`pinnviz probe NAME run.zarr ...`: the sub-app every probe command registers on."""

from __future__ import annotations

import typer

probe_app = typer.Typer(help="The paper's loss-landscape analyses (Rowan et al. 2024, section 2).",
                        no_args_is_help=True)
