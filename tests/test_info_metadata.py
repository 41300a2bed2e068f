"""`pinnviz info` reads a local store's JSON metadata without zarr, and says exactly what the zarr reader says."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import zarr
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.cli.info import metadata_summary, run_summary
from pinnviz.store import TrajectoryWriter, open_run

runner = CliRunner()


def _ok(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def _store(tmp_path):
    """Two seeds, a PCA manifold and a trajectory whose last row is NaN (a diverged run) in one store."""
    store = tmp_path / "run.zarr"
    _ok("train", "--out", str(store), "--steps", "12", "--seeds", "2")
    _ok("fit-manifold", str(store), "--method", "pca", "--name", "pca")
    run = open_run(store, mode="r+")
    source = run.trajectory("pinn-adam-seed0")
    writer = TrajectoryWriter.create(run.group["trajectories"], "diverged", source.params.shape[1],
                                     list(source.losses), {**source.attrs, "batch": "nan"})
    for k, step in enumerate(source.steps):
        last = k == len(source.steps) - 1
        writer.append(int(step), source.params[k], {n: (np.nan if last else float(v[k]))
                                                    for n, v in source.losses.items()})
    writer.close("failed", failure="pinn became non-finite")
    return store


def test_metadata_summary_equals_the_zarr_reader(tmp_path):
    store = _store(tmp_path)
    fast, foreign = metadata_summary(store)
    # JSON text: NaN compares unequal to itself in a dict, not as text
    assert json.dumps(fast, sort_keys=True) == json.dumps(run_summary(open_run(store)), sort_keys=True)
    assert foreign == []
    diverged = {t["name"]: t for t in fast["trajectories"]}["diverged"]
    assert diverged["status"] == "failed" and np.isnan(diverged["final_losses"]["pinn"])
    arrays = zarr.open_group(str(store / "trajectories/pinn-adam-seed1"), mode="r")
    assert {t["name"]: t for t in fast["trajectories"]}["pinn-adam-seed1"]["final_losses"] == {
        name: float(array[-1]) for name, array in arrays["loss"].arrays()}


def test_info_imports_no_zarr_and_falls_back_for_an_older_store(tmp_path):
    store = _store(tmp_path)
    code = ("import sys\nfrom pinnviz.cli import app\ntry:\n    app(['info', " + repr(str(store)) + "])\n"
            "except SystemExit:\n    pass\nprint('zarr' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"
    expected = _ok("info", str(store), "--json").stdout
    # a trajectory written before the writer recorded its last row: read through zarr, same answer
    group = zarr.open_group(str(store / "trajectories/pinn-adam-seed1"), mode="r+")
    del group.attrs["last_losses"]
    assert metadata_summary(store) is None
    assert _ok("info", str(store), "--json").stdout == expected
