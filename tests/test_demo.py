import json

import matplotlib.image
import numpy as np
import pytest
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.store import open_run

runner = CliRunner()
METHODS = ["pca", "random", "kpca", "umap", "autoencoder"]


def test_quick_demo_tells_the_whole_story(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for loss in ("pinn", "drm"):
        figure = matplotlib.image.imread(out / f"compare-{loss}.png")
        height, width = figure.shape[:2]
        assert width > 3 * height  # one column per method, one row for the loss
        assert figure[..., :3].std() > 0.05
        for method in METHODS:
            image = matplotlib.image.imread(out / f"landscape-{loss}-{method}.png")
            assert image[..., :3].std() > 0.05, (loss, method)
            assert f"landscape-{loss}-{method}.png" in result.stdout
    rows = json.loads((out / "metrics.json").read_text())
    assert sorted((r["method"], r["trajectory"]) for r in rows) == sorted(
        (m, f"{loss}-adam-seed0") for m in METHODS for loss in ("pinn", "drm"))
    run = open_run(out / "poisson.zarr")
    for row in (r for r in rows if r["method"] == "pca"):  # e_proj of PCA, recomputed with numpy's SVD
        name, traj = row["manifold"], row["trajectory"]
        X = run.trajectory(traj).params[run.group[f"manifolds/{name}/fitted/{traj}"][...]]
        centred = X - X.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        recon = X.mean(axis=0) + centred @ vt[:2].T @ vt[:2]
        expected = np.mean(np.linalg.norm(X - recon, axis=1) / np.linalg.norm(X, axis=1))
        assert row["e_proj_mean"] == pytest.approx(expected, rel=1e-6), row
    assert {f"{m}-{loss}" for m in METHODS for loss in ("pinn", "drm")} <= set(
        n for n, _ in run.group["landscapes"].groups())
    # a second run reuses the trained trajectories instead of failing or training again
    again = runner.invoke(app, ["demo", "--quick", "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert "already trained, reused" in again.stderr
