"""The `pinnviz` command line: thin typer commands over the library."""

from __future__ import annotations

from typing import Annotated

import typer

import pinnviz.cli.probe_ntk  # noqa: F401
import pinnviz.cli.probe_topology  # noqa: F401
import pinnviz.cli.probes_a  # noqa: F401
import pinnviz.cli.probes_b  # noqa: F401
from pinnviz.cli.fit_manifold import fit_manifold_command
from pinnviz.cli.info import info_command
from pinnviz.cli.landscape import compare_command, demo_command, landscape_command
from pinnviz.cli.probe import probe_app
from pinnviz.cli.render import render_command
from pinnviz.cli.serve import serve_command
from pinnviz.cli.train import train_command

app = typer.Typer(
    name="pinnviz",
    help="Loss landscapes of physics-informed networks, with honest projection diagnostics.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


@app.callback()
def global_options(
    threads: Annotated[int | None, typer.Option(
        help="CPU threads for torch (default: torch's). On a busy machine 1 can be faster than 2.")] = None,
) -> None:
    """Loss landscapes of physics-informed networks, with honest projection diagnostics."""
    if threads is not None:
        if threads < 1:
            raise typer.BadParameter(f"threads={threads} must be >= 1", param_hint="'--threads'")
        import torch

        torch.set_num_threads(threads)


app.command("train")(train_command)
app.command("info")(info_command)
app.command("fit-manifold")(fit_manifold_command)
app.command("render")(render_command)
app.command("landscape")(landscape_command)
app.command("compare")(compare_command)
app.command("demo")(demo_command)
app.command("serve")(serve_command)
app.add_typer(probe_app, name="probe")


def main() -> None:
    app()


__all__ = ["app", "main"]
