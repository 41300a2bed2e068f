"""`pinnviz serve` in a real browser: Debian's chromium driven by Playwright (through executable_path; no
downloaded browser), on a store made by the tests. Every request the pages make is recorded, and any that is
not to the test server is blocked and fails the test."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import zarr
from _service_server import CHROMIUM_ARGS, TOKEN, chromium_path, make_store, serving

playwright_api = pytest.importorskip("playwright.sync_api")

if chromium_path() is None:
    if os.environ.get("CI"):
        raise RuntimeError("chromium is missing in CI: .ci/run installs it with apt-get")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

# count the job events each page receives from the server-sent event stream
COUNT_EVENTS = """
window.__jobEvents = [];
const NativeEventSource = window.EventSource;
window.EventSource = class extends NativeEventSource {
  constructor(url) { super(url); this.addEventListener("job", (e) => window.__jobEvents.push(JSON.parse(e.data))); }
};
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    make_store(folder / "run.zarr")
    from pinnviz.landscape import compute_landscape
    from pinnviz.store import open_run

    run = open_run(folder / "run.zarr", mode="r+")
    # a second landscape of the same manifold for the compare page, so those tests need no job to have run
    compute_landscape(run, "pca", resolution=10, name="pca-coarse")
    # a grid that reaches where the loss overflows float32 (it grows like |z|^2 through the boundary term and
    # passes 3.4e38 near |z| = 1.8e19): its outer cells are NaN, as the landscape code stores what it cannot evaluate
    compute_landscape(run, "pca", resolution=16, margin=1e19, dtype="float32", name="pca-far")
    from pinnviz.probes.direction_landscape import direction_landscape
    from pinnviz.probes.hessian_landscape import hessian_landscape
    from pinnviz.probes.topology import topology

    hessian_landscape(run, "pinn-adam-seed0", dims=3, resolution=9, name="hessian-3d")
    direction_landscape(run, "pinn-adam-seed1", dims=2, directions="random", resolution=7, name="random-2d")
    topology(run, "pca", name="topology-pca")
    return folder


@pytest.fixture(scope="module")
def browser_page(root):
    with serving(root) as (base, _app), playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        local = urlsplit(base).netloc
        outside, problems = [], []

        def only_local(route):
            if urlsplit(route.request.url).netloc == local:
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        context.add_init_script(COUNT_EVENTS)
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{base}/?token={TOKEN}")
        yield page, base, outside, problems
        assert outside == [], f"requests left the machine: {outside}"
        assert problems == [], f"errors in the page: {problems}"
        browser.close()


def stored(root):
    return zarr.open_group(str(root / "run.zarr"), mode="r")


def run_id(page, path="run.zarr"):
    page.goto(page.url.split("#")[0] + "#/")
    page.wait_for_selector(f".run[data-path='{path}']")
    return page.get_attribute(f".run[data-path='{path}']", "data-run")


def open_landscape(page, name="pca", loss="pinn"):
    rid = run_id(page)
    page.goto(page.url.split("#")[0] + f"#/landscape/{rid}/{name}?loss={loss}")
    page.wait_for_selector("#landscape-plot[data-draw-ms]")
    page.wait_for_selector("#step-readout [data-field=true_loss]")
    return rid


def test_runs_page_lists_the_store(browser_page, root):
    page, _, _, _ = browser_page
    run_id(page)
    card = page.locator(".run[data-path='run.zarr']")
    text = card.inner_text()
    assert "pinn-adam-seed0" in text and "pinn-adam-seed1" in text and "poisson1d" in text
    rows = stored(root)["trajectories/pinn-adam-seed0"].attrs["length"]
    row = page.locator("tr[data-trajectory='pinn-adam-seed0']").inner_text()
    assert re.search(rf"\b{rows}\b", row)


def test_landscape_draws(browser_page):
    from PIL import Image

    page, _, _, _ = browser_page
    open_landscape(page)
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#landscape-plot").screenshot())).convert("RGB"))
    colours = len(np.unique(shot.reshape(-1, 3), axis=0))
    assert shot.std() > 20 and colours > 200, f"blank-looking plot: std {shot.std():.1f}, {colours} colours"


def pixel_colour(page, x, y, half=4):
    """The median colour of a small square of the page around (x, y) (contour lines are thin)."""
    from PIL import Image

    shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(float)
    x, y = round(x), round(y)
    return np.median(shot[y - half:y + half + 1, x - half:x + half + 1].reshape(-1, 3), axis=0)


def assert_drawn(locator, colours=100):
    from PIL import Image

    shot = np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"))
    found = len(np.unique(shot.reshape(-1, 3), axis=0))
    assert shot.std() > 20 and found > colours, f"blank-looking plot: std {shot.std():.1f}, {found} colours"


def cell_pixel(page, z0, z1):
    return page.evaluate("""([x, y]) => {
        const gd = document.getElementById('landscape-plot'), L = gd._fullLayout, box = gd.getBoundingClientRect();
        return [box.left + L.xaxis._offset + L.xaxis.l2p(x), box.top + L.yaxis._offset + L.yaxis.l2p(y)];
    }""", [z0, z1])


@pytest.mark.parametrize("i0,i1", [(5, 7), (20, 3), (12, 12)])
def test_hover_shows_the_stored_grid_value(browser_page, root, i0, i1):
    page, _, _, _ = browser_page
    open_landscape(page)
    group = stored(root)["landscapes/pca"]
    axis_0, axis_1 = group["axis_0"][...], group["axis_1"][...]
    x, y = cell_pixel(page, float(axis_0[i0]), float(axis_1[i1]))
    page.mouse.move(x, y)
    page.wait_for_selector(f"#hover-readout[data-i0='{i0}'][data-i1='{i1}']", timeout=5000)
    shown = page.locator("#hover-readout [data-field=loss]").inner_text()
    want = float(group["loss/pinn"][i1, i0])
    assert float(shown) == pytest.approx(want, rel=1e-5), (shown, want)
    extrapolated = page.locator("#hover-readout [data-field=extrapolated]").inner_text()
    assert extrapolated.startswith("yes" if group["extrapolated"][i1, i0] else "no")
    distance = float(page.locator("#hover-readout [data-field=data_distance]").inner_text())
    assert distance == pytest.approx(float(group["data_distance"][i1, i0]), rel=1e-5)


@pytest.mark.parametrize("k", [0, 4, 12])
def test_slider_reads_out_the_stored_diagnostics(browser_page, root, k):
    page, _, _, _ = browser_page
    open_landscape(page)
    trajectory = page.locator("#trajectory-select").input_value()
    page.eval_on_selector("#step-slider", "(e, k) => { e.value = k; e.dispatchEvent(new Event('input')); }", k)
    page.wait_for_selector(f"#step-readout[data-index='{k}']")
    diag = stored(root)[f"landscapes/pca/diagnostics/{trajectory}"]
    read = lambda field: page.locator(f"#step-readout [data-field={field}]").inner_text()  # noqa: E731
    assert int(read("step")) == int(diag["steps"][k])
    for field, array in [("true_loss", "true_loss/pinn"), ("loss_at_projection", "loss_at_projection/pinn"),
                         ("relative_loss_error", "relative_loss_error/pinn"), ("projection_error", "projection_error"),
                         ("relative_projection_error", "relative_projection_error")]:
        assert float(read(field)) == pytest.approx(float(diag[array][k]), rel=1e-5), field
    marker = page.evaluate("() => { const d = document.getElementById('landscape-plot').data.find("
                           "t => t.name === 'step marker'); return [d.x[0], d.y[0]]; }")
    np.testing.assert_allclose(marker, diag["coords"][k], rtol=1e-12)


def test_log_linear_switch(browser_page):
    page, _, _, _ = browser_page
    open_landscape(page)
    assert page.get_attribute("#landscape-plot", "data-scale") == "log"
    page.select_option("#scale-select", "linear")
    page.wait_for_selector("#landscape-plot[data-scale='linear']")


def test_landscape_job_from_the_page(browser_page, root):
    page, _, _, _ = browser_page
    rid = run_id(page)
    page.goto(page.url.split("#")[0] + f"#/run/{rid}")
    page.wait_for_selector("#job-kind")
    page.select_option("#job-kind", "landscape")
    page.wait_for_selector("#job-form[data-key=landscape] input[name=manifold]")
    page.fill("input[name=manifold]", "pca")
    page.fill("input[name=resolution]", "12")
    page.fill("input[name=name]", "from-page")
    page.fill("input[name=loss]", "pinn")
    page.click("#job-start")
    page.wait_for_selector(".job, #job-message:not(:empty)", timeout=30_000)
    assert page.inner_text("#job-message") == "", "the job was refused: " + page.inner_text("#job-message")
    page.wait_for_selector(".job:is([data-status=completed], [data-status=failed], [data-status=interrupted])",
                           timeout=300_000)
    job = page.evaluate("fetch('/api/jobs', {credentials: 'same-origin'}).then((r) => r.json())")[0]
    assert job["status"] == "completed", (job["status"], job["error"], job["log"][-10:])
    events = page.evaluate("window.__jobEvents")
    assert any(e["status"] == "running" and e["progress"] for e in events), events[:3]
    assert events[-1]["status"] == "completed" and events[-1]["stages"]["evaluate"] == [144, 144]
    page.wait_for_selector("#landscapes tr[data-landscape='from-page']")  # appears without a reload
    assert stored(root)["landscapes/from-page/loss/pinn"].shape == (12, 12)


def test_compare_and_probes_pages_draw(browser_page):
    page, _, _, _ = browser_page
    rid = run_id(page)
    page.goto(page.url.split("#")[0] + f"#/compare/{rid}?names=pca,pca-coarse&loss=pinn")
    page.wait_for_selector("#metrics tbody tr")
    assert page.locator(".compare-plot").count() == 2
    assert page.locator("#metrics tbody tr").count() == 4  # two landscapes x two trajectories


def test_probes_page_draws_hessian_landscape_and_topology(browser_page, root):
    page, _, _, _ = browser_page
    rid = run_id(page)
    page.goto(page.url.split("#")[0] + f"#/probes/{rid}")
    hessian = page.locator(".probe[data-probe='hessian-3d']")
    hessian_slice = ".probe[data-probe='hessian-3d'] .hessian-slice"
    hessian.locator(".hessian-slice .main-svg").first.wait_for()
    grid = stored(root)["probes/hessian-3d/loss/pinn"][...]  # loss[i_0, i_1, i_2]
    centre = grid.shape[2] // 2
    assert page.get_attribute(hessian_slice, "data-pick") == str(centre)
    shown = page.evaluate(f"document.querySelector(\"{hessian_slice}\").data[0].customdata")
    np.testing.assert_allclose(shown, grid[:, :, centre].T, rtol=1e-12)  # rows along v2, columns along v1
    assert_drawn(hessian.locator(".hessian-slice"))
    page.eval_on_selector(".probe[data-probe='hessian-3d'] input.slice[data-axis='2']",
                          "(e) => { e.value = 1; e.dispatchEvent(new Event('input')); }")
    page.wait_for_selector(f"{hessian_slice}[data-pick='1']")
    shown = page.evaluate(f"document.querySelector(\"{hessian_slice}\").data[0].customdata")
    np.testing.assert_allclose(shown, grid[:, :, 1].T, rtol=1e-12)
    random_slice = ".probe[data-probe='random-2d'] .hessian-slice"  # directions without eigenvalues
    page.locator(random_slice).locator(".main-svg").first.wait_for()
    shown = page.evaluate(f"document.querySelector(\"{random_slice}\").data[0].customdata")
    np.testing.assert_allclose(shown, stored(root)["probes/random-2d/loss/pinn"][...].T, rtol=1e-12)

    tree = stored(root)["probes/topology-pca"]
    birth, death = tree["birth"][...], tree["death"][...]
    topology_card = page.locator(".probe[data-probe='topology-pca']")
    diagram = topology_card.locator(".plot[data-topology=diagram]")
    diagram.locator(".main-svg").first.wait_for()
    pairs, forever = page.evaluate("""() => { const d = document.querySelector(
        ".probe[data-probe='topology-pca'] .plot[data-topology=diagram]").data;
        return [[d[1].x, d[1].y], d[2].x]; }""")
    np.testing.assert_allclose(np.array(pairs).T, np.stack([birth, death], 1)[np.isfinite(death)], rtol=1e-12)
    np.testing.assert_allclose(forever, birth[~np.isfinite(death)], rtol=1e-12)
    assert_drawn(diagram, colours=20)
    assert_drawn(topology_card.locator(".plot[data-topology=barcode]"), colours=20)
    topology_card.locator("text=render the visualizer's figure").click()
    figure = topology_card.locator("img")
    figure.wait_for()
    page.wait_for_function("(e) => e.complete && e.naturalWidth > 600", arg=figure.element_handle(), timeout=60_000)


def test_export_view_png_and_grid_csv(browser_page, root):
    page, _, _, _ = browser_page
    open_landscape(page)
    with page.expect_download() as download:
        page.click("text=view PNG")
    path = download.value.path()
    assert download.value.suggested_filename == "pca-pinn.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as download:
        page.click("#csv-link")
    lines = download.value.path().read_text().splitlines()
    grid = stored(root)["landscapes/pca/loss/pinn"][...]
    assert len(lines) == grid.size + 1 and float(lines[1].split(",")[2]) == float(grid[0, 0])


def test_compare_links_zoom_between_parameter_distance_axes(browser_page):
    page, _, _, _ = browser_page
    rid = run_id(page)
    page.goto(page.url.split("#")[0] + f"#/compare/{rid}?names=pca,pca-coarse&loss=pinn")
    page.wait_for_selector("#metrics tbody tr")
    ranges = page.evaluate("""async () => {
        const [a, b] = document.querySelectorAll('.compare-plot');
        await Plotly.relayout(a, {'xaxis.range': [-0.5, 0.5], 'yaxis.range': [-0.25, 0.25]});
        await new Promise((r) => setTimeout(r, 300));
        return [b._fullLayout.xaxis.range, b._fullLayout.yaxis.range];
    }""")
    np.testing.assert_allclose(ranges, [[-0.5, 0.5], [-0.25, 0.25]])


def test_nan_cells_are_not_evaluable(browser_page, root):
    page, _, _, _ = browser_page
    open_landscape(page, "pca-far")
    group = stored(root)["landscapes/pca-far"]
    grid, axis_0, axis_1 = group["loss/pinn"][...], group["axis_0"][...], group["axis_1"][...]
    inner = np.zeros(grid.shape, dtype=bool)
    inner[1:-1, 1:-1] = True  # the map's edge runs through the middle of the outer cells
    nan, finite = np.argwhere(np.isnan(grid) & inner), np.argwhere(np.isfinite(grid) & inner)
    assert len(nan) > 20 and len(finite) > 20  # the overflow really happened, and not everywhere
    nan_colour = np.array([0xB9, 0xB9, 0xB9])  # landscape.js NAN_COLOUR, the plot's background
    page.mouse.move(0, 0)
    for i1, i0 in [nan[0], nan[len(nan) // 2]]:
        x, y = cell_pixel(page, float(axis_0[i0]), float(axis_1[i1]))
        page.mouse.move(x, y)
        page.wait_for_selector(f"#hover-readout[data-i0='{i0}'][data-i1='{i1}']", timeout=5000)
        assert page.locator("#hover-readout [data-field=loss]").inner_text() == "not evaluable"
        page.mouse.move(0, 0)
        colour = pixel_colour(page, x, y)
        assert np.abs(colour - nan_colour).max() < 12, colour
    i1, i0 = finite[len(finite) // 2]
    x, y = cell_pixel(page, float(axis_0[i0]), float(axis_1[i1]))
    page.mouse.move(x, y)
    page.wait_for_selector(f"#hover-readout[data-i0='{i0}'][data-i1='{i1}']", timeout=5000)
    assert float(page.locator("#hover-readout [data-field=loss]").inner_text()) == pytest.approx(
        float(grid[i1, i0]), rel=1e-5)
    page.mouse.move(0, 0)
    colour = pixel_colour(page, x, y)
    assert np.ptp(colour) > 40, colour  # a colour of the (viridis) scale, not the grey of a missing value


def test_a_training_run_updates_live(browser_page, root):
    """A real `pinnviz train` writes into the served folder; the runs page's row count and the run page's
    loss curve grow without a reload (the writer flushes rows every few seconds)."""
    page, _, _, _ = browser_page
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    store = root / "live.zarr"
    process = subprocess.Popen(
        [sys.executable, "-m", "pinnviz", "train", "poisson1d", "--out", str(store), "--steps", "10000000",
         "--log-every", "5", "--width", "8", "--depth", "2", "--name", "live"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        page.goto(page.url.split("#")[0] + "#/")
        page.evaluate("window.__notReloaded = true")
        rows = ".run[data-path='live.zarr'] tr[data-trajectory='live'] td:nth-child(3)"
        grows = "([sel, n]) => { const e = document.querySelector(sel); return e && Number(e.textContent) > n; }"
        page.wait_for_function(grows, arg=[rows, 0], timeout=90_000)
        first = int(page.inner_text(rows))
        page.wait_for_function(grows, arg=[rows, first], timeout=30_000)
        assert int(page.inner_text(rows)) <= zarr.open_group(str(store), mode="r")["trajectories/live"].attrs["length"]
        assert page.evaluate("window.__notReloaded") is True

        rid = page.get_attribute(".run[data-path='live.zarr']", "data-run")
        page.goto(page.url.split("#")[0] + f"#/run/{rid}")
        page.evaluate("window.__notReloaded = true")
        objective = zarr.open_group(str(store), mode="r")["trajectories/live"].attrs["loss"]
        curve = f".plot[data-component='{objective}']"
        points = "([sel, n]) => { const gd = document.querySelector(sel); return gd?.data?.[0].x.length > n; }"
        page.wait_for_function(points, arg=[curve, 0], timeout=30_000)
        first = page.evaluate(f"document.querySelector(\"{curve}\").data[0].x.length")
        page.wait_for_function(points, arg=[curve, first], timeout=30_000)
        assert page.evaluate("window.__notReloaded") is True
        steps, losses = page.evaluate(f"(() => {{ const t = document.querySelector(\"{curve}\").data[0]; "
                                      "return [Array.from(t.x), Array.from(t.y)]; })()")
        group = zarr.open_group(str(store), mode="r")["trajectories/live"]
        np.testing.assert_array_equal(steps, group["step"][:len(steps)])
        np.testing.assert_allclose(losses, group[f"loss/{objective}"][:len(losses)], rtol=1e-12)
        fetched = page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
        assert any(re.search(r"/trajectories/live\?start=[1-9]", url) for url in fetched)  # only the new rows
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_a_job_that_would_replace_a_result_needs_force(browser_page, root):
    """Without --force the CLI refuses (its one line shows in the page, the store is untouched); the form's
    --force switch passes it on and the landscape is replaced."""
    import hashlib

    page, _, _, _ = browser_page
    rid = run_id(page)
    landscape = root / "run.zarr" / "landscapes" / "pca-coarse"

    def digest():
        return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(landscape.rglob("*")) if p.is_file())).hexdigest()

    def start_job():
        known = {j["id"] for j in page.evaluate("fetch('/api/jobs').then((r) => r.json())")}
        page.click("#job-start")
        page.wait_for_function("(known) => fetch('/api/jobs').then((r) => r.json()).then((jobs) => "
                               "jobs.some((j) => !known.includes(j.id)))", arg=sorted(known), timeout=30_000)
        job = next(j for j in page.evaluate("fetch('/api/jobs').then((r) => r.json())") if j["id"] not in known)
        finished = f".job[data-job='{job['id']}']:is([data-status=completed], [data-status=failed])"
        page.wait_for_selector(finished, timeout=300_000)
        return page.evaluate(f"fetch('/api/jobs/{job['id']}').then((r) => r.json())"), page.locator(finished)

    before = digest()
    page.goto(page.url.split("#")[0] + f"#/run/{rid}")
    page.select_option("#job-kind", "landscape")
    page.wait_for_selector("#job-form[data-key=landscape] input[name=force][type=checkbox]")
    page.fill("input[name=manifold]", "pca")
    page.fill("input[name=resolution]", "11")
    page.fill("input[name=name]", "pca-coarse")
    job, node = start_job()
    assert job["status"] == "failed" and job["argv"].count("--force") == 0
    assert "already exists" in job["error"] and "--force" in job["error"]
    assert node.locator(".job-error").inner_text() == job["error"]
    assert digest() == before  # a refused command leaves the store as it was

    page.check("input[name=force]")
    job, node = start_job()
    assert job["status"] == "completed" and "--force" in job["argv"], job
    assert stored(root)["landscapes/pca-coarse/loss/pinn"].shape == (11, 11)
    page.wait_for_selector("#landscapes tr[data-landscape='pca-coarse'] >> text=11×11")  # shown without a reload
