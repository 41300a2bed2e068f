"""Other tools read a store written by the CLI: xarray with labelled axes, and stores behind fsspec."""

from __future__ import annotations

import fsspec
import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.landscape import load_landscape
from pinnviz.store import open_run

runner = CliRunner()


def _cli(*args: str) -> None:
    result = runner.invoke(app, ["--threads", "1", *args])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two trajectories of different lengths, a PCA manifold, its landscape and an MLI probe."""
    path = tmp_path_factory.mktemp("xr") / "run.zarr"
    _cli("train", "poisson1d", "--loss", "drm", "--steps", "30", "--out", str(path))
    _cli("train", "poisson1d", "--loss", "pinn", "--steps", "20", "--out", str(path))
    _cli("fit-manifold", str(path), "--method", "pca")
    _cli("landscape", str(path), "--manifold", "pca", "--resolution", "7", "--loss", "drm,pinn")
    _cli("probe", "mli", str(path))
    return path


def test_landscape_opens_with_labelled_axes(store):
    stored = load_landscape(open_run(store).group, "pca")
    top = xr.open_zarr(store, group="landscapes/pca", consolidated=False)
    assert set(top.coords) == {"axis_0", "axis_1"} and top["data_distance"].dims == ("axis_1", "axis_0")
    np.testing.assert_array_equal(top["axis_0"].values, stored.axis_0)
    np.testing.assert_array_equal(top["axis_1"].values, stored.axis_1)
    assert top["data_distance"].sel(axis_0=stored.axis_0[2], axis_1=stored.axis_1[5]).values == \
        stored.data_distance[5, 2]
    # the loss grids sit in the child group `loss/`, which inherits the axes in a datatree
    loss = xr.open_datatree(store, engine="zarr", consolidated=False)["landscapes/pca/loss"]
    assert loss["pinn"].dims == ("axis_1", "axis_0")
    np.testing.assert_array_equal(loss["pinn"]["axis_0"].values, stored.axis_0)
    # a label lookup lands on the stored grid point: loss[i1, i0] is at (axis_0[i0], axis_1[i1])
    assert loss["pinn"].sel(axis_0=stored.axis_0[2], axis_1=stored.axis_1[5]).values == stored.losses["pinn"][5, 2]
    assert xr.open_zarr(store, group="landscapes/pca/loss", consolidated=False)["drm"].dims == ("axis_1", "axis_0")


def test_trajectory_opens_with_step_and_param(store):
    run = open_run(store)
    traj = run.trajectory("drm-adam-seed0")
    ds = xr.open_zarr(store, group="trajectories/drm-adam-seed0", consolidated=False)
    assert ds["params"].dims == ("step", "param")
    np.testing.assert_array_equal(ds["step"].values, traj.steps)
    np.testing.assert_array_equal(ds["params"].sel(step=30).values, traj.params[-1])


def test_datatree_opens_the_whole_store(store):
    tree = xr.open_datatree(store, engine="zarr", consolidated=False)
    assert tree["trajectories/pinn-adam-seed0"]["params"].shape == (21, 480)
    assert tree["trajectories/drm-adam-seed0/loss"]["drm"].dims == ("step",)
    assert tree["landscapes/pca/loss"]["drm"].shape == (7, 7)
    assert tree["manifolds/pca/coords"]["drm-adam-seed0"].shape == (31, 2)
    assert "probes/mli" in tree.groups or "/probes/mli" in tree.groups


def test_store_in_memory_opens(store):
    """A copy of the store in fsspec's memory file system reads the same landscape."""
    fs = fsspec.filesystem("memory")
    for file in sorted(p for p in store.rglob("*") if p.is_file()):
        fs.pipe(f"/copy.zarr/{file.relative_to(store).as_posix()}", file.read_bytes())
    try:
        run = open_run("memory://copy.zarr")
        assert run.trajectory_names() == ["drm-adam-seed0", "pinn-adam-seed0"]
        here = load_landscape(run.group, "pca")
        np.testing.assert_array_equal(here.losses["drm"], load_landscape(open_run(store).group, "pca").losses["drm"])
        ds = xr.open_zarr("memory://copy.zarr", group="landscapes/pca", consolidated=False)
        np.testing.assert_array_equal(ds["data_distance"].values, here.data_distance)
    finally:
        fs.rm("/copy.zarr", recursive=True)
