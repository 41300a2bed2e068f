"""Probes basis, goldilocks, intrinsic-dim, trajectory-pca, acceleration, bad-minima at reduced size,
checked against independent computations (nn.Module forward passes, numpy quadrature / SVD, closed forms)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.landscape import load_landscape
from pinnviz.manifolds import load_manifold
from pinnviz.nets import MLP
from pinnviz.probes import load_probe
from pinnviz.probes.acceleration import acceleration, acceleration_curves
from pinnviz.probes.bad_minima import bad_minima
from pinnviz.probes.basis import basis, basis_functions, gram_matrix, gram_rank, null_direction
from pinnviz.probes.goldilocks import goldilocks
from pinnviz.probes.intrinsic_dim import intrinsic_dim
from pinnviz.probes.trajectory_pca import trajectory_pca
from pinnviz.problems import PhysicsLosses, Poisson1D
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train
from pinnviz.trainers.constrained import random_subspace, seeded_init, train_batch, train_subspace
from pinnviz.visualizer._probes_b import (
    bad_minima_figure,
    goldilocks_figure,
    intrinsic_dim_figure,
    trajectory_pca_figure,
)
from tests.conftest import module_from_vector

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with a drm and a pinn trajectory (60 steps each, width 20, the same initialisation)."""
    path = tmp_path_factory.mktemp("probes_b") / "run.zarr"
    physics = PhysicsLosses(Poisson1D(), MLP(1, 1, 20, 2))
    for loss in ("drm", "pinn"):
        train(path, physics, TrainConfig(loss=loss, steps=60), name=loss)
    return path


def numpy_basis(net: MLP, theta: torch.Tensor, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Independent basis functions: nn.Sequential without its output layer, times sin(pi x), midpoints."""
    x = (np.arange(n) + 0.5) / n
    module = module_from_vector(net, theta)
    with torch.no_grad():
        hidden = module[:-1](torch.as_tensor(x)[:, None]).numpy()  # (n, width)
    return x, np.sin(np.pi * x)[:, None] * hidden


# ---------------------------------------------------------------------------------------------- basis
def test_gram_matches_numpy_quadrature_of_independent_basis(poisson_physics):
    theta = poisson_physics.net.init(1, generator=torch.Generator().manual_seed(3))[0]
    _, w, H = basis_functions(poisson_physics, theta)
    _, H_ref = numpy_basis(poisson_physics.net, theta)
    np.testing.assert_allclose(H.numpy(), H_ref, rtol=1e-12, atol=1e-14)
    gram_ref = H_ref.T @ H_ref / len(H_ref)  # midpoint rule on [0, 1]
    np.testing.assert_allclose(gram_matrix(H, w).numpy(), gram_ref, rtol=1e-12, atol=1e-15)
    # the output layer on these basis functions is the network's own field value
    value = poisson_physics.net.fields(theta[None], poisson_physics.prepare(theta[None])["x"], 0,
                                       poisson_physics.problem.distance).value[0, :, 0]
    Wo = poisson_physics.net.layout.view(theta[None], "output.weight")[0, 0]
    torch.testing.assert_close(H @ Wo, value, rtol=1e-12, atol=1e-13)


def test_duplicated_neuron_gives_an_exact_null_direction(poisson_physics):
    net = poisson_physics.net
    theta = net.init(1, generator=torch.Generator().manual_seed(4))
    W, b = net.layout.view(theta, "hidden.1.weight"), net.layout.view(theta, "hidden.1.bias")
    W[0, 7], b[0, 7] = W[0, 3], b[0, 3]  # views into theta: neuron 7 copies neuron 3
    theta = theta[0]
    _, w, H = basis_functions(poisson_physics, theta)
    gram = gram_matrix(H, w).numpy()
    rank, values, vectors = gram_rank(gram, 1e-12)
    assert rank <= 19 and values[0] <= 1e-15 * values[-1]
    delta = np.zeros(net.width)
    delta[3], delta[7] = 1.0, -1.0  # the known null vector
    np.testing.assert_allclose(gram @ delta, 0.0, atol=1e-15)
    v = torch.as_tensor(null_direction(net, delta))
    assert torch.count_nonzero(v) == 2  # only output weights move
    for name in ("drm", "pinn"):
        moved = poisson_physics(torch.stack([theta, theta + 3.0 * v, theta - 5.0 * v]), [name])[name]
        torch.testing.assert_close(moved[1:], moved[:1].expand(2), rtol=1e-12, atol=1e-12)
    # the Gram eigenvector found: the field moves by t H delta, of squared norm t^2 lambda_min (round-off)
    v = torch.as_tensor(null_direction(net, vectors[:, 0]))
    x = poisson_physics.prepare(theta[None])["x"]
    u = net.fields(torch.stack([theta, theta + 2.0 * v]), x, 0, poisson_physics.problem.distance).value[..., 0]
    change = ((u[1] - u[0]) ** 2 @ w).item()
    assert change <= 4.0 * (abs(values[0]) + 1e-15 * values[-1])


@pytest.mark.parametrize("loss", ["drm", "pinn"])
def test_basis_probe_stores_rank_trench_and_landscape(store, loss):
    run = open_run(store, mode="r+")
    result = basis(run, loss, span=1.0, resolution=9)
    attrs = result["attrs"]
    assert 1 <= attrs["rank"] < 20 and attrs["loss"] == loss
    # along v = [Delta, 0] the loss changes by no more than the Gram null residual allows
    assert attrs["null_relative_change"] < 1e-5
    arrays, stored = load_probe(run, f"basis-{loss}")
    assert stored["rank"] == attrs["rank"] and arrays["basis"].shape == (100, 20)
    manifold = load_manifold(run, f"basis-{loss}")
    final = run.trajectory(loss).params[-1]
    np.testing.assert_allclose(manifold.decode(np.zeros((1, 2)))[0], final, rtol=0, atol=1e-14)
    np.testing.assert_allclose(manifold.directions_ @ manifold.directions_.T, np.eye(2), atol=1e-12)
    data = load_landscape(run.group, f"basis-{loss}")
    centre = data.losses[loss][4, 4]  # grid centre is the solution
    np.testing.assert_allclose(centre, attrs["loss_at_point"], rtol=1e-10)
    row = data.losses[loss][4]  # along the null direction, through the solution
    np.testing.assert_allclose(row, centre, rtol=1e-5)


# ---------------------------------------------------------------------------------------------- trainers
def test_hypersphere_training_keeps_each_norm_at_its_radius(poisson_physics):
    theta0 = seeded_init(poisson_physics, [0, 1, 2])
    radius = torch.tensor([2.0, 10.0, 30.0], dtype=torch.float64)
    result = train_batch(poisson_physics, theta0, "pinn", steps=15, radius=radius)
    torch.testing.assert_close(result.norms, radius.expand(16, 3), rtol=1e-12, atol=0)
    torch.testing.assert_close(result.final.norm(dim=1), radius, rtol=1e-12, atol=0)


def test_batched_rows_equal_separate_runs(poisson_physics):
    theta0 = seeded_init(poisson_physics, [5, 6])
    together = train_batch(poisson_physics, theta0, "drm", steps=10, optimizer="sgd", lr=1e-3)
    alone = train_batch(poisson_physics, theta0[1:], "drm", steps=10, optimizer="sgd", lr=1e-3)
    torch.testing.assert_close(together.final[1:], alone.final, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(together.losses[:, 1:], alone.losses, rtol=1e-12, atol=1e-12)


def test_subspace_with_identity_matches_full_training(poisson_physics):
    theta0 = seeded_init(poisson_physics, [1])
    P = theta0.shape[1]
    full = train_batch(poisson_physics, theta0, "pinn", steps=12)
    sub = train_subspace(poisson_physics, theta0, torch.eye(P, dtype=torch.float64)[None], "pinn", steps=12)
    torch.testing.assert_close(sub.losses, full.losses, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(theta0 + sub.final, full.final, rtol=1e-10, atol=1e-12)


def test_random_subspace_columns_are_unit_and_padding_stays_zero(poisson_physics):
    A = random_subspace(480, [2, 5], seed=1)
    assert A.shape == (2, 480, 5)
    torch.testing.assert_close(A[0, :, :2].norm(dim=0), torch.ones(2, dtype=torch.float64))
    assert torch.all(A[0, :, 2:] == 0)
    theta0 = seeded_init(poisson_physics, [0, 0])
    result = train_subspace(poisson_physics, theta0, A, "drm", steps=5)
    assert torch.all(result.final[0, 2:] == 0) and torch.all(result.final[1] != 0)


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, store):
    cases = [
        ["probe", "basis", str(tmp_path / "missing.zarr")],
        ["probe", "basis", str(store), "--trajectory", "nope"],
        ["probe", "basis", str(store), "-o", str(tmp_path / "fig.gif")],
        ["probe", "basis", str(store), "--tolerance", "-1"],
        ["probe", "trajectory-pca", str(store), "-t", "nope"],
        ["probe", "acceleration", str(store), "--lr", "0"],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "error" in result.stderr


def test_basis_cli_writes_figure(tmp_path, store):
    path = tmp_path / "basis.png"
    result = runner.invoke(app, ["probe", "basis", str(store), "-t", "pinn", "--resolution", "5", "--force", "-o",
                                 str(path)])
    assert result.exit_code == 0, result.output
    assert "Gram rank" in result.stdout
    from pinnviz.visualizer import save_figure
    from pinnviz.visualizer._probe_figure import probe_figure

    # the file is the figure of what the probe stored (its Gram spectrum, basis and trench landscape)
    again = save_figure(probe_figure(open_run(store), ["basis-pinn"]), tmp_path / "again.png")
    np.testing.assert_array_equal(imread(path), imread(again))
    assert float(imread(path)[..., :3].std()) > 0.05


# ---------------------------------------------------------------------------------------------- trajectory-pca
def test_trajectory_pca_matches_numpy_svd(store):
    run = open_run(store, mode="r+")
    result = trajectory_pca(run, "drm", resolution=5)
    X = run.trajectory("drm").params
    _, s, vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(result["explained_variance_ratio"], s**2 / np.sum(s**2), rtol=1e-8, atol=1e-14)
    for k in range(3):  # the same components up to sign
        np.testing.assert_allclose(abs(result["components"][k] @ vt[k]), 1.0, rtol=1e-8)
    np.testing.assert_allclose(np.abs(result["coords"]), np.abs((X - X.mean(axis=0)) @ vt[:3].T), rtol=1e-7,
                               atol=1e-9)
    attrs = load_probe(run, "trajectory-pca-drm")[1]
    assert attrs["planes"] == ["trajectory-pca-drm-12", "trajectory-pca-drm-13", "trajectory-pca-drm-23"]
    plane = load_landscape(run.group, "trajectory-pca-drm-13")
    assert plane.losses["drm"].shape == (5, 5) and np.isfinite(plane.losses["drm"]).all()
    # the trajectory lies near the plane of PC1 and PC2 only: its projection error there is the smallest
    errors = [np.mean(load_landscape(run.group, p).trajectories["drm"].relative_projection_error)
              for p in attrs["planes"]]
    assert errors[0] == min(errors)


def test_trajectory_pca_figure_has_four_panels(store):
    run = open_run(store, mode="r+")
    result = trajectory_pca(run, "pinn", resolution=5)
    planes = {p: load_landscape(run.group, p) for p in result["attrs"]["planes"]}
    fig = trajectory_pca_figure(load_probe(run, "trajectory-pca-pinn"), planes)
    assert len([ax for ax in fig.axes if ax.get_label() != "<colorbar>"]) == 4
    assert len(fig.axes[1].collections) > 0


# ---------------------------------------------------------------------------------------------- acceleration
def test_acceleration_of_a_quadratic_curve_is_analytic():
    dt, T = 1e-3, 12
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, 7))
    t = dt * np.arange(T)[:, None]
    curves = acceleration_curves(a + b * t + c * t**2, dt)
    np.testing.assert_allclose(curves["acceleration"], 2 * np.linalg.norm(c), rtol=1e-6)
    forward = b + c * (2 * t[1:-1] + dt)  # (theta(t + dt) - theta(t)) / dt exactly
    np.testing.assert_allclose(curves["speed"], np.linalg.norm(forward, axis=1), rtol=1e-9)
    np.testing.assert_allclose(curves["normalised"], 2 * np.linalg.norm(c) / np.sum(forward**2, axis=1), rtol=1e-6)


def test_acceleration_probe_uses_learning_rate_as_time_step(store):
    run = open_run(store, mode="r+")
    result = acceleration(run, "pinn")
    X = run.trajectory("pinn").params
    expected = np.linalg.norm(X[2:] - 2 * X[1:-1] + X[:-2], axis=1) / 1e-3**2
    np.testing.assert_allclose(result["acceleration"], expected, rtol=1e-12)
    assert result["attrs"]["dt"] == 1e-3 and len(result["steps"]) == len(X) - 2


# ---------------------------------------------------------------------------------------------- goldilocks
def test_goldilocks_rows_stay_on_their_spheres_and_match_single_runs(store, poisson_physics):
    run = open_run(store, mode="r+")
    result = goldilocks(run, ["drm", "pinn"], radii=[3.0, 12.0], trials=2, scales=[0.01, 1.0], steps=6,
                        log_every=2)
    assert result["pinn/final"].shape == (2, 2) and result["drm/free_norms"].shape == (4, 2, 2)
    # an independent single run: trial 1 of pinn at R = 12 (seed 1, projected Adam)
    theta = seeded_init(poisson_physics, [1])
    theta = 12.0 * theta / theta.norm()
    param = torch.nn.Parameter(theta.clone())
    opt = torch.optim.Adam([param], lr=1e-3)
    for _ in range(6):
        opt.zero_grad()
        poisson_physics(param, ["pinn"])["pinn"].sum().backward()
        opt.step()
        with torch.no_grad():
            param.mul_(12.0 / param.norm())
    expected = poisson_physics(param.detach(), ["pinn"])["pinn"].item()
    np.testing.assert_allclose(result["pinn/final"][1, 1], expected, rtol=1e-10)
    # the unconstrained runs start at the scaled default initialisation
    start = seeded_init(poisson_physics, [0]).norm().item()
    np.testing.assert_allclose(result["drm/free_norms"][0, :, 0], [0.01 * start, start], rtol=1e-12)
    fig = goldilocks_figure(load_probe(run, "goldilocks"))
    assert len(fig.axes) == 4 and all(ax.lines for ax in fig.axes)


# ---------------------------------------------------------------------------------------------- intrinsic-dim
def test_intrinsic_dim_reference_is_full_training(store, poisson_physics):
    run = open_run(store, mode="r+")
    result = intrinsic_dim(run, ["drm", "pinn"], dims=[1, 3], steps=5, log_every=1)
    assert result["drm/curves"].shape == (6, 2)
    full = train_batch(poisson_physics, seeded_init(poisson_physics, [0]), "drm", steps=5)
    np.testing.assert_allclose(result["drm/reference"], full.losses[:, 0].numpy(), rtol=1e-10)
    # every subspace run starts at its own default initialisation (w = 0): the loss of seed k's vector
    start = poisson_physics(seeded_init(poisson_physics, [0, 1]), ["pinn"])["pinn"].numpy()
    np.testing.assert_allclose(result["pinn/curves"][0], start, rtol=1e-12)
    fig = intrinsic_dim_figure(load_probe(run, "intrinsic-dim"))
    assert len(fig.axes) == 2 and all(len(ax.lines) == 3 for ax in fig.axes)


# ---------------------------------------------------------------------------------------------- bad-minima
def test_bad_minima_batches_match_separate_runs_of_each_width(store):
    run = open_run(store, mode="r+")
    result = bad_minima(run, ["drm", "pinn"], widths=[20, 5], runs=2, steps=4, log_every=2)
    assert result["pinn/sgd/w5"].shape == (3, 2)
    small = PhysicsLosses(Poisson1D(), MLP(1, 1, 5, 2))
    alone = train_batch(small, seeded_init(small, [1]), "pinn", optimizer="sgd", steps=4, log_every=2)
    np.testing.assert_allclose(result["pinn/sgd/w5"][:, 1], alone.losses[:, 0].numpy(), rtol=1e-10)
    fig = bad_minima_figure(load_probe(run, "bad-minima"))
    assert len(fig.axes) == 4 and all(len(ax.lines) == 4 for ax in fig.axes)


def test_training_probe_cli_errors(store):
    for args in (["probe", "goldilocks", str(store), "--radii", "1,x"],
                 ["probe", "intrinsic-dim", str(store), "--dims", "0"],
                 ["probe", "bad-minima", str(store), "--optimizers", "lbfgs"],
                 ["probe", "goldilocks", str(store), "--loss", "energy"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
