"""`pinnviz fit-manifold`: the table on success, one error line and exit code 2 on every user mistake."""

from __future__ import annotations

import numpy as np
import pytest
from _manifold_store import curve, make_store, write_trajectory
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.manifolds import load_manifold
from pinnviz.store import open_run

runner = CliRunner()


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "run.zarr"
    make_store(path, {"a": curve(60, 1), "b": curve(40, 2)})
    return path


def _one_error_line(result, text):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], result.stderr


def test_pca_prints_table_and_stores(store):
    result = runner.invoke(app, ["fit-manifold", str(store), "--method", "pca", "--every", "2"])
    assert result.exit_code == 0, result.output
    for text in ("method", "points fitted", "mean rel. projection error", "seconds", "pca", "52"):
        assert text in result.stdout
    m = load_manifold(open_run(store), "pca")
    X = open_run(store).trajectory("a").params
    assert m.decode(m.encode(X)).shape == X.shape


def test_autoencoder_options_reach_the_model(store):
    result = runner.invoke(app, ["fit-manifold", str(store), "--method", "autoencoder", "--trajectories", "a",
                                 "--anchor", "center", "--epochs", "50", "--hidden", "12,6", "--seed", "3",
                                 "--grid-scale", "2", "--spacing-weight", "0.5", "--name", "ae", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "anchor distances" in result.stdout
    m = load_manifold(open_run(store), "ae")
    assert (m.anchor, m.epochs, m.hidden_, m.seed, m.grid_scale, m.spacing_weight) == (
        "center", 50, [12, 6], 3, 2.0, 0.5)


def test_unknown_method(store):
    result = runner.invoke(app, ["fit-manifold", str(store), "--method", "tsne"])
    _one_error_line(result, "unknown manifold method 'tsne'; valid: autoencoder, ")
    for method in ("kpca", "pca", "random", "umap"):
        assert method in result.stderr


def test_empty_selection(store):
    result = runner.invoke(app, ["fit-manifold", str(store), "--trajectories", ","])
    _one_error_line(result, "the trajectory selection is empty")


def test_unknown_trajectory(store):
    result = runner.invoke(app, ["fit-manifold", str(store), "--trajectories", "a,zz"])
    _one_error_line(result, "'zz'; valid: a, b")


def test_nan_trajectory(store):
    bad = curve(30, 3)
    bad[12] = np.inf
    write_trajectory(open_run(store, mode="r+"), "diverged", bad)
    result = runner.invoke(app, ["fit-manifold", str(store), "--method", "pca"])
    _one_error_line(result, "trajectory 'diverged' holds NaN or infinity in 1 of 30 rows (first at step 12)")


def test_option_for_another_method(store):
    result = runner.invoke(app, ["fit-manifold", str(store), "--method", "pca", "--anchor", "polar"])
    _one_error_line(result, "--anchor applies to autoencoder, not to --method pca")


def test_missing_store(tmp_path):
    result = runner.invoke(app, ["fit-manifold", str(tmp_path / "nope.zarr")])
    _one_error_line(result, "no store at")
