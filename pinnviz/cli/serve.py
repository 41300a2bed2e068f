"""`pinnviz serve`: a local web server over every store under a folder."""

from __future__ import annotations

import socket
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from pinnviz.cli._common import err, friendly_errors, out
from pinnviz.errors import InvalidSettingError, RunNotFoundError

LOCAL = {"127.0.0.1", "localhost", "::1"}


def _check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise InvalidSettingError(f"port={port} must be between 1 and 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidSettingError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") \
                from None


@friendly_errors
def serve_command(
    root: Annotated[Path, typer.Argument(help="Folder to serve: every pinnviz store under it (default: here).")] =
    Path("."),
    host: Annotated[str, typer.Option(help="Address to bind. Anything but localhost exposes your data: "
                                           "the token is then all that protects it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    token: Annotated[str | None, typer.Option(help="Access token (default: a new random one per start).")] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open a browser.")] = False,
    workers: Annotated[int, typer.Option(help="Jobs that run at the same time.")] = 1,
) -> None:
    """Browse the stores under ROOT in a browser: runs, landscapes, comparisons, probes, jobs."""
    import uvicorn

    from pinnviz.service import create_app, new_token

    if not root.is_dir():
        raise RunNotFoundError(f"{root} is not a folder")
    if workers < 1:
        raise InvalidSettingError(f"workers={workers} must be >= 1")
    if token is not None and len(token) < 8:
        raise InvalidSettingError("a --token must have at least 8 characters")
    _check_port(host, port)
    if host not in LOCAL:
        err.print(f"[bold yellow]warning:[/] listening on {host}, not only on this machine; anyone who can reach "
                  "it and has the token can read and write these stores", highlight=False)
    token = token or new_token()
    app = create_app(root, token=token, host=host, port=port, workers=workers)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/?token={token}"
    out.print(url, highlight=False, soft_wrap=True)
    if not no_browser:
        webbrowser.open(url)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
