import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.errors import InvalidSettingError
from pinnviz.probes import load_probe, ntk
from pinnviz.probes.ntk import ntk_blocks, ntk_subset
from pinnviz.problems import build_physics
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train
from pinnviz.visualizer._ntk import ntk_figure
from tests.conftest import module_from_vector

TINY = {"points": 30, "ic_points": 10, "bc_points": 8, "nx": 8, "nt": 4}


def autograd_jacobians(physics, theta, subset):
    """J_u and J_r through an nn.Module: one autograd gradient per point (the reference)."""
    problem = physics.problem
    sets = problem.point_sets()
    module = module_from_vector(physics.net, theta)
    weights = list(module.parameters())

    def flat_grad(value):  # the output bias does not reach a derivative: a zero column
        grads = torch.autograd.grad(value, weights, retain_graph=True, allow_unused=True)
        pairs = zip(grads, weights, strict=True)
        return torch.cat([(torch.zeros_like(w) if g is None else g).reshape(-1) for g, w in pairs])

    rows_u = []
    for i in subset["ic"]:
        rows_u.append(flat_grad(module(sets["ic"][i : i + 1])[0, 0]))
    for i in subset["bc"]:
        rows_u.append(flat_grad(module(sets["bc0"][i : i + 1])[0, 0] - module(sets["bc1"][i : i + 1])[0, 0]))
    rows_r = []
    for i in subset["residual"]:
        x = sets["residual"][i : i + 1].clone().requires_grad_(True)
        u = module(x)[0, 0]
        (du,) = torch.autograd.grad(u, x, create_graph=True)
        r = problem.pde_residual(u, du[0, 0], du[0, 1])
        rows_r.append(flat_grad(r))
    return torch.stack(rows_u), torch.stack(rows_r)


@pytest.mark.parametrize("name", ["convection1d", "reaction1d"])
def test_ntk_blocks_match_autograd(name):
    physics = build_physics(name, TINY, width=6, depth=2)
    theta = physics.net.init(1, generator=torch.Generator().manual_seed(3))[0]
    subset = ntk_subset(physics.problem, 6, seed=1)
    j_u, j_r = ntk_blocks(physics, theta, physics.prepare(theta[None]), subset)
    ref_u, ref_r = autograd_jacobians(physics, theta, subset)
    torch.testing.assert_close(j_u, ref_u, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(j_r, ref_r, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(j_u @ j_u.T, ref_u @ ref_u.T, rtol=1e-10, atol=1e-12)  # K_uu entries


@pytest.fixture(scope="module")
def ntk_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("ntk") / "run.zarr"
    physics = build_physics("reaction1d", TINY, width=6, depth=1)
    train(path, physics, TrainConfig(loss="total", lr=1e-2, steps=20, log_every=5), name="adam")
    return path


def test_probe_traces_spectra_and_delta(ntk_store):
    run = open_run(ntk_store, mode="r+")
    result = ntk(run, "adam", every=1, points=5)
    np.testing.assert_array_equal(result["step"], [0, 5, 10, 15, 20])
    assert result["delta"][0] == 0.0 and np.all(result["delta"][1:] > 0)
    np.testing.assert_allclose(result["eig_rr"].sum(axis=1), result["trace_rr"], rtol=1e-10)
    np.testing.assert_allclose(result["eig_uu"].sum(axis=1), result["trace_uu"], rtol=1e-10)
    assert result["eig_rr"].shape == (5, 5) and result["eig_uu"].shape == (5, 5)
    arrays, attrs = load_probe(run, "ntk-adam")
    np.testing.assert_array_equal(arrays["delta"], result["delta"])
    assert attrs["problem"] == "reaction1d"
    with pytest.raises(InvalidSettingError, match="points=1 must be >= 2"):
        ntk(run, "adam", points=1)


def test_ntk_needs_a_pointwise_problem(tmp_path):
    physics = build_physics("poisson1d")
    train(tmp_path / "p.zarr", physics, TrainConfig(steps=1), name="p")
    with pytest.raises(InvalidSettingError, match="no per-point residual"):
        ntk(open_run(tmp_path / "p.zarr", mode="r+"))


def test_cli_and_figure(ntk_store, tmp_path):
    figure = tmp_path / "ntk.png"
    result = CliRunner().invoke(app, ["probe", "ntk", str(ntk_store), "--points", "4", "--every", "2",
                                      "--force", "-o", str(figure)])
    assert result.exit_code == 0, result.output
    assert "Delta K(end)" in result.stdout and figure.stat().st_size > 10_000
    arrays, _ = load_probe(open_run(ntk_store), "ntk-adam")
    fig = ntk_figure([("a", arrays), ("b", arrays)])
    assert len(fig.axes) == 3 and all(ax.lines for ax in fig.axes)
    assert np.isfinite(fig.axes[0].lines[0].get_ydata()).all()
