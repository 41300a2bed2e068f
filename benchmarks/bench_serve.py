"""`pinnviz serve` under load: concurrent localhost clients while a job runs, and a 1000x1000 draw.

Starts `python -m pinnviz serve` as its own process on a free 127.0.0.1 port over a store made here (two
Poisson pinn seeds, a PCA manifold, a 100x100 and a 1000x1000 landscape), starts a landscape job, and
while that job runs lets N client threads (bounded in count and in seconds) request the runs list and the
100x100 landscape (JSON) in turn. Prints p50/p95 latency and the error count per endpoint; then opens the
1000x1000 landscape page in headless chromium (Debian's, through Playwright) and prints its draw time.

    python benchmarks/bench_serve.py [--clients 8] [--seconds 10] [--draw-resolution 1000]

Targets on the 2-core machine: p95 under 50 ms (runs list) and 200 ms (landscape), no errors, the
1000x1000 landscape drawn in under 2 s. Timings are noisy on a shared machine; one run's numbers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
TOKEN = "bench-token-0123456789"

from _service_server import CHROMIUM_ARGS, chromium_path, free_port  # noqa: E402


def make_root(folder: Path, draw_resolution: int) -> Path:
    import torch

    from pinnviz.landscape import compute_landscape
    from pinnviz.manifolds import fit_manifold
    from pinnviz.nets import MLP
    from pinnviz.problems import PhysicsLosses, Poisson1D
    from pinnviz.store import open_run
    from pinnviz.trainers import TrainConfig, train

    torch.set_num_threads(1)
    path = folder / "run.zarr"
    train(path, PhysicsLosses(Poisson1D(), MLP(1, 1, 8, 2)), TrainConfig(loss="pinn", steps=200, seeds=2, log_every=5))
    run = open_run(path, mode="r+")
    fit_manifold(run, "pca")
    compute_landscape(run, "pca", resolution=100, losses=["pinn"])
    t0 = time.perf_counter()
    compute_landscape(run, "pca", resolution=draw_resolution, losses=["pinn"], name="big")
    print(f"store: {path} ({draw_resolution}x{draw_resolution} landscape computed in "
          f"{time.perf_counter() - t0:.1f} s)")
    return path


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {TOKEN}", "Host": f"127.0.0.1:{port}"}

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()


def load(port: int, paths: dict[str, str], clients: int, seconds: float):
    """`clients` threads, each with one keep-alive connection, cycling through `paths` for `seconds`."""
    samples = {label: [] for label in paths}
    errors = {label: 0 for label in paths}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(offset: int) -> None:
        client = Client(port)
        labels = list(paths)
        i = offset
        while time.monotonic() < stop:
            label = labels[i % len(labels)]
            i += 1
            t0 = time.perf_counter()
            try:
                status, _ = client.call("GET", paths[label])
                ok = status == 200
            except OSError:
                ok = False
                client = Client(port)
            elapsed = time.perf_counter() - t0
            with lock:
                samples[label].append(elapsed)
                errors[label] += 0 if ok else 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples, errors


def draw_time(port: int, run_id: str) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/?token={TOKEN}")
        page.wait_for_selector(".run")
        times = []
        for _ in range(2):  # the first open reads the grids from the store, the second from the server's cache
            page.goto(f"{base}/#/")
            page.wait_for_selector(".run")
            t0 = time.perf_counter()
            page.goto(f"{base}/#/landscape/{run_id}/big")
            page.wait_for_selector("#landscape-plot[data-draw-ms]", timeout=120_000)
            times.append((float(page.get_attribute("#landscape-plot", "data-draw-ms")) / 1000,
                          time.perf_counter() - t0))
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--draw-resolution", type=int, default=1000)
    parser.add_argument("--keep", type=Path, default=None,
                        help="Folder for the store, reused when it already holds one (the 1000x1000 landscape "
                             "takes minutes on 2 cores); default a temporary folder, removed after")
    args = parser.parse_args()
    if not (1 <= args.clients <= 64 and 0 < args.seconds <= 120):
        parser.error("--clients must be 1..64 and --seconds 0..120")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="pinnviz-bench-serve-"))
    server = None
    try:
        if not (folder / "run.zarr").exists():
            folder.mkdir(parents=True, exist_ok=True)
            make_root(folder, args.draw_resolution)
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen([sys.executable, "-m", "pinnviz", "serve", str(folder), "--no-browser", "--port",
                                   str(port), "--token", TOKEN], env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while True:
            try:
                status, body = Client(port).call("GET", "/api/runs")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.3)
        run_id = json.loads(body)[0]["id"]
        client = Client(port)
        status, body = client.call("POST", "/api/jobs", {"run": run_id, "kind": "landscape", "options": {
            "manifold": "pca", "resolution": 300, "name": "bench-job", "loss": "pinn"}})
        job_id = json.loads(body)["id"]
        while json.loads(client.call("GET", f"/api/jobs/{job_id}")[1])["status"] == "queued":
            time.sleep(0.2)
        paths = {"runs list": "/api/runs", "landscape 100x100 (JSON)": f"/api/runs/{run_id}/landscapes/pca?loss=pinn"}
        samples, errors = load(port, paths, args.clients, args.seconds)
        client = Client(port)  # the first one idled past the keep-alive timeout
        job = json.loads(client.call("GET", f"/api/jobs/{job_id}")[1])
        print(f"{args.clients} clients for {args.seconds:g} s while a landscape job ran "
              f"(job status at the end: {job['status']}, progress {job['progress']})")
        for label, times in samples.items():
            ms = np.asarray(times) * 1000
            print(f"  {label:28s} {len(ms):6d} requests  p50 {np.percentile(ms, 50):7.1f} ms  "
                  f"p95 {np.percentile(ms, 95):7.1f} ms  errors {errors[label]}")
        client.call("DELETE", f"/api/jobs/{job_id}")
        while json.loads(client.call("GET", f"/api/jobs/{job_id}")[1])["status"] in ("queued", "running"):
            time.sleep(0.2)  # the draw is timed on its own, not beside the cancelled job's last seconds
        if chromium_path() is None:
            print("chromium not installed: draw time not measured")
        else:
            for label, (draw, total) in zip(("first open", "again"), draw_time(port, run_id), strict=True):
                print(f"{args.draw_resolution}x{args.draw_resolution} landscape in headless chromium, {label}: "
                      f"plotly draw {draw:.2f} s, page open to drawn (fetch 3 grids + draw) {total:.2f} s")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
