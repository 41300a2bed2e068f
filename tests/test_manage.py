"""`pinnviz --version`, completion, `rm`, `mv`, `info` details and `render --probe`, on a store the CLI wrote."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
import xarray as xr
from matplotlib.image import imread
from typer.testing import CliRunner

import pinnviz
from pinnviz.cli import app
from pinnviz.landscape import load_landscape
from pinnviz.probes import load_probe
from pinnviz.store import open_run
from pinnviz.visualizer import save_figure
from pinnviz.visualizer._probes_a import mli_figure

runner = CliRunner()


def _ok(*args: str):
    result = runner.invoke(app, ["--threads", "1", *args])
    assert result.exit_code == 0, result.output
    return result


def _one_error_line(result, text: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], result.stderr


def tree_hash(path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("manage") / "run.zarr"
    _ok("train", "poisson1d", "--loss", "drm", "--steps", "20", "--seeds", "2", "--out", str(path))
    _ok("fit-manifold", str(path), "--method", "pca", "--trajectories", "drm-adam-seed0")
    _ok("landscape", str(path), "--manifold", "pca", "--resolution", "5", "--loss", "drm")
    _ok("probe", "mli", str(path), "-t", "drm-adam-seed1")
    return path


@pytest.fixture
def store(built, tmp_path):
    copy = tmp_path / "run.zarr"
    shutil.copytree(built, copy)
    return copy


def test_version_and_completion():
    assert runner.invoke(app, ["--version"]).stdout.strip() == f"pinnviz {pinnviz.__version__}"
    assert "--install-completion" in runner.invoke(app, ["--help"]).stdout
    # the protocol the installed bash script speaks (`--show-completion` itself detects the shell from the
    # process tree, which a test run in the background does not have)
    complete = {"_PINNVIZ_COMPLETE": "complete_bash", "COMP_WORDS": "pinnviz tr", "COMP_CWORD": "1"}
    assert runner.invoke(app, [], prog_name="pinnviz", env=complete).stdout.split() == ["train"]
    complete.update(COMP_WORDS="pinnviz train --st", COMP_CWORD="2")
    assert runner.invoke(app, [], prog_name="pinnviz", env=complete).stdout.split() == ["--steps", "--store-dtype"]


def test_info_lists_details_of_manifolds_landscapes_and_probes(store):
    summary = json.loads(_ok("info", str(store), "--json").stdout)
    (manifold,) = summary["manifolds"]
    assert (manifold["name"], manifold["method"], manifold["fitted_on"]) == ("pca", "pca", ["drm-adam-seed0"])
    assert manifold["points"] == 21
    (landscape,) = summary["landscapes"]
    assert (landscape["manifold"], landscape["resolution"], landscape["losses"]) == ("pca", 5, ["drm"])
    (probe,) = summary["probes"]
    assert (probe["name"], probe["probe"], probe["trajectories"]) == ("mli", "mli", ["drm-adam-seed1"])
    text = _ok("info", str(store)).stdout
    assert "probes:" in text and "fitted on: drm-adam-seed0" in text and "resolution: 5" in text


def test_rm_refuses_what_others_depend_on_and_leaves_the_store_as_it_was(store):
    before = tree_hash(store)
    _one_error_line(runner.invoke(app, ["rm", str(store), "manifolds/pca"]),
                    "manifolds/pca is used by landscapes/pca; remove those first, or pass --force")
    _one_error_line(runner.invoke(app, ["rm", str(store), "trajectories/drm-adam-seed0"]),
                    "used by landscapes/pca, manifolds/pca")
    _one_error_line(runner.invoke(app, ["rm", str(store), "manifolds/nope"]), "'nope'")
    _one_error_line(runner.invoke(app, ["rm", str(store), "pca"]), "must be KIND/NAME")
    assert tree_hash(store) == before


def test_rm_force_removes_the_dependents_first(store):
    result = _ok("rm", str(store), "trajectories/drm-adam-seed0", "--force")
    assert result.stdout.split("\n")[:3] == ["removed landscapes/pca", "removed manifolds/pca",
                                             "removed trajectories/drm-adam-seed0"]
    run = open_run(store)
    assert run.trajectory_names() == ["drm-adam-seed1"] and "mli" in run.group["probes"]
    assert not (store / "manifolds" / "pca").exists()
    assert not list(store.parent.glob(".run.zarr.removed-*"))  # nothing left beside the store
    xr.open_datatree(store, engine="zarr", consolidated=False)  # still a valid store for other tools
    _ok("rm", str(store), "probe/mli")
    assert "mli" not in open_run(store).group["probes"]


def test_mv_renames_and_references_follow(store):
    stored = load_landscape(open_run(store).group, "pca")
    result = _ok("mv", str(store), "manifolds/pca", "plane")
    assert "updated landscapes/pca" in result.stdout
    run = open_run(store)
    assert run.group["landscapes/pca"].attrs["manifold"] == "plane"
    from pinnviz.manifolds import load_manifold

    manifold = load_manifold(run, "plane")
    np.testing.assert_allclose(manifold.encode(run.trajectory("drm-adam-seed0").params)[:, 0],
                               stored.trajectories["drm-adam-seed0"].coords[:, 0], rtol=1e-12, atol=1e-12)
    _ok("mv", str(store), "landscapes/pca", "plane")
    np.testing.assert_array_equal(load_landscape(open_run(store).group, "plane").losses["drm"], stored.losses["drm"])
    _one_error_line(runner.invoke(app, ["mv", str(store), "trajectories/drm-adam-seed1", "second"]),
                    "is used by probes/mli")
    _ok("rm", str(store), "probes/mli")
    _ok("mv", str(store), "trajectories/drm-adam-seed1", "second")  # now nothing uses it
    renamed = open_run(store).trajectory("second")
    assert renamed.params.shape == (21, 480) and renamed.attrs["seed"] == 1


def test_mv_refusals_leave_the_store_as_it_was(store):
    before = tree_hash(store)
    _one_error_line(runner.invoke(app, ["mv", str(store), "trajectories/drm-adam-seed0", "x"]),
                    "trajectories/drm-adam-seed0 is used by manifolds/pca, landscapes/pca")
    _one_error_line(runner.invoke(app, ["mv", str(store), "manifolds/pca", "a/b"]), "name 'a/b' must be")
    _one_error_line(runner.invoke(app, ["mv", str(store), "manifolds/pca", "a,b"]), "name 'a,b' must be")
    _one_error_line(runner.invoke(app, ["mv", str(store), "landscapes/pca", "../x"]), "must be")
    _one_error_line(runner.invoke(app, ["mv", str(store), "probes/mli", "mli"]), "probes/mli already exists")
    assert tree_hash(store) == before


def test_render_probe_redraws_from_the_store_without_writing(store, tmp_path):
    before = tree_hash(store)
    out = tmp_path / "mli.png"
    assert _ok("render", str(store), "--probe", "mli", "-o", str(out)).stdout.strip() == str(out)
    assert tree_hash(store) == before
    direct = save_figure(mli_figure(load_probe(open_run(store), "mli")), tmp_path / "direct.png")
    np.testing.assert_array_equal(imread(out), imread(direct))
    _one_error_line(runner.invoke(app, ["render", str(store), "--probe", "nope"]), "'nope'")
    _one_error_line(runner.invoke(app, ["render", str(store)]), "give one of --landscape NAME or --probe NAME")
