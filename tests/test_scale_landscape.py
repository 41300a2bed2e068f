"""Landscapes at large P: memory-sized grid chunks, the data-distance map without holding the grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pinnviz.landscape._evaluate as evaluate_module
from pinnviz.landscape import compute_landscape
from pinnviz.manifolds import fit_manifold, load_manifold
from pinnviz.nets import MLP
from pinnviz.problems import PhysicsLosses, Poisson1D
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train
from tests.test_landscape import reference_loss


@pytest.fixture(scope="module")
def large_run(tmp_path_factory):
    """A real 99,852-parameter Poisson trajectory (width 314, depth 2) with a PCA plane and a
    subspace autoencoder fitted on it."""
    path = tmp_path_factory.mktemp("large") / "run.zarr"
    physics = PhysicsLosses(Poisson1D(), MLP(1, 1, 314, 2))
    assert physics.net.n_params == 99_852
    train(path, physics, TrainConfig(loss="pinn", steps=16, lr=1e-3))
    run = open_run(path, mode="r+")
    fit_manifold(run, "pca")
    fit_manifold(run, "autoencoder", name="ae", subspace=5, epochs=40, threads=1)
    return path


def _fitted(run) -> np.ndarray:
    return np.concatenate([run.trajectory(n).params for n in run.trajectory_names()])


@pytest.mark.parametrize("name", ["pca", "ae"])
def test_landscape_at_100k_parameters_equals_direct_evaluation(large_run, monkeypatch, name):
    monkeypatch.setattr(evaluate_module, "MEMORY_BUDGET", 8 << 20)  # 3 grid vectors a chunk, 2-row blocks
    assert evaluate_module.vectors_per_chunk(99_852) == 3
    run = open_run(large_run, mode="r+")
    data = compute_landscape(run, name, resolution=5, losses=["pinn", "drm"], save=False)
    manifold = load_manifold(run, name)
    net = MLP.from_settings(run.model)
    g0, g1 = np.meshgrid(data.axis_0, data.axis_1)
    Z = np.stack([g0.ravel(), g1.ravel()], axis=1)
    decoded = manifold.decode(Z)  # 25 vectors: small enough to check against all at once
    for i1, i0 in [(0, 0), (2, 3), (4, 4)]:
        theta = decoded[i1 * 5 + i0]
        for loss in ("pinn", "drm"):
            assert data.losses[loss][i1, i0] == pytest.approx(reference_loss(net, theta, loss), rel=1e-9)
    X = _fitted(run)
    brute = np.sqrt(((decoded[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    np.testing.assert_allclose(data.data_distance.ravel(), brute, rtol=1e-6, atol=1e-9 * np.abs(X).max())
    diag = data.trajectories[run.trajectory_names()[0]]
    recon = manifold.decode(manifold.encode(X))
    np.testing.assert_allclose(diag.projection_error, np.linalg.norm(X - recon, axis=1), rtol=1e-8, atol=1e-12)


def test_float32_evaluation_on_request(large_run, monkeypatch):
    monkeypatch.setattr(evaluate_module, "MEMORY_BUDGET", 8 << 20)
    run = open_run(large_run, mode="r+")
    exact = compute_landscape(run, "pca", resolution=4, losses=["drm"], save=False)
    single = compute_landscape(run, "pca", resolution=4, losses=["drm"], dtype="float32", save=False)
    assert single.attrs["dtype"] == "float32"
    np.testing.assert_allclose(single.losses["drm"], exact.losses["drm"], rtol=1e-3)
    assert not np.array_equal(single.losses["drm"], exact.losses["drm"])  # really evaluated in float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_landscape_on_cuda_equals_cpu(large_run):
    run = open_run(large_run, mode="r+")
    cpu = compute_landscape(run, "pca", resolution=4, losses=["pinn"], save=False)
    gpu = compute_landscape(run, "pca", resolution=4, losses=["pinn"], device="cuda", save=False)
    np.testing.assert_allclose(gpu.losses["pinn"], cpu.losses["pinn"], rtol=1e-9)
    np.testing.assert_allclose(gpu.data_distance, cpu.data_distance, rtol=1e-6)
