"""The web application: the JSON API over the stores under a root, the jobs API, and the front end.

Everything a page needs is served from here: our own files in `static/` and plotly.js from the installed
`plotly` package (never a CDN). Stores are opened read-only; only job processes write to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from pinnviz.errors import PinnvizError, UnknownNameError
from pinnviz.service import _read
from pinnviz.service._figures import MEDIA_TYPES, landscape_figure_bytes, probe_figure_bytes, probe_kind
from pinnviz.service._jobs import JobError, JobManager, cli_command, subcommand_names
from pinnviz.service._scan import StoreEntry, scan_stores, store_signature
from pinnviz.service._security import Guard, allowed_hosts

STATIC = Path(__file__).parent / "static"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
SCAN_SECONDS = 2.0  # a rescan at most this often: new stores show up on the next reload
CACHE_BYTES = 256 * 2**20  # responses kept, keyed by the store's signature (so never stale)


def plotly_js() -> Path:
    """plotly.min.js as shipped inside the installed `plotly` Python package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall the 'plotly' package")
    return path


def static_files() -> dict[str, Path]:
    """The only files the server hands out, by URL name: fixed at start, so no request names a path."""
    files = {p.name: p for p in sorted(STATIC.iterdir()) if p.is_file() and p.suffix in CONTENT_TYPES}
    files["plotly.min.js"] = plotly_js()
    return files


@dataclass
class Stores:
    """The scan of the root (refreshed at most every SCAN_SECONDS) and a summary cache per store."""

    root: Path
    entries: dict[str, StoreEntry] = field(default_factory=dict)
    scanned: float = -1e9
    summaries: dict[str, tuple[tuple, dict]] = field(default_factory=dict)
    responses: OrderedDict = field(default_factory=OrderedDict)
    runs_list: tuple | None = None  # (signatures of every store, the serialized list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def all(self) -> dict[str, StoreEntry]:
        with self.lock:
            if time.monotonic() - self.scanned > SCAN_SECONDS:
                self.entries = scan_stores(self.root)
                self.scanned = time.monotonic()
            return self.entries

    def entry(self, store_id: str) -> StoreEntry:
        entries = self.all()
        if store_id not in entries:
            with self.lock:  # perhaps it appeared since the last scan
                self.scanned = -1e9
            entries = self.all()
        if store_id not in entries:
            raise UnknownNameError(f"no store with id {store_id!r} under the served folder")
        return entries[store_id]

    def run(self, store_id: str):
        return _read.open_store(self.entry(store_id).path)

    def cached(self, key: tuple, store_id: str, make) -> bytes:
        """`make()` (bytes), reused while the store's signature is unchanged; least recently used dropped."""
        signature = store_signature(self.entry(store_id).path)
        with self.lock:
            hit = self.responses.get(key)
            if hit is not None and hit[0] == signature:
                self.responses.move_to_end(key)
                return hit[1]
        body = make()
        with self.lock:
            self.responses[key] = (signature, body)
            self.responses.move_to_end(key)
            while sum(len(b) for _, b in self.responses.values()) > CACHE_BYTES and len(self.responses) > 1:
                self.responses.popitem(last=False)
        return body

    def summary(self, entry: StoreEntry) -> dict:
        signature = store_signature(entry.path)
        cached = self.summaries.get(entry.id)
        if cached is not None and cached[0] == signature:
            return cached[1]
        summary = _read.run_summary(_read.open_store(entry.path), entry.id, entry.relative)
        self.summaries[entry.id] = (signature, summary)
        return summary


def _dumps(value) -> bytes:
    return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()


def _json(value, status: int = 200) -> Response:
    body = value if isinstance(value, bytes) else _dumps(value)
    return Response(body, status_code=status, media_type="application/json", headers={"cache-control": "no-store"})


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def create_app(root: str | Path, *, token: str, host: str = "127.0.0.1", port: int = 8765, workers: int = 1):
    """The ASGI application serving `root`, guarded by `token` and the Host/Origin checks (see _security)."""
    root = Path(root).resolve()
    stores = Stores(root)
    jobs = JobManager(root, workers=workers)
    files = static_files()

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        await asyncio.to_thread(jobs.shutdown)

    api = FastAPI(title="pinnviz", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json", lifespan=lifespan)
    api.state.jobs = jobs
    api.state.stores = stores

    @api.exception_handler(PinnvizError)
    async def pinnviz_error(request: Request, exc: PinnvizError):
        status = 404 if isinstance(exc, UnknownNameError) and request.method != "POST" else 422
        return JSONResponse({"error": str(exc)}, status_code=status)

    # ------------------------------------------------------------------ front end
    def _file(name: str) -> Response:
        if name not in files:
            return Response("not found", status_code=404, media_type="text/plain")
        path = files[name]
        cache = "max-age=3600" if name == "plotly.min.js" else "no-cache"
        return Response(path.read_bytes(), media_type=CONTENT_TYPES[path.suffix], headers={"cache-control": cache})

    @api.get("/", include_in_schema=False)
    def index():
        return _file("index.html")

    @api.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        return _file(name)

    # ------------------------------------------------------------------ runs
    @api.get("/api/runs")
    def runs():
        """Every store under the root, with its trajectories, manifolds, landscapes and probes."""
        entries = list(stores.all().values())
        signature = tuple((entry.id, store_signature(entry.path)) for entry in entries)
        if stores.runs_list is not None and stores.runs_list[0] == signature:
            return _json(stores.runs_list[1])
        out = []
        for entry in entries:
            try:
                out.append(stores.summary(entry))
            except PinnvizError as exc:  # a damaged store is listed with its error, not skipped silently
                out.append({"id": entry.id, "path": entry.relative, "error": str(exc)})
        stores.runs_list = (signature, _dumps(out))
        return _json(stores.runs_list[1])

    @api.get("/api/runs/{store_id}")
    def run(store_id: str):
        return _json(stores.summary(stores.entry(store_id)))

    @api.get("/api/runs/{store_id}/trajectories/{name}")
    def trajectory(store_id: str, name: str, start: int = 0):
        """Steps, losses and weights of a trajectory from row `start` on, with its status and row count."""
        return _json(_read.trajectory_curves(stores.run(store_id), name, start))

    @api.get("/api/runs/{store_id}/manifolds/{name}")
    def manifold(store_id: str, name: str):
        return _json(_read.manifold_detail(stores.run(store_id), name))

    @api.get("/api/runs/{store_id}/landscapes/{name}")
    def landscape(store_id: str, name: str, loss: str | None = None, values: bool = True):
        """Axes, settings, diagnostics and (unless values=false) the grids as JSON, NaN as null."""
        return _json(stores.cached(("landscape", store_id, name, loss, values), store_id, lambda: _dumps(
            _read.landscape_detail(stores.run(store_id), name, loss, values=values))))

    @api.get("/api/runs/{store_id}/landscapes/{name}/grid")
    def landscape_grid(store_id: str, name: str, loss: str | None = None, field: str = "loss"):
        """One grid as little-endian float64 bytes, row i1 after row i1-1 (shape in X-Shape: R1,R0)."""
        def make() -> bytes:
            grid = _read.landscape_field(stores.run(store_id), name, field, loss)
            return f"{grid.shape[0]},{grid.shape[1]}\n".encode() + np.ascontiguousarray(grid, dtype="<f8").tobytes()

        shape, _, data = stores.cached(("grid", store_id, name, field, loss), store_id, make).partition(b"\n")
        return Response(data, media_type="application/octet-stream",
                        headers={"x-shape": shape.decode(), "cache-control": "no-store"})

    @api.get("/api/runs/{store_id}/landscapes/{name}/grid.csv")
    def landscape_csv(store_id: str, name: str, loss: str | None = None):
        """The grid as CSV rows: z0, z1, every loss, data distance, extrapolated (empty loss = not evaluable)."""
        run_ = stores.run(store_id)
        detail = _read.landscape_detail(run_, name, loss, values=False)
        losses = [loss] if loss else detail["losses"]
        grids = [_read.landscape_field(run_, name, "loss", n) for n in losses]
        distance = _read.landscape_field(run_, name, "data_distance")
        extrapolated = _read.landscape_field(run_, name, "extrapolated")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["z0", "z1", *losses, "data_distance", "extrapolated"])
        for i1, z1 in enumerate(detail["axis_1"]):
            for i0, z0 in enumerate(detail["axis_0"]):
                cells = ["" if not np.isfinite(g[i1, i0]) else repr(float(g[i1, i0])) for g in grids]
                writer.writerow([repr(z0), repr(z1), *cells, repr(float(distance[i1, i0])),
                                 int(extrapolated[i1, i0])])
        return Response(buffer.getvalue(), media_type="text/csv",
                        headers={"content-disposition": f'attachment; filename="{name}.csv"'})

    @api.get("/api/runs/{store_id}/landscapes/{name}/figure.{image_format}")
    def landscape_publication(store_id: str, name: str, image_format: str, loss: str | None = None,
                              diagnostics: bool = True):
        """The publication figure (`pinnviz render`'s) as PNG, SVG or PDF."""
        data = landscape_figure_bytes(stores.run(store_id), name, _names(loss), image_format, diagnostics)
        return Response(data, media_type=MEDIA_TYPES[image_format],
                        headers={"content-disposition": f'inline; filename="{name}.{image_format}"'})

    @api.get("/api/runs/{store_id}/metrics")
    def metrics(store_id: str, landscapes: str | None = None):
        """e_proj and e_relative per (landscape, trajectory), as the compare command tabulates them."""
        from pinnviz.landscape import load_landscape
        from pinnviz.workflows import metrics_rows

        run_ = stores.run(store_id)
        names = _names(landscapes) or [entry["name"] for entry in stores.summary(stores.entry(store_id))["landscapes"]]
        for n in names:
            _read.landscape_group(run_, n)  # unknown names fail, listing the stored ones
        datas = {n: load_landscape(run_.group, n) for n in names}
        losses = sorted({loss for d in datas.values() for loss in d.attrs.get("losses", [])})
        rows = metrics_rows(datas, losses)
        labels = [label for label, data in datas.items() for _ in data.trajectories]  # metrics_rows' order
        for row, label in zip(rows, labels, strict=True):
            row["landscape"] = label
        return _json({"losses": losses, "rows": _read.jsonable(rows)})

    @api.get("/api/runs/{store_id}/probes/{name}")
    def probe(store_id: str, name: str):
        detail = _read.probe_detail(stores.run(store_id), name)
        detail["kind"] = probe_kind(name, detail["attrs"])
        return _json(detail)

    @api.get("/api/runs/{store_id}/probes/{name}/figure.{image_format}")
    def probe_publication(store_id: str, name: str, image_format: str):
        data = probe_figure_bytes(stores.run(store_id), name, image_format)
        return Response(data, media_type=MEDIA_TYPES[image_format])

    # ------------------------------------------------------------------ jobs
    @api.get("/api/job-options/{kind}")
    def job_options(kind: str, probe: str | None = None):
        """The CLI options of a job kind (flag, help, default), for the pages' forms."""
        from pinnviz.service._jobs import KINDS

        if kind not in KINDS:
            raise UnknownNameError(f"unknown job kind {kind!r}; valid: {', '.join(KINDS)}")
        path = KINDS[kind] + ((probe,) if kind == "probe" and probe else ())
        command = cli_command(path)
        if kind == "probe" and not probe:
            return _json({"probes": subcommand_names(command)})
        options = []
        for p in command.params:
            if hasattr(p, "is_flag") and p.name != "help":
                default = p.default if isinstance(p.default, str | int | float | bool | type(None)) else str(p.default)
                options.append({"flag": p.opts[0].lstrip("-") if p.opts[0].startswith("--") else p.opts[-1][2:],
                                "help": p.help, "default": default, "switch": bool(p.is_flag)})
        return _json({"kind": kind, "probe": probe, "help": (command.help or "").strip(), "options": options})

    @api.get("/api/jobs")
    def list_jobs():
        return _json([j.as_dict() for j in jobs.list()])

    @api.post("/api/jobs", status_code=201)
    def submit_job(payload: dict = Body(...)):
        """{run, kind: fit-manifold|landscape|compare|probe, options: {flag: value}, probe?} -> the job."""
        unknown = set(payload) - {"run", "kind", "options", "probe"}
        if unknown:
            raise JobError(f"unknown field(s) {', '.join(sorted(unknown))}; valid: run, kind, options, probe")
        if not isinstance(payload.get("options", {}), dict):
            raise JobError("'options' must be an object of CLI flags and values")
        entry = stores.entry(str(payload.get("run")))
        job = jobs.submit(entry, str(payload.get("kind")), payload.get("options", {}), payload.get("probe"))
        return _json(job.as_dict(), status=201)

    @api.get("/api/jobs/{job_id}")
    def get_job(job_id: str):
        return _json(jobs.get(job_id).as_dict())

    @api.delete("/api/jobs/{job_id}")
    def cancel_job(job_id: str):
        return _json(jobs.cancel(job_id).as_dict())

    @api.get("/api/jobs/{job_id}/events")
    async def job_events(job_id: str, request: Request):
        """Server-sent events: the job as JSON on every change, until it finishes."""
        job = jobs.get(job_id)

        async def stream():
            version = -1
            while True:
                current = await asyncio.to_thread(jobs.wait_for_change, job.id, version, 1.0)
                if current.version != version:
                    version = current.version
                    yield f"event: job\ndata: {json.dumps(current.as_dict(), allow_nan=False)}\n\n"
                    if current.status in ("completed", "failed", "cancelled", "interrupted"):
                        return
                else:
                    yield ": keep-alive\n\n"
                if await request.is_disconnected():
                    return

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-store"})

    return Guard(api, token=token, hosts=allowed_hosts(host, port))
