"""`pinnviz sweep` on a real distributed.LocalCluster (2 worker processes x 1 thread) with real Zarr stores."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.store import open_run

runner = CliRunner()
TINY = ["--depth", "1", "--loss", "pinn"]


@pytest.fixture(scope="module")
def cluster():
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.locks.lease-validation-interval": "1s"}):
        local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    yield local
    local.close()


def one_error_line(result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.output


def reference_train(tmp_path: Path, label: str, args: list[str]):
    """The same configuration trained alone by `pinnviz train` (the oracle)."""
    path = tmp_path / f"ref-{label}.zarr"
    result = runner.invoke(app, ["train", "poisson1d", *args, "--name", "t", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return open_run(path).trajectory("t")


def test_sweep_on_local_cluster_equals_single_trains_and_reports(tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", "poisson1d", "--grid", "width=4,6", "--grid", "lr=0.001,0.01", "--grid", "seed=0..1",
            "--steps", "15", *TINY, "--out", str(out), "--workers", "2"]  # starts its own LocalCluster
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "sweep.json").read_text())
    assert document["spec"]["grid"] == {"width": [4, 6], "lr": [0.001, 0.01], "seed": [0, 1]}
    assert [t["state"] for t in document["tasks"]] == ["done"] * 8
    assert len({t["worker"] for t in document["tasks"]}) == 2  # both worker processes trained
    assert sorted(p.name for p in out.glob("*.zarr")) == ["poisson1d_width=4.zarr", "poisson1d_width=6.zarr"]
    means = {}
    for width in (4, 6):
        run = open_run(out / f"poisson1d_width={width}.zarr")
        assert run.trajectory_names() == ["lr=0.001_seed=0", "lr=0.001_seed=1", "lr=0.01_seed=0", "lr=0.01_seed=1"]
        for lr in ("0.001", "0.01"):
            finals = []
            for seed in (0, 1):
                swept = run.trajectory(f"lr={lr}_seed={seed}")
                alone = reference_train(tmp_path, f"{width}-{lr}-{seed}", ["--width", str(width), "--lr", lr,
                                                                           "--seed", str(seed), "--steps", "15", *TINY])
                assert swept.status == "complete" and swept.steps.tolist() == list(range(16))
                np.testing.assert_allclose(swept.params, alone.params, rtol=0, atol=1e-12)
                for loss, values in alone.losses.items():
                    np.testing.assert_allclose(swept.losses[loss], values, rtol=1e-12, atol=0)
                finals.append(alone.losses["l2_error"][-1])
            means[(width, lr)] = float(np.mean(finals))

    with (out / "sweep.csv").open() as handle:
        header = handle.readline().strip().split(",")
        rows = [dict(zip(header, line.strip().split(","), strict=True)) for line in handle]
    assert {"width", "lr", "seed", "state", "final_pinn", "final_drm", "final_l2_error"} <= set(header)
    for row in rows:
        final = open_run(out / row["store"]).trajectory(row["trajectory"]).losses["pinn"][-1]
        assert float(row["final_pinn"]) == final
    assert "| poisson1d_width=4.zarr |" in (out / "sweep.md").read_text()

    image = tmp_path / "heat.svg"
    report = runner.invoke(app, ["sweep-report", str(out), "--x", "lr", "--y", "width", "--value", "l2_error",
                                 "-o", str(image)])
    assert report.exit_code == 0, report.output
    assert image.stat().st_size > 5000 and "<svg" in image.read_text()[:500]
    from pinnviz.sweep import sweep_report

    data = sweep_report(out, "lr", "width", "l2_error")
    assert data.counts.tolist() == [[2, 2], [2, 2]]
    expected = [[means[(w, lr)] for lr in ("0.001", "0.01")] for w in (4, 6)]
    np.testing.assert_allclose(data.means, expected, rtol=1e-12)
    one_error_line(runner.invoke(app, ["sweep-report", str(out), "--x", "lr", "--y", "width", "--value", "nope"]),
                   "not a logged loss")
    one_error_line(runner.invoke(app, ["sweep-report", str(out), "--x", "lr", "--y", "seed", "--value", "pinn"]),
                   "also varies width")


def _writer_pid(out: Path) -> int | None:
    """pid of a worker writing a temporary trajectory of the sweep, once one has started."""
    for meta in (out / ".partial").glob("*/*.zarr/trajectories/*/zarr.json"):
        try:
            attrs = json.loads(meta.read_text()).get("attributes", {})
        except (OSError, ValueError):
            continue
        if attrs.get("status") == "running" and "pid" in attrs:
            return int(attrs["pid"])
    return None


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def test_worker_killed_mid_sweep_then_rerun_repeats_nothing(tmp_path, cluster):
    out = tmp_path / "sweep"
    steps = 400
    args = ["sweep", "poisson1d", "--grid", "seed=0..3", "--steps", str(steps), "--width", "8", *TINY,
            "--out", str(out), "--scheduler", cluster.scheduler_address]
    proc = subprocess.Popen([sys.executable, "-m", "pinnviz", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env(), text=True)
    try:
        deadline = time.monotonic() + 240  # a busy machine imports torch slowly in each worker
        pid = None
        while pid is None and time.monotonic() < deadline and proc.poll() is None:
            pid = _writer_pid(out)
            time.sleep(0.05)
        assert pid is not None, f"no task seen running (sweep exit code {proc.poll()})"
        busy = runner.invoke(app, args)  # a second sweep into the same folder while the first runs
        one_error_line(busy, "is being written by another sweep (pid")
        os.kill(pid, signal.SIGKILL)  # a worker process, mid-task
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stdout + stderr
    assert "4 done, 0 failed" in stdout

    run = open_run(out / "poisson1d.zarr")
    names = [f"seed={s}" for s in range(4)]
    assert run.trajectory_names() == names
    before = {}
    for name in names:
        trajectory = run.trajectory(name)
        assert trajectory.status == "complete"
        assert trajectory.steps.tolist() == list(range(steps + 1))  # every row exactly once
        before[name] = (trajectory.attrs["created"], (out / "poisson1d.zarr/trajectories" / name / "zarr.json")
                        .stat().st_mtime_ns)
    assert not list((out / ".partial").glob("*/*.zarr"))

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "4 done, 0 failed (0 run now" in again.stdout
    for name in names:
        created = open_run(out / "poisson1d.zarr").trajectory_attrs(name)["created"]
        mtime = (out / "poisson1d.zarr/trajectories" / name / "zarr.json").stat().st_mtime_ns
        assert (created, mtime) == before[name]
    alone = reference_train(tmp_path, "seed2", ["--seed", "2", "--steps", str(steps), "--width", "8", *TINY])
    np.testing.assert_allclose(run.trajectory("seed=2").params, alone.params, rtol=1e-10, atol=1e-12)


def _partial_length(out: Path) -> int:
    for path in (out / ".partial").glob("*/*.zarr"):
        try:
            group = zarr.open_group(str(path), mode="r")
            return max(int(g.attrs.get("length", 0)) for _, g in group["trajectories"].groups())
        except Exception:
            continue
    return 0


def test_killed_sweep_resumes_the_interrupted_training(tmp_path):
    out = tmp_path / "sweep"
    steps = 6000  # past the first flushed block (4,096 rows or 5 s)
    args = ["sweep", "poisson1d", "--grid", "seed=3", "--steps", str(steps), "--width", "4", *TINY,
            "--out", str(out), "--workers", "0"]
    proc = subprocess.Popen([sys.executable, "-m", "pinnviz", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=_env())
    try:
        deadline = time.monotonic() + 90
        while _partial_length(out) == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    flushed = _partial_length(out)
    assert 0 < flushed < steps + 1, flushed
    assert not (out / "poisson1d.zarr/trajectories/seed=3").exists()  # nothing counts as done

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    task = json.loads((out / "sweep.json").read_text())["tasks"][0]
    assert task["state"] == "done" and task["resumed_from"] == flushed - 1
    swept = open_run(out / "poisson1d.zarr").trajectory("seed=3")
    assert swept.steps.tolist() == list(range(steps + 1))
    alone = reference_train(tmp_path, "whole", ["--seed", "3", "--steps", str(steps), "--width", "4", *TINY])
    np.testing.assert_allclose(swept.params, alone.params, rtol=1e-10, atol=1e-12)


def test_failing_configuration_is_recorded_and_others_finish(tmp_path):
    out = tmp_path / "sweep"
    # gradient descent with lr=1e12 drives the pinn loss to infinity within a few steps: NonFiniteError there only
    result = runner.invoke(app, ["sweep", "poisson1d", "--grid", "lr=0.001,1e12", "--steps", "40", *TINY,
                                 "--optimizer", "sgd", "--width", "4", "--out", str(out), "--workers", "0"])
    assert result.exit_code == 1, result.output
    tasks = {t["values"]["lr"]: t for t in json.loads((out / "sweep.json").read_text())["tasks"]}
    assert tasks[0.001]["state"] == "done"
    assert tasks[1e12]["state"] == "failed" and tasks[1e12]["error"].startswith("NonFiniteError: training stopped")
    assert "\n" not in tasks[1e12]["error"]
    assert open_run(out / "poisson1d.zarr").trajectory_names() == ["lr=0.001_seed=0"]
    assert "failed" in (out / "sweep.md").read_text()


def test_whole_grid_is_validated_before_anything_is_written(tmp_path):
    out = tmp_path / "sweep"
    base = ["sweep", "poisson1d", "--steps", "5", "--out", str(out), "--workers", "0"]
    one_error_line(runner.invoke(app, [*base, "--grid", "lr=0.001,-1"]), "lr=-1.0 must be a positive number")
    one_error_line(runner.invoke(app, [*base, "--grid", "lr=0.001,abc"]), "--grid lr=abc")
    one_error_line(runner.invoke(app, [*base, "--grid", "beta=1,2"]), "not a training option or a poisson1d setting")
    one_error_line(runner.invoke(app, [*base, "--grid", "seeds=1,2"]), "use --grid seed=0..4")
    one_error_line(runner.invoke(app, [*base, "--grid", "set.points=10,-3"]), "points")
    one_error_line(runner.invoke(app, [*base, "--grid", "seed=0..1", "--name", "x"]), "--name")
    one_error_line(runner.invoke(app, [*base, "--grid", "seed=0..1", "--optimizer", "nope"]), "nope")
    assert not out.exists()


def test_sweep_from_toml_config(tmp_path):
    config = tmp_path / "sweep.toml"
    out = tmp_path / "from-toml"
    config.write_text(f'problem = "poisson1d"\nout = "{out}"\nworkers = 0\n'
                      '[train]\nsteps = 5\ndepth = 1\nwidth = 4\nset = ["points=50"]\n'
                      '[grid]\nlr = [0.001, 0.01]\nseed = "0..1"\n')
    result = runner.invoke(app, ["sweep", "--config", str(config)])
    assert result.exit_code == 0, result.output
    document = json.loads((out / "sweep.json").read_text())
    assert document["spec"]["grid"] == {"lr": [0.001, 0.01], "seed": [0, 1]}
    assert document["spec"]["problem_options"] == {"points": 50}
    run = open_run(out / "poisson1d.zarr")
    assert run.problem["points"] == 50 and run.model["width"] == 4
    assert len(run.trajectory_names()) == 4
    changed = runner.invoke(app, ["sweep", "--config", str(config), "--grid", "lr=0.1"])
    one_error_line(changed, "holds another sweep")


def test_landscape_sharded_over_workers_equals_local(tmp_path, cluster):
    from distributed import Client

    from pinnviz.landscape import compute_landscape, load_landscape
    from pinnviz.manifolds import fit_manifold

    store = tmp_path / "run.zarr"
    result = runner.invoke(app, ["train", "poisson1d", "--steps", "30", "--seeds", "2", "--width", "6", *TINY,
                                 "--out", str(store)])
    assert result.exit_code == 0, result.output
    fit_manifold(open_run(store, mode="r+"), "pca")
    local = compute_landscape(open_run(store), "pca", resolution=13, save=False)
    with Client(cluster) as client:
        sharded = compute_landscape(open_run(store), "pca", resolution=13, save=False, client=client)
    cli = runner.invoke(app, ["landscape", str(store), "-m", "pca", "--resolution", "13", "--name", "pca-dask",
                              "--scheduler", cluster.scheduler_address])
    assert cli.exit_code == 0, cli.output
    stored = load_landscape(open_run(store).group, "pca-dask")
    for other in (sharded, stored):
        np.testing.assert_array_equal(other.axis_0, local.axis_0)
        for loss, grid in local.losses.items():
            assert np.isfinite(grid).all()
            np.testing.assert_allclose(other.losses[loss], grid, rtol=1e-12, atol=0)
        # torch.cdist's matrix-product form rounds by block: equal to 1e-12 absolute (about 5e-14 seen)
        np.testing.assert_allclose(other.data_distance, local.data_distance, rtol=0, atol=1e-12)
        for traj, diag in local.trajectories.items():
            np.testing.assert_allclose(other.trajectories[traj].true_loss["pinn"], diag.true_loss["pinn"], rtol=1e-12)
    compared = runner.invoke(app, ["compare", str(store), "--methods", "pca", "--resolution", "13", "--tag", "cl",
                                   "--out", str(tmp_path / "compare"), "--scheduler", cluster.scheduler_address])
    assert compared.exit_code == 0, compared.output
    on_cluster = load_landscape(open_run(store).group, "pca-cl")
    assert list(on_cluster.losses) == ["pinn"]  # compare evaluates the trajectories' objective
    np.testing.assert_allclose(on_cluster.losses["pinn"], local.losses["pinn"], rtol=1e-12, atol=0)
    from pinnviz.probes.bad_minima import bad_minima

    settings = {"widths": [4, 6], "optimizers": ["adam", "sgd"], "runs": 2, "steps": 6, "log_every": 2, "save": False}
    alone = bad_minima(open_run(store), ["pinn", "drm"], **settings)
    with Client(cluster) as client:
        shared = bad_minima(open_run(store), ["pinn", "drm"], client=client, **settings)
    assert sorted(alone) == sorted(shared) and len(alone) == 10
    for key, value in alone.items():
        if key != "attrs":
            np.testing.assert_allclose(shared[key], value, rtol=1e-12, atol=0)
    one_error_line(runner.invoke(app, ["landscape", str(store), "-m", "pca", "--workers", "2", "--scheduler",
                                       cluster.scheduler_address]), "not several")


def test_mli_and_random_planes_on_workers_equal_local(tmp_path, cluster):
    from distributed import Client

    from pinnviz.probes import load_probe, mli, random_planes

    store, mc = tmp_path / "run.zarr", tmp_path / "mc.zarr"
    for path, extra in ((store, []), (mc, ["--quadrature", "montecarlo", "--points", "40"])):
        for loss in ("pinn", "drm"):
            result = runner.invoke(app, ["train", "poisson1d", "--steps", "12", "--seeds", "3", "--width", "5",
                                         "--depth", "1", "--loss", loss, "--name", loss, *extra, "--out", str(path)])
            assert result.exit_code == 0, result.output
    with Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        for path in (store, mc):  # a Monte Carlo store: every share on the driver's first draw
            alone = mli(open_run(path), points=9, save=False)
            shared = mli(open_run(path), points=9, save=False, client=client)
            assert shared["trajectories"] == alone["trajectories"] and len(alone["trajectories"]) == 6
            assert shared["losses"] == alone["losses"] == ["drm"] * 3 + ["pinn"] * 3
            np.testing.assert_allclose(shared["curves"], alone["curves"], rtol=1e-12, atol=0)
            assert np.array_equal(shared["monotonic"], alone["monotonic"])
        planes = {"pairs": 3, "resolution": 9, "extent": 0.5, "losses": ["pinn", "drm"], "seed": 4, "save": False}
        for stochastic in (None, 20):  # 243 vectors: shares of 64 (the Monte Carlo chunk), the later ones skip draws
            alone = random_planes(open_run(store), "pinn-seed1", stochastic=stochastic, **planes)
            shared = random_planes(open_run(store), "pinn-seed1", stochastic=stochastic, client=client, **planes)
            np.testing.assert_array_equal(shared["directions"], alone["directions"])
            for loss, grid in alone["losses"].items():
                assert np.isfinite(grid).all()
                np.testing.assert_allclose(shared["losses"][loss], grid, rtol=1e-12, atol=0)
            assert shared["variance"] == alone["variance"]
        from pinnviz.probes.mli import train_mli_ensembles

        ensembles = {"losses": ["drm", "pinn"], "scales": [1, 2], "seeds": 2, "steps": 4, "log_every": 2}
        here, there = tmp_path / "here.zarr", tmp_path / "there.zarr"
        shutil.copytree(mc, here)
        shutil.copytree(mc, there)
        names = train_mli_ensembles(open_run(here, mode="r+"), **ensembles)
        assert train_mli_ensembles(open_run(there, mode="r+"), client=client, **ensembles) == names
        assert len(names) == 8
        assert sorted(open_run(there).trajectory_names()) == sorted(open_run(here).trajectory_names())
        assert not list(tmp_path.glob(".*mli-ensembles"))  # the scratch stores are gone
        for traj in names:
            alone, shared = open_run(here).trajectory(traj), open_run(there).trajectory(traj)
            assert shared.status == "complete" and shared.attrs["init_scale"] == alone.attrs["init_scale"]
            np.testing.assert_allclose(shared.params, alone.params, rtol=0, atol=1e-12)
            for loss, values in alone.losses.items():
                np.testing.assert_allclose(shared.losses[loss], values, rtol=1e-12, atol=0)
    address = cluster.scheduler_address
    cli = runner.invoke(app, ["probe", "mli", str(store), "--points", "9", "--scheduler", address])
    assert cli.exit_code == 0, cli.output
    assert "of 6 curves decrease monotonically" in cli.stdout
    arrays, _ = load_probe(open_run(store), "mli")
    np.testing.assert_allclose(arrays["curves"], mli(open_run(store), points=9, save=False)["curves"], rtol=1e-12)
    cli = runner.invoke(app, ["probe", "mli", str(here), "--scales", "1,3", "--losses", "drm", "--seeds", "2",
                              "--steps", "4", "--log-every", "2", "--points", "5", "--scheduler", address])
    assert cli.exit_code == 0, cli.output  # x1 was trained above (reused), x3 is trained on a worker now
    assert " of 4 curves decrease monotonically" in cli.stdout
    arrays, attrs = load_probe(open_run(here), "mli")
    assert attrs["trajectories"] == ["mli-drm-x1-seed0", "mli-drm-x1-seed1", "mli-drm-x3-seed0", "mli-drm-x3-seed1"]
    alone = train_mli_ensembles(open_run(there, mode="r+"), **{**ensembles, "scales": [3], "losses": ["drm"]})
    for traj in alone:
        np.testing.assert_allclose(open_run(here).trajectory(traj).params, open_run(there).trajectory(traj).params,
                                   rtol=0, atol=1e-12)
    np.testing.assert_allclose(arrays["curves"], mli(open_run(there), attrs["trajectories"], points=5,
                                                     save=False)["curves"], rtol=1e-12, atol=0)
    cli = runner.invoke(app, ["probe", "random-planes", str(store), "-t", "pinn-seed1", "--pairs", "3",
                              "--resolution", "9", "--extent", "0.5", "--seed", "4", "--stochastic", "20",
                              "--scheduler", address])
    assert cli.exit_code == 0, cli.output
    arrays, _ = load_probe(open_run(store), "random-planes-final-pinn-seed1-mc20")
    local = random_planes(open_run(store), "pinn-seed1", stochastic=20, **{**planes, "losses": None})
    np.testing.assert_allclose(arrays["loss/pinn"], local["losses"]["pinn"], rtol=1e-12, atol=0)
