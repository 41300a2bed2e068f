import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import torch
import zarr
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train

runner = CliRunner()


def stored_length(path) -> int:
    try:
        group = zarr.open_group(str(path), mode="r")
        return int(group["trajectories/pinn-adam-seed0"].attrs.get("length", 0))
    except Exception:
        return 0


def test_killed_training_leaves_a_readable_store_and_resumes(tmp_path, poisson_physics):
    path = tmp_path / "killed.zarr"
    steps = 10000  # long enough that the kill lands after the first flushed block
    # the same thread count in the killed process as in this one, so every part sums in the same order
    cmd = [sys.executable, "-m", "pinnviz", "--threads", str(torch.get_num_threads()), "train", "poisson1d",
           "--loss", "pinn", "--steps", str(steps),
           "--out", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while stored_length(path) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    flushed = stored_length(path)
    assert 0 < flushed < steps + 1, flushed

    info = runner.invoke(app, ["info", str(path), "--json"])
    assert info.exit_code == 0, info.output
    summary = json.loads(info.stdout)["trajectories"][0]
    assert summary["status"] == "interrupted"
    assert summary["rows"] == flushed and summary["last_step"] == flushed - 1
    partial = open_run(path).trajectory("pinn-adam-seed0")
    assert np.isfinite(partial.params).all() and len(partial.params) == flushed

    resumed = runner.invoke(app, ["train", "--resume", "--out", str(path)])
    assert resumed.exit_code == 0, resumed.output
    final = open_run(path).trajectory("pinn-adam-seed0")
    assert final.status == "complete"
    assert final.steps.tolist() == list(range(steps + 1))

    train(tmp_path / "whole.zarr", poisson_physics, TrainConfig(loss="pinn", steps=steps))
    whole = open_run(tmp_path / "whole.zarr").trajectory("pinn-adam-seed0")
    assert final.params.shape == whole.params.shape
    np.testing.assert_allclose(final.params, whole.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(final.losses["pinn"], whole.losses["pinn"], rtol=1e-9, atol=1e-12)


def test_cli_train_then_info(tmp_path):
    path = tmp_path / "r.zarr"
    result = runner.invoke(app, ["train", "poisson1d", "--loss", "drm", "--steps", "20", "--seeds", "2",
                                 "--out", str(path)])
    assert result.exit_code == 0, result.output
    assert "drm-adam-seed1" in result.stdout and "complete" in result.stdout
    info = runner.invoke(app, ["info", str(path)])
    assert info.exit_code == 0
    assert "1-20-20-1 tanh MLP" in info.stdout and "480 parameters" in info.stdout


def one_line_error(result, fragment):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_cli_errors_are_one_line(tmp_path):
    one_line_error(runner.invoke(app, ["info", str(tmp_path / "nope.zarr")]), "no store at")
    one_line_error(runner.invoke(app, ["train", "heat3d", "--out", str(tmp_path / "a.zarr")]),
                   "unknown problem 'heat3d'; valid: ")
    one_line_error(runner.invoke(app, ["train", "--loss", "energy", "--out", str(tmp_path / "a.zarr")]),
                   "unknown loss for poisson1d 'energy'")
    one_line_error(runner.invoke(app, ["train", "--width", "-4", "--out", str(tmp_path / "a.zarr")]),
                   "width=-4 must be >= 1")
    group = zarr.open_group(str(tmp_path / "future.zarr"), mode="w")
    group.attrs["pinnviz"] = {"schema": 2, "version": "1.0"}
    one_line_error(runner.invoke(app, ["info", str(tmp_path / "future.zarr")]), "newer than this pinnviz")
    assert not (tmp_path / "a.zarr").exists()


def test_cli_never_damages_an_existing_store(tmp_path):
    path = tmp_path / "r.zarr"
    assert runner.invoke(app, ["train", "--steps", "10", "--out", str(path)]).exit_code == 0
    before = open_run(path).trajectory("pinn-adam-seed0").params.copy()
    one_line_error(runner.invoke(app, ["train", "--steps", "10", "--width", "8", "--out", str(path)]),
                   "holds a different model")
    one_line_error(runner.invoke(app, ["train", "--steps", "10", "--out", str(path)]), "already exists")
    one_line_error(runner.invoke(app, ["train", "--resume", "--out", str(path)]), "no interrupted trajectory")
    run = open_run(path)
    assert run.trajectory_names() == ["pinn-adam-seed0"]
    np.testing.assert_array_equal(run.trajectory("pinn-adam-seed0").params, before)


def test_global_threads_option(tmp_path):
    import torch

    before = torch.get_num_threads()
    try:
        result = runner.invoke(app, ["--threads", "1", "train", "--steps", "3", "--out", str(tmp_path / "t.zarr")])
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    bad = runner.invoke(app, ["--threads", "0", "info", str(tmp_path / "t.zarr")])
    assert bad.exit_code == 2 and "threads=0 must be >= 1" in bad.stderr
