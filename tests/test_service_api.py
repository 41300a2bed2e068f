"""`pinnviz serve`: security model and JSON API, against a real server on localhost and a real store."""

from __future__ import annotations

import http.client
import json
import os
import time
from urllib.parse import urlsplit

import numpy as np
import pytest
import zarr
from _service_server import TOKEN, make_store, serving

from pinnviz.service._jobs import JobManager
from pinnviz.store import create_run

BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    make_store(folder / "runs" / "run.zarr")
    outside = tmp_path_factory.mktemp("outside")
    create_run(outside / "secret.zarr", {"name": "poisson1d"}, {"layout": []})
    os.symlink(outside, folder / "link-out")  # a symlink out of ROOT: never listed
    os.symlink(folder / "runs", folder / "link-in")  # one inside ROOT: the same store, not listed twice
    return folder


@pytest.fixture(scope="module")
def server(root):
    with serving(root) as (base, app):
        yield base


def request(base, method, path, headers=None, body=None, host=None):
    """A raw HTTP request (the path is sent exactly as given, encoded dots included)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Host": host or parts.netloc, **(headers or {})}
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), payload


def get_json(base, path):
    status, _, payload = request(base, "GET", path, BEARER)
    assert status == 200, payload
    return json.loads(payload)


def run_id(base):
    return get_json(base, "/api/runs")[0]["id"]


# ---------------------------------------------------------------------- security
def test_no_token_is_401(server):
    for path in ("/api/runs", "/", "/static/app.js", "/static/plotly.min.js"):
        status, _, _ = request(server, "GET", path)
        assert status == 401, path
    status, _, _ = request(server, "GET", "/api/runs", {"Authorization": "Bearer wrong-token"})
    assert status == 401


def test_wrong_host_is_403(server):
    port = urlsplit(server).port
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1:1", f"localhost.evil.example:{port}"):
        status, _, _ = request(server, "GET", "/api/runs", BEARER, host=host)
        assert status == 403, host
    status, _, _ = request(server, "GET", "/api/runs", BEARER, host=f"localhost:{port}")
    assert status == 200


def test_token_is_exchanged_for_a_strict_httponly_cookie(server):
    status, headers, _ = request(server, "GET", f"/?token={TOKEN}")
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, _, body = request(server, "GET", "/api/runs", {"Cookie": cookie.split(";")[0]})
    assert status == 200 and json.loads(body)


def test_cross_origin_post_is_403(server):
    cookie = {"Cookie": f"pinnviz_token={TOKEN}"}
    job = {"run": run_id(server), "kind": "landscape", "options": {"manifold": "pca"}}
    for headers in ({**cookie, "Origin": "http://evil.example"}, cookie,  # a cookie alone: no Origin, refused
                    {**BEARER, "Origin": "http://evil.example"}):
        status, _, _ = request(server, "POST", "/api/jobs", headers, body=job)
        assert status == 403, headers
    assert get_json(server, "/api/jobs") == []  # nothing was started
    status, _, _ = request(server, "DELETE", "/api/jobs/abc", {**cookie, "Origin": "http://evil.example"})
    assert status == 403


def test_security_headers_and_no_cors(server):
    status, headers, _ = request(server, "GET", "/api/runs", {**BEARER, "Origin": "http://evil.example"})
    assert status == 200
    lower = {k.lower(): v for k, v in headers.items()}
    assert lower["content-security-policy"].startswith("default-src 'self'")
    assert "frame-ancestors 'none'" in lower["content-security-policy"]
    assert lower["x-content-type-options"] == "nosniff"
    assert lower["referrer-policy"] == "no-referrer"
    assert not any(k.startswith("access-control-") for k in lower)


@pytest.mark.parametrize("path", [
    "/static/../_app.py", "/static/%2e%2e%2f_app.py", "/static/%2E%2E%2F%2E%2E%2Fpyproject.toml",
    "/static/..%2f..%2fpyproject.toml", "/api/runs/{id}/landscapes/..", "/api/runs/{id}/landscapes/%2e%2e%2fpca",
    "/api/runs/{id}/landscapes/..%2f..%2frun.zarr", "/api/runs/..%2f..%2fetc/landscapes/pca",
    "/api/runs/{id}/probes/%2e%2e", "/api/runs/{id}/trajectories/..%2fparams",
])
def test_dotted_paths_are_404(server, path):
    status, _, body = request(server, "GET", path.replace("{id}", run_id(server)), BEARER)
    assert status == 404, body


def test_symlink_out_of_root_is_not_listed(server):
    runs = get_json(server, "/api/runs")
    assert [r["path"] for r in runs] == ["runs/run.zarr"]
    assert "secret" not in json.dumps(runs)


def test_plotly_comes_from_the_installed_package(server):
    import plotly

    status, _, body = request(server, "GET", "/static/plotly.min.js", BEARER)
    assert status == 200
    with open(os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js"), "rb") as f:
        assert body == f.read()


# ---------------------------------------------------------------------- API values
def test_runs_summary(server, root):
    (run,) = get_json(server, "/api/runs")
    assert run["problem"]["name"] == "poisson1d"
    assert [t["name"] for t in run["trajectories"]] == ["pinn-adam-seed0", "pinn-adam-seed1"]
    stored = zarr.open_group(str(root / "runs" / "run.zarr"), mode="r")
    for t in run["trajectories"]:
        length = stored[f"trajectories/{t['name']}"].attrs["length"]
        assert t["rows"] == length and t["status"] == "complete"
        assert t["final_losses"]["pinn"] == float(stored[f"trajectories/{t['name']}/loss/pinn"][length - 1])
    assert [m["name"] for m in run["manifolds"]] == ["pca"]
    assert [x["name"] for x in run["landscapes"]] == ["pca"]


def test_landscape_json_binary_and_csv_equal_the_store(server, root):
    rid = run_id(server)
    stored = zarr.open_group(str(root / "runs" / "run.zarr"), mode="r")["landscapes/pca"]
    grid = np.asarray(stored["loss/pinn"][...])
    body = get_json(server, f"/api/runs/{rid}/landscapes/pca?loss=pinn")
    assert body["shape"] == list(grid.shape)
    values = np.array([[np.nan if v is None else v for v in row] for row in body["values"]])
    np.testing.assert_array_equal(values, grid)
    np.testing.assert_array_equal(np.array(body["extrapolated"]), np.asarray(stored["extrapolated"][...]))
    diag = body["diagnostics"]["pinn-adam-seed0"]
    np.testing.assert_array_equal(diag["true_loss"]["pinn"],
                                  stored["diagnostics/pinn-adam-seed0/true_loss/pinn"][...])
    status, headers, raw = request(server, "GET", f"/api/runs/{rid}/landscapes/pca/grid?loss=pinn", BEARER)
    assert status == 200 and headers["x-shape"] == f"{grid.shape[0]},{grid.shape[1]}"
    np.testing.assert_array_equal(np.frombuffer(raw, "<f8").reshape(grid.shape), grid)
    status, _, text = request(server, "GET", f"/api/runs/{rid}/landscapes/pca/grid.csv?loss=pinn", BEARER)
    lines = text.decode().splitlines()
    assert lines[0] == "z0,z1,pinn,data_distance,extrapolated" and len(lines) == grid.size + 1
    z0, z1, value = (float(v) for v in lines[1 + 3 * grid.shape[1] + 5].split(",")[:3])
    assert (z0, z1, value) == (stored["axis_0"][5], stored["axis_1"][3], grid[3, 5])


def test_trajectory_rows_from_a_start_row(server, root):
    """A page following a training run asks only for the rows it has not seen."""
    rid = run_id(server)
    group = zarr.open_group(str(root / "runs" / "run.zarr"), mode="r")["trajectories/pinn-adam-seed0"]
    length = group.attrs["length"]
    full = get_json(server, f"/api/runs/{rid}/trajectories/pinn-adam-seed0")
    tail = get_json(server, f"/api/runs/{rid}/trajectories/pinn-adam-seed0?start=5")
    assert full["start"] == 0 and tail["start"] == 5 and tail["rows"] == full["rows"] == length
    np.testing.assert_array_equal(tail["steps"], group["step"][5:length])
    np.testing.assert_array_equal(full["steps"][:5] + tail["steps"], full["steps"])
    for loss, values in tail["losses"].items():
        np.testing.assert_array_equal(values, group[f"loss/{loss}"][5:length])
    past = get_json(server, f"/api/runs/{rid}/trajectories/pinn-adam-seed0?start={length + 3}")
    assert past["start"] == length and past["steps"] == []
    status, _, body = request(server, "GET", f"/api/runs/{rid}/trajectories/pinn-adam-seed0?start=-1", BEARER)
    assert status == 422 and "start=-1 must be >= 0" in json.loads(body)["error"]


def test_unknown_names_are_404_with_the_valid_ones(server):
    rid = run_id(server)
    status, _, body = request(server, "GET", f"/api/runs/{rid}/landscapes/umap", BEARER)
    assert status == 404 and "valid: pca" in json.loads(body)["error"]
    status, _, body = request(server, "GET", f"/api/runs/{rid}/landscapes/pca?loss=nope", BEARER)
    assert status == 404 and "drm" in json.loads(body)["error"]


def test_publication_figure(server):
    rid = run_id(server)
    status, headers, body = request(server, "GET", f"/api/runs/{rid}/landscapes/pca/figure.png?loss=pinn", BEARER)
    assert status == 200 and headers["content-type"] == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n"
    status, _, body = request(server, "GET", f"/api/runs/{rid}/landscapes/pca/figure.svg", BEARER)
    assert status == 200 and b"<svg" in body[:2000]


def test_metrics_match_the_stored_diagnostics(server, root):
    rid = run_id(server)
    body = get_json(server, f"/api/runs/{rid}/metrics?landscapes=pca")
    stored = zarr.open_group(str(root / "runs" / "run.zarr"), mode="r")["landscapes/pca/diagnostics"]
    for row in body["rows"]:
        errors = np.asarray(stored[f"{row['trajectory']}/relative_projection_error"][...])
        assert row["e_proj_mean"] == pytest.approx(float(errors.mean()), rel=1e-12)


# ---------------------------------------------------------------------- jobs
def test_a_topology_probe_of_a_changed_landscape_is_not_shown(server, root):
    from pinnviz.landscape import compute_landscape
    from pinnviz.probes.topology import topology
    from pinnviz.store import open_run

    rid = run_id(server)
    run = open_run(root / "runs" / "run.zarr", mode="r+", overwrite=True)
    compute_landscape(run, "pca", resolution=8, name="topo-src")
    topology(run, "topo-src", name="topology-src")
    detail = get_json(server, f"/api/runs/{rid}/probes/topology-src")
    assert detail["stale"] is None and detail["kind"] == "topology" and detail["probe"] == "topology"
    tree = zarr.open_group(str(root / "runs" / "run.zarr"), mode="r")["probes/topology-src"]
    np.testing.assert_array_equal(detail["arrays"]["value"]["values"], tree["value"][...])
    status, _, body = request(server, "GET", f"/api/runs/{rid}/probes/topology-src/figure.png", BEARER)
    assert status == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"
    compute_landscape(run, "pca", resolution=9, name="topo-src")  # the tree's landscape is replaced
    detail = get_json(server, f"/api/runs/{rid}/probes/topology-src")
    assert "earlier landscape 'topo-src'" in detail["stale"]
    status, _, body = request(server, "GET", f"/api/runs/{rid}/probes/topology-src/figure.png", BEARER)
    assert status == 422 and "earlier landscape" in json.loads(body)["error"]


def test_job_options_are_validated_by_the_cli_before_anything_starts(server):
    rid = run_id(server)
    cases = [({"manifold": "pca", "resolution": "many"}, "Invalid value for '--resolution'"),
             ({"manifold": "pca", "colour": "red"}, "unknown option of pinnviz landscape '--colour'"),
             ({"resolution": 8}, "Missing option '--manifold'"),
             ({"manifold": "pca", "refit": True}, "unknown option")]
    for options, message in cases:
        status, _, body = request(server, "POST", "/api/jobs", BEARER,
                                  {"run": rid, "kind": "landscape", "options": options})
        assert status == 422 and message in json.loads(body)["error"], body
    status, _, body = request(server, "POST", "/api/jobs", BEARER,
                              {"run": rid, "kind": "compare", "options": {"out": "../../elsewhere"}})
    assert status == 422 and "outside the served folder" in json.loads(body)["error"]
    status, _, body = request(server, "POST", "/api/jobs", BEARER, {"run": "../runs", "kind": "landscape"})
    assert status == 422
    assert get_json(server, "/api/jobs") == []


def wait_for(server, job_id, done=("completed", "failed", "cancelled", "interrupted"), seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = get_json(server, f"/api/jobs/{job_id}")
        if job["status"] in done:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still {job['status']} after {seconds} s: {job}")


def test_landscape_job_runs_the_cli_and_streams_progress(server, root):
    rid = run_id(server)
    status, _, body = request(server, "POST", "/api/jobs", BEARER, {
        "run": rid, "kind": "landscape", "options": {"manifold": "pca", "resolution": 10, "name": "job10",
                                                     "loss": "pinn"}})
    assert status == 201, body
    job = json.loads(body)
    assert job["argv"][:2] == ["landscape", str(root.resolve() / "runs" / "run.zarr")]
    # the event stream sends the job on every change until it finishes
    parts = urlsplit(server)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=180)
    conn.request("GET", f"/api/jobs/{job['id']}/events", headers={**BEARER, "Host": parts.netloc})
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("content-type").startswith("text/event-stream")
    events = [json.loads(line[len(b"data: "):]) for line in response.read().splitlines()
              if line.startswith(b"data: ")]
    conn.close()
    assert events[-1]["status"] == "completed", events[-1]
    assert any(e["progress"] for e in events)
    final = events[-1]
    assert final["stages"]["evaluate"] == [100, 100]  # the CLI's own progress bar, parsed
    stored = zarr.open_group(str(root / "runs" / "run.zarr"), mode="r")
    assert stored["landscapes/job10/loss/pinn"].shape == (10, 10)
    assert "job10" in [x["name"] for x in get_json(server, f"/api/runs/{rid}")["landscapes"]]


def test_failing_job_reports_the_cli_line(server):
    rid = run_id(server)
    status, _, body = request(server, "POST", "/api/jobs", BEARER, {
        "run": rid, "kind": "landscape", "options": {"manifold": "umap"}})
    job = wait_for(server, json.loads(body)["id"])
    assert job["status"] == "failed" and job["returncode"] == 2
    assert job["error"].startswith("unknown manifold") and "valid: pca" in job["error"]


def test_cancelled_job_leaves_a_valid_store(server, root):
    rid = run_id(server)
    status, _, body = request(server, "POST", "/api/jobs", BEARER, {
        "run": rid, "kind": "landscape", "options": {"manifold": "pca", "resolution": 400, "name": "big"}})
    job_id = json.loads(body)["id"]
    wait_for(server, job_id, done=("running",), seconds=60)
    status, _, _ = request(server, "DELETE", f"/api/jobs/{job_id}", BEARER)
    assert status == 200
    job = wait_for(server, job_id)
    assert job["status"] == "cancelled"
    runs = get_json(server, "/api/runs")
    assert "error" not in runs[0]
    assert get_json(server, f"/api/runs/{rid}/landscapes/pca?values=false")["shape"] == [24, 24]


def test_jobs_running_at_a_restart_are_interrupted(tmp_path):
    state = tmp_path / ".pinnviz-serve" / "jobs"
    state.mkdir(parents=True)
    base = {"run": "x", "store": "run.zarr", "kind": "landscape", "probe": None, "options": {}, "argv": []}
    (state / "a.json").write_text(json.dumps({**base, "id": "a", "status": "running", "started": 1.0}))
    (state / "b.json").write_text(json.dumps({**base, "id": "b", "status": "completed"}))
    manager = JobManager(tmp_path)
    try:
        assert manager.get("a").status == "interrupted"
        assert "server stopped" in manager.get("a").error
        assert manager.get("b").status == "completed"
        assert json.loads((state / "a.json").read_text())["status"] == "interrupted"
    finally:
        manager.shutdown()


# ---------------------------------------------------------------------- the command
@pytest.mark.parametrize("args,message", [
    (["/no/such/folder"], "is not a folder"),
    ([".", "--workers", "0"], "workers=0 must be >= 1"),
    ([".", "--token", "short"], "at least 8 characters"),
    ([".", "--port", "70000"], "port=70000 must be between 1 and 65535"),
])
def test_serve_refuses_bad_options_in_one_line(args, message):
    from typer.testing import CliRunner

    from pinnviz.cli import app

    result = CliRunner().invoke(app, ["serve", *args, "--no-browser"])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_serve_refuses_a_port_in_use(tmp_path):
    import socket

    from typer.testing import CliRunner

    from pinnviz.cli import app

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", str(tmp_path), "--port", str(port), "--no-browser"])
    assert result.exit_code == 2 and "choose another --port" in result.stderr
