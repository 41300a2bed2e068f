"""A real `pinnviz serve` application on a free localhost port, in a thread, for the service tests."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from contextlib import contextmanager

import uvicorn

from pinnviz.service import create_app

TOKEN = "test-token-0123456789"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(root, *, workers: int = 1, token: str = TOKEN):
    """Yield (base_url, app) while a uvicorn server runs `create_app(root)` on 127.0.0.1."""
    port = free_port()
    app = create_app(root, token=token, port=port, workers=workers)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def make_store(path):
    """A real small store: two Poisson pinn seeds (60 steps), a PCA manifold, a 24x24 landscape."""
    import torch

    from pinnviz.landscape import compute_landscape
    from pinnviz.manifolds import fit_manifold
    from pinnviz.nets import MLP
    from pinnviz.problems import PhysicsLosses, Poisson1D
    from pinnviz.store import open_run
    from pinnviz.trainers import TrainConfig, train

    torch.set_num_threads(1)
    train(path, PhysicsLosses(Poisson1D(), MLP(1, 1, 8, 2)), TrainConfig(loss="pinn", steps=60, seeds=2, log_every=5))
    run = open_run(path, mode="r+")
    fit_manifold(run, "pca")
    compute_landscape(run, "pca", resolution=24)
    return path
