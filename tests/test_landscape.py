import json
import math

import matplotlib.image
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.errors import InvalidSettingError, UnknownNameError
from pinnviz.landscape import compute_landscape, load_landscape
from pinnviz.manifolds import fit_manifold
from pinnviz.nets import MLP
from pinnviz.store import open_run
from pinnviz.workflows import compare_methods
from tests.conftest import module_from_vector

runner = CliRunner()


def reference_loss(net: MLP, theta: np.ndarray, name: str) -> float:
    """pinn or drm of one vector via nn.Module + autograd on 100 midpoints (independent of pinnviz's path)."""
    x = ((torch.arange(100, dtype=torch.float64) + 0.5) / 100)[:, None].requires_grad_(True)
    u = torch.sin(math.pi * x) * module_from_vector(net, torch.as_tensor(theta))(x)
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x)
    xs = x.detach()[:, 0]
    f = 8 * math.pi * torch.cos(2 * math.pi * xs) - 8 * math.pi**2 * xs * torch.sin(2 * math.pi * xs)
    if name == "pinn":
        return float(0.5 * ((d2u[:, 0] + f) ** 2).mean())
    return float((0.5 * du.detach()[:, 0] ** 2 - f * u.detach()[:, 0]).mean())


@pytest.fixture
def pca_run(short_run):
    run = open_run(short_run, mode="r+")
    fit_manifold(run, "pca", every=2)
    return run


def test_stored_landscape_matches_direct_evaluation(pca_run):
    data = compute_landscape(pca_run, "pca", resolution=12, losses=["pinn", "drm"])
    stored = load_landscape(open_run(pca_run.path).group, "pca")
    assert stored.losses["pinn"].shape == (12, 12)
    state = pca_run.group["manifolds/pca/state"]
    mean, components = state["mean_"][...], state["components_"][...]
    net = MLP.from_settings(pca_run.model)
    for i1, i0 in [(0, 0), (3, 7), (11, 11), (6, 2)]:
        theta = mean + stored.axis_0[i0] * components[0] + stored.axis_1[i1] * components[1]
        for loss in ("pinn", "drm"):
            assert stored.losses[loss][i1, i0] == pytest.approx(reference_loss(net, theta, loss), rel=1e-9)
    # the data-distance map: distance from each decoded grid vector to the nearest fitted row, by brute force
    fitted = pca_run.trajectory("pinn-adam-seed0").params[pca_run.group["manifolds/pca/fitted/pinn-adam-seed0"][...]]
    for i1, i0 in [(0, 0), (3, 7), (11, 11), (6, 2)]:
        theta = mean + stored.axis_0[i0] * components[0] + stored.axis_1[i1] * components[1]
        nearest = min(float(np.linalg.norm(theta - row)) for row in fitted)
        assert stored.data_distance[i1, i0] == pytest.approx(nearest, rel=1e-9)
    assert data.attrs["extent"][0] < data.attrs["fitted_box"][0]  # margin beyond the fitted codes
    assert stored.extrapolated[0, 0] and not stored.extrapolated[6, 6]


def test_diagnostics_are_those_of_the_paper(pca_run):
    data = compute_landscape(pca_run, "pca", resolution=4, losses=["pinn"], save=False)
    traj = pca_run.trajectory("pinn-adam-seed0")
    rows = np.flatnonzero(pca_run.group["manifolds/pca/fitted/pinn-adam-seed0"][...])
    X = traj.params[rows]
    centred = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    recon = X.mean(axis=0) + centred @ vt[:2].T @ vt[:2]
    diag = data.trajectories["pinn-adam-seed0"]
    expected = np.linalg.norm(X - recon, axis=1) / np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(diag.relative_projection_error, expected, rtol=1e-8, atol=1e-12)
    net = MLP.from_settings(pca_run.model)
    for k in (0, len(rows) // 2, len(rows) - 1):
        at_projection = reference_loss(net, recon[k], "pinn")
        true = traj.losses["pinn"][rows[k]]
        assert diag.loss_at_projection["pinn"][k] == pytest.approx(at_projection, rel=1e-8)
        assert diag.relative_loss_error["pinn"][k] == pytest.approx(abs(true - at_projection) / abs(true), rel=1e-6)
    summary = diag.summary()
    assert summary["e_proj_mean"] == pytest.approx(expected.mean(), rel=1e-8)


def test_landscape_cli_and_errors(pca_run):
    path = str(pca_run.path)
    result = runner.invoke(app, ["landscape", path, "--manifold", "pca", "--resolution", "10", "--loss", "pinn"])
    assert result.exit_code == 0, result.output
    assert "landscapes/pca" in result.stdout and "100 grid points" in result.stdout
    bad = runner.invoke(app, ["landscape", path, "--manifold", "umap"])
    assert bad.exit_code == 2 and "unknown manifold in" in bad.stderr
    bad = runner.invoke(app, ["landscape", path, "--manifold", "pca", "--loss", "energy"])
    assert bad.exit_code == 2 and "unknown loss for poisson1d 'energy'" in bad.stderr
    with pytest.raises(InvalidSettingError, match="resolution=1 must be >= 2"):
        compute_landscape(pca_run, "pca", resolution=1)
    with pytest.raises(UnknownNameError, match="unknown dtype"):
        compute_landscape(pca_run, "pca", dtype="float16")


def test_compare_writes_figure_and_tables(pca_run, tmp_path):
    result = compare_methods(pca_run, ["pca", "random", "kpca"], out_dir=tmp_path / "cmp", losses=["pinn", "drm"],
                             resolution=10, every=2)
    image = matplotlib.image.imread(result["figure"])
    assert image.shape[1] > image.shape[0] > 100  # three columns side by side
    assert image[..., :3].std() > 0.05  # not blank
    rows = json.loads((tmp_path / "cmp" / "compare-metrics.json").read_text())
    assert [r["method"] for r in rows] == ["pca", "random", "kpca"]
    pca_row = rows[0]
    assert pca_row["e_proj_mean"] == pytest.approx(result["landscapes"]["pca"].trajectories[
        "pinn-adam-seed0"].summary()["e_proj_mean"])
    assert "| method |" in (tmp_path / "cmp" / "compare-metrics.md").read_text()
    assert (tmp_path / "cmp" / "compare-metrics.csv").read_text().startswith("method,manifold,trajectory")
    with pytest.raises(InvalidSettingError, match="unknown method 'tsne'"):
        compare_methods(pca_run, ["tsne"], out_dir=tmp_path)
    before = sorted(p.name for p in pca_run.path.iterdir())
    bad = runner.invoke(app, ["compare", str(pca_run.path), "--methods", "pca", "--out", str(pca_run.path)])
    assert bad.exit_code == 2 and "inside the Zarr store" in bad.stderr
    bad = runner.invoke(app, ["demo", "--quick", "--out", str(pca_run.path / "images")])
    assert bad.exit_code == 2 and "inside the Zarr store" in bad.stderr
    assert sorted(p.name for p in pca_run.path.iterdir()) == before
