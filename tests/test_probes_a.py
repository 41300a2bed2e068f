"""Probes mli, hessian-walk, mode-connectivity, random-planes, spectrum and hessian-plane at reduced size."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.image import imread
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.errors import InvalidSettingError, UnknownNameError
from pinnviz.landscape import compute_landscape
from pinnviz.manifolds import load_manifold
from pinnviz.probes import (
    fast_hessian,
    hessian_plane,
    hessian_walk,
    load_probe,
    loss_hessian,
    mli,
    mode_connectivity,
    random_planes,
    spectrum,
)
from pinnviz.probes.mli import train_mli_ensembles
from pinnviz.probes.mode_connectivity import bezier, midpoint_nodes
from pinnviz.problems import build_physics
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train
from pinnviz.visualizer import save_figure
from pinnviz.visualizer._probes_a import (
    hessian_walk_figure,
    mli_figure,
    mode_connectivity_figure,
    random_planes_figure,
    spectrum_figure,
)
from tests.conftest import module_from_vector

runner = CliRunner()
WIDTH = 6  # 1-6-6-1: 60 parameters


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two seeds per loss, 120 Adam steps (lr 2e-2), every 20th row stored."""
    path = tmp_path_factory.mktemp("probes") / "run.zarr"
    physics = build_physics("poisson1d", width=WIDTH, depth=2)
    for loss in ("drm", "pinn"):
        train(path, physics, TrainConfig(loss=loss, steps=120, lr=2e-2, seeds=2, log_every=20), name=loss)
    return path


def _run(store):
    return open_run(store, mode="r+")


def test_fast_hessian_equals_torch_func_hessian(store):
    run = _run(store)
    physics = run.physics()
    theta = torch.as_tensor(run.trajectory("pinn-seed0").params[-1])
    for name in ("drm", "pinn"):
        expected = loss_hessian(physics, theta, name)
        torch.testing.assert_close(fast_hessian(physics, theta, name), expected, rtol=1e-9,
                                   atol=1e-11 * expected.abs().max().item())


def test_mli_curve_ends_are_the_stored_losses(store):
    run = _run(store)
    result = mli(run, points=21)
    assert result["n_curves"] == 4
    for k, traj in enumerate(result["trajectories"]):
        stored = run.trajectory(traj)
        loss = stored.attrs["loss"]
        assert result["losses"][k] == loss
        np.testing.assert_allclose(result["curves"][k, [0, -1]], stored.losses[loss][[0, -1]], rtol=1e-10, atol=1e-12)
        rises = np.diff(result["curves"][k])
        assert result["monotonic"][k] == (rises.max() <= 1e-6 * np.ptp(result["curves"][k]))
    arrays, attrs = load_probe(run, "mli")
    assert attrs["n_monotonic"] == int(arrays["monotonic"].sum()) and attrs["points"] == 21
    fig = mli_figure((arrays, attrs))
    assert len([ax for ax in fig.axes if ax.lines]) == 2  # drm and pinn, one scale
    assert all(len(ax.lines) == 2 for ax in fig.axes)
    canvas = FigureCanvasAgg(fig)  # one scale: the suptitle must fit in the figure (it was clipped)
    canvas.draw()
    extent = fig._suptitle.get_window_extent(canvas.get_renderer())
    assert fig.get_suptitle().startswith("MLI") and fig.bbox.x0 <= extent.x0 and extent.x1 <= fig.bbox.x1


def test_mli_ensembles_are_trained_once_as_batches(tmp_path):
    path = tmp_path / "mli.zarr"
    physics = build_physics("poisson1d", width=4, depth=1)
    train(path, physics, TrainConfig(loss="pinn", steps=1))  # the store
    run = _run(path)
    names = train_mli_ensembles(run, losses=["drm"], scales=[1, 2], seeds=2, steps=5, log_every=5)
    assert names == ["mli-drm-x1-seed0", "mli-drm-x1-seed1", "mli-drm-x2-seed0", "mli-drm-x2-seed1"]
    batches = {run.trajectory_attrs(n)["batch"] for n in names}
    assert len(batches) == 2  # one batch per scale, not one process per seed
    assert train_mli_ensembles(run, losses=["drm"], scales=[1, 2], seeds=2, steps=5) == names  # reused
    result = mli(run, names, points=5, save=False)
    np.testing.assert_array_equal(result["scale"], [1, 1, 2, 2])


def test_hessian_walk_follows_the_smallest_eigenvector(store):
    run = _run(store)
    physics = run.physics()
    result = hessian_walk(run, "drm-seed0", eta=0.5, steps=4)
    path = torch.as_tensor(result["path"])
    H0 = loss_hessian(physics, path[0], "drm")  # independent Hessian
    v = (path[1] - path[0]) / 0.5
    torch.testing.assert_close(torch.linalg.norm(v), torch.tensor(1.0, dtype=v.dtype), rtol=1e-10, atol=0)
    lam = result["eigenvalue"][0]
    torch.testing.assert_close(H0 @ v, lam * v, rtol=0, atol=1e-8 * H0.abs().max().item())
    assert abs(lam) == pytest.approx(torch.linalg.eigvalsh(H0).abs().min().item(), rel=1e-6, abs=1e-12)
    steps = np.diff(result["path"], axis=0)
    assert np.all(np.sum(steps[1:] * steps[:-1], axis=1) >= 0)  # no sign flips
    expected = physics.evaluate(path, ["drm"])["drm"].numpy()
    np.testing.assert_allclose(result["loss"], expected, rtol=1e-12)
    np.testing.assert_allclose(result["distance"], np.linalg.norm(result["path"] - result["path"][0], axis=1))
    assert result["distance"][1] == pytest.approx(0.5)
    fig = hessian_walk_figure([load_probe(run, "hessian-walk-drm-seed0")])
    assert len(fig.axes[0].lines) == 2 and np.isfinite(fig.axes[0].lines[0].get_ydata()).all()


def _equation_5(physics, loss, t1, p, t2, nodes=16):
    """Equation (5) by a Python loop over midpoint nodes (the independent check)."""
    batch = physics.prepare(t1[None])
    reference = physics.evaluate(t1[None], [loss], batch=batch)[loss][0]
    total = 0.0
    for k in range(nodes):
        t = (k + 0.5) / nodes
        point = (1 - t) ** 2 * t1 + 2 * t * (1 - t) * p + t**2 * t2
        total += 0.5 * float(physics.evaluate(point[None], [loss], batch=batch)[loss][0] - reference) ** 2 / nodes
    return total


def test_mode_connectivity_bezier_ends_and_optimal_control_point(store):
    run = _run(store)
    physics = run.physics()
    result = mode_connectivity(run, "pinn-seed0", "pinn-seed1", iterations=100, nodes=16, points=11)
    t1, t2 = (torch.as_tensor(run.trajectory(n).params[-1]) for n in ("pinn-seed0", "pinn-seed1"))
    ends = [run.trajectory(n).losses["pinn"][-1] for n in ("pinn-seed0", "pinn-seed1")]
    np.testing.assert_allclose(result["curved"][[0, -1]], ends, rtol=1e-10)
    np.testing.assert_allclose(result["straight"][[0, -1]], ends, rtol=1e-10)
    # the midpoint control point makes the Bezier curve the straight line
    t = torch.linspace(0, 1, 7, dtype=t1.dtype)
    torch.testing.assert_close(bezier(t1, 0.5 * (t1 + t2), t2, t), t1 + t[:, None] * (t2 - t1))
    p = torch.as_tensor(result["control"])
    at_p = _equation_5(physics, "pinn", t1, p, t2)
    assert at_p == pytest.approx(result["objective"][-1], rel=1e-8)
    assert at_p < 0.1 * _equation_5(physics, "pinn", t1, 0.5 * (t1 + t2), t2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):  # brute force: random nearby control points are no better
        bump = torch.randn(p.shape, generator=generator, dtype=p.dtype)
        assert at_p <= _equation_5(physics, "pinn", t1, p + 0.05 * bump / bump.norm(), t2) * (1 + 1e-9)
    assert result["barrier_curved"] < result["barrier_straight"]
    nodes, weights = midpoint_nodes(4)
    torch.testing.assert_close(nodes, torch.tensor([0.125, 0.375, 0.625, 0.875], dtype=torch.float64))
    assert float(weights.sum()) == pytest.approx(1.0)
    fig = mode_connectivity_figure([load_probe(run, result["name"])])
    assert len(fig.axes[0].lines) == 2


def test_random_planes_filter_normalised_and_exact(store):
    run = _run(store)
    physics = run.physics()
    result = random_planes(run, "drm-seed0", pairs=4, resolution=5, extent=0.5, losses=["drm", "pinn"])
    center, directions = result["center"], result["directions"]
    assert directions.shape == (4, 2, physics.net.n_params)
    for entry in physics.net.layout.entries:
        block_c = center[entry.offset : entry.offset + entry.size].reshape(entry.shape)
        for d in directions.reshape(-1, directions.shape[-1]):
            block_d = d[entry.offset : entry.offset + entry.size].reshape(entry.shape)
            if len(entry.shape) == 2:  # each neuron's incoming weights
                np.testing.assert_allclose(np.linalg.norm(block_d, axis=1), np.linalg.norm(block_c, axis=1))
            else:
                assert np.linalg.norm(block_d) == pytest.approx(np.linalg.norm(block_c))
    grid = result["losses"]["drm"]
    assert grid.shape == (4, 5, 5)
    axis = result["axis"]
    k, i_b, i_a = 2, 1, 4
    point = center + axis[i_a] * directions[k, 0] + axis[i_b] * directions[k, 1]
    expected = physics.evaluate(torch.as_tensor(point)[None], ["drm"])["drm"][0].item()
    assert grid[k, i_b, i_a] == pytest.approx(expected, rel=1e-12)
    assert grid[k, 2, 2] == pytest.approx(run.trajectory("drm-seed0").losses["drm"][-1], rel=1e-10)
    fig = random_planes_figure(load_probe(run, result["name"]), "pinn")
    assert sum(1 for ax in fig.axes if ax.collections) >= 4


def test_stochastic_planes_and_integrand_variance(store):
    run = _run(store)
    physics = run.physics()
    result = random_planes(run, "drm-seed0", pairs=1, resolution=3, losses=["drm", "pinn"], stochastic=50)
    theta = torch.as_tensor(result["center"])
    module = module_from_vector(physics.net, theta)  # independent: nn.Module + autograd in x
    x = ((torch.arange(100, dtype=torch.float64) + 0.5) / 100)[:, None].requires_grad_(True)
    u = torch.sin(math.pi * x) * module(x)
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x)
    xs = x.detach()[:, 0]
    exact = -2 * xs * torch.sin(2 * math.pi * xs)
    f = -(-8 * math.pi * torch.cos(2 * math.pi * xs) + 8 * math.pi**2 * xs * torch.sin(2 * math.pi * xs))
    del exact
    g_drm = (0.5 * du.detach()[:, 0] ** 2 - f * u.detach()[:, 0]).numpy()
    g_pinn = (0.5 * (d2u[:, 0] + f) ** 2).numpy()
    assert result["variance"]["drm"] == pytest.approx(np.var(g_drm), rel=1e-8)
    assert result["variance"]["pinn"] == pytest.approx(np.var(g_pinn), rel=1e-8)
    deterministic = physics.evaluate(theta[None], ["drm"])["drm"][0].item()
    grid = result["losses"]["drm"]
    assert np.isfinite(grid).all() and grid[0, 1, 1] != pytest.approx(deterministic, rel=1e-9)  # re-drawn
    attrs = load_probe(run, result["name"])[1]
    assert attrs["stochastic"] == 50 and set(attrs["variance"]) == {"drm", "pinn"}


def test_spectrum_matches_independent_hessians(store):
    run = _run(store)
    physics = run.physics()
    result = spectrum(run, "pinn-seed1", every=3)
    stored = run.trajectory("pinn-seed1")
    np.testing.assert_array_equal(result["step"], stored.steps[[0, 3, 6]])
    expected = torch.linalg.eigvalsh(loss_hessian(physics, torch.as_tensor(stored.params[3]), "pinn")).numpy()
    np.testing.assert_allclose(result["eigenvalues"][1], expected, rtol=0, atol=1e-9 * np.abs(expected).max())
    np.testing.assert_allclose(result["largest"], result["eigenvalues"][:, -1])
    assert np.all(result["most_negative"] >= 0)
    fig = spectrum_figure([load_probe(run, result["name"])])
    assert len(fig.axes) == 3 and len(fig.axes[1].lines) == 2  # histogram, curves, colour bar


def test_spectrum_lanczos_gives_the_extreme_eigenvalues_of_the_dense_hessian(store):
    run = _run(store)
    physics = run.physics()
    result = spectrum(run, "pinn-seed0", every=3, lanczos=True, name="spectrum-lanczos")
    stored = run.trajectory("pinn-seed0")
    assert result["eigenvalues"].shape == (3, 2) and load_probe(run, "spectrum-lanczos")[1]["method"] == "lanczos"
    for i, row in enumerate((0, 3, 6)):
        dense = torch.linalg.eigvalsh(loss_hessian(physics, torch.as_tensor(stored.params[row]), "pinn")).numpy()
        np.testing.assert_allclose(result["eigenvalues"][i], dense[[0, -1]], rtol=1e-8, atol=1e-10 * abs(dense).max())
        assert result["spectral_norm"][i] == pytest.approx(np.abs(dense).max(), rel=1e-8)


def test_lanczos_spectral_norm_of_the_convection_residual_at_initialisation():
    from pinnviz.probes.hessian_landscape import extreme_eigenvalues

    physics = build_physics("convection1d", {"beta": 40, "points": 120}, width=20, depth=1)
    theta = physics.net.init(1, generator=torch.Generator().manual_seed(3))[0]
    dense = torch.linalg.eigvalsh(loss_hessian(physics, theta, "residual")).numpy()
    assert dense[0] < 0 < dense[-1]  # an indefinite Hessian: both ends matter for the norm
    np.testing.assert_allclose(extreme_eigenvalues(physics, theta, "residual"), dense[[0, -1]], rtol=1e-8)


def test_spectrum_lanczos_from_the_cli(store):
    result = runner.invoke(app, ["probe", "spectrum", str(store), "-t", "drm-seed1", "--lanczos", "--every", "6"])
    assert result.exit_code == 0, result.output
    arrays, attrs = load_probe(open_run(store), "spectrum-drm-seed1")
    assert attrs["method"] == "lanczos" and arrays["eigenvalues"].shape == (2, 2)
    assert "spectral norm" in result.output and f"{arrays['spectral_norm'][-1]:.4g}" in result.output


def test_spectrum_with_x_plus_tanh_retrains(store, tmp_path):
    run = _run(store)
    other = spectrum(run, "drm-seed0", every=6, activation="x+tanh")
    assert other["name"] == "spectrum-drm-seed0-x+tanh" and other["activation"] == "x+tanh"
    # independent: train the same configuration with x+tanh and take the Hessian of its last row
    physics = run.physics(activation="x+tanh")
    train(tmp_path / "x.zarr", physics, TrainConfig(loss="drm", steps=120, lr=2e-2, seed=0, log_every=20), name="a")
    last = open_run(tmp_path / "x.zarr").trajectory("a").params[-1]
    expected = torch.linalg.eigvalsh(loss_hessian(physics, torch.as_tensor(last), "drm")).numpy()
    np.testing.assert_allclose(other["eigenvalues"][-1], expected, rtol=0, atol=1e-9 * np.abs(expected).max())
    tanh_last = torch.as_tensor(run.trajectory("drm-seed0").params[-1])
    assert not np.allclose(last, tanh_last.numpy())  # really retrained with the other activation
    with pytest.raises(UnknownNameError, match="unknown activation 'relu'"):
        spectrum(run, "drm-seed0", activation="relu")


def test_hessian_plane_is_a_landscape_manifold(store):
    run = _run(store)
    physics = run.physics()
    manifold, report = hessian_plane(run, "pinn-seed0")
    theta = torch.as_tensor(run.trajectory("pinn-seed0").params[-1])
    H = loss_hessian(physics, theta, "pinn").numpy()
    eig = np.linalg.eigvalsh(H)
    np.testing.assert_allclose(report["eigenvalues"], eig[[-1, -2]], rtol=1e-8)
    for lam, v in zip(report["eigenvalues"], manifold.directions_, strict=True):
        np.testing.assert_allclose(H @ v, lam * v, atol=1e-8 * abs(eig).max())
    loaded = load_manifold(run, "hessian-plane")
    Z = np.array([[0.3, -0.2], [1.0, 2.0]])
    np.testing.assert_allclose(loaded.decode(Z), manifold.decode(Z))
    np.testing.assert_allclose(loaded.encode(loaded.decode(Z)), Z, atol=1e-12)
    data = compute_landscape(run, "hessian-plane", resolution=6, losses=["pinn"])
    assert data.losses["pinn"].shape == (6, 6) and "pinn-seed0" in data.trajectories
    with pytest.raises(InvalidSettingError, match="probe hessian-plane"):
        type(manifold)().fit(np.zeros((3, 60)))


def test_cli_runs_probes_and_writes_figures(store, tmp_path):
    for args in (["mli", "-o", str(tmp_path / "mli.png")],
                 ["hessian-walk", "-t", "pinn-seed0", "--steps", "3", "-o", str(tmp_path / "walk.svg")],
                 ["mode-connectivity", "-t", "drm-seed0,drm-seed1", "--iterations", "20", "-o",
                  str(tmp_path / "mc.png")],
                 ["random-planes", "-t", "drm-seed1", "--pairs", "2", "--resolution", "4", "--stochastic", "20",
                  "-o", str(tmp_path / "rp.pdf")],
                 ["spectrum", "-t", "drm-seed1", "--every", "6", "-o", str(tmp_path / "sp.png")],
                 ["hessian-plane", "-t", "drm-seed1", "--name", "hp"]):
        result = runner.invoke(app, ["probe", args[0], str(store), "--force", *args[1:]])  # earlier tests stored them
        assert result.exit_code == 0, result.output
    # each file is the figure of what the probe stored: the same figure drawn from the store is identical
    run = _run(store)
    for name, fig in (("mli.png", mli_figure(load_probe(run, "mli"))),
                      ("mc.png", mode_connectivity_figure([load_probe(run, "mode-connectivity-drm-seed0-drm-seed1")])),
                      ("sp.png", spectrum_figure([load_probe(run, "spectrum-drm-seed1")]))):
        np.testing.assert_array_equal(imread(tmp_path / name), imread(save_figure(fig, tmp_path / f"again-{name}")))
    assert ET.parse(tmp_path / "walk.svg").getroot().tag.endswith("svg")
    assert (tmp_path / "rp.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(("args", "text"), [
    (["hessian-walk", "-t", "nope"], "unknown trajectory in"),
    (["mli", "-o", "figure.gif"], "suffix must be one of"),
    (["mode-connectivity", "-t", "drm-seed0"], "needs pairs of trajectories"),
    (["random-planes", "--at", "middle"], "at='middle' must be one of"),
    (["spectrum", "--loss", "energy"], "unknown loss"),
    (["mli", "--scales", "1,x"], "must be comma-separated numbers"),
    (["hessian-walk", "--eta", "-1"], "eta=-1.0 must be a positive number"),
])
def test_cli_errors_are_one_line(store, args, text):
    result = runner.invoke(app, ["probe", args[0], str(store), *args[1:]])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], result.stderr


def test_cli_missing_store(tmp_path):
    result = runner.invoke(app, ["probe", "mli", str(tmp_path / "none.zarr")])
    assert result.exit_code == 2 and "no store at" in result.stderr


def test_figures_save(store, tmp_path):
    run = _run(store)
    run.overwrite = True  # earlier tests stored probes/mli
    mli(run, points=5)
    fig = mli_figure(load_probe(run, "mli"))
    image = imread(save_figure(fig, tmp_path / "m.png"))
    assert image.shape[:2] == (round(fig.get_figheight() * fig.dpi), round(fig.get_figwidth() * fig.dpi))
    assert float(image[..., :3].std()) > 0.05  # not blank
    curves = [line for ax in fig.axes for line in ax.get_lines() if len(line.get_xdata()) == 5]
    stored = load_probe(run, "mli")[0]["curves"]
    assert len(curves) >= len(stored)
    for line in curves[: len(stored)]:
        assert any(np.allclose(line.get_ydata(), row) for row in stored)  # the stored curves are what is drawn
