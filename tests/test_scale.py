"""Large trajectories: out-of-core PCA, the subspace autoencoder, float32 stores, bounded writer blocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import zarr
from typer.testing import CliRunner

import pinnviz.manifolds._fit as fit_module
import pinnviz.manifolds._outofcore as outofcore
import pinnviz.store._writer as writer_module
from pinnviz.cli import app
from pinnviz.manifolds import AutoencoderManifold, PCAManifold, fit_manifold, load_manifold, manifold_info
from pinnviz.manifolds._outofcore import RowSource, snapshot_pca
from pinnviz.nets import MLP
from pinnviz.problems import PhysicsLosses, Poisson1D
from pinnviz.store import open_run
from pinnviz.store._writer import chunk_shape, rows_per_block
from pinnviz.trainers import TrainConfig, resume, train

runner = CliRunner()


@pytest.fixture
def split_run(tmp_path, monkeypatch):
    """Two real 480-parameter trajectories stored in chunks of 16 rows x 8 columns (as a 1 M-parameter
    net's 16 x 16,384), so that column blocks cross many chunks."""
    monkeypatch.setattr(writer_module, "CHUNK_BYTES", 1024)
    path = tmp_path / "run.zarr"
    physics = PhysicsLosses(Poisson1D(), MLP(1, 1, 20, 2))
    train(path, physics, TrainConfig(loss="pinn", steps=60, seeds=2, lr=1e-2))
    return path


def _numpy_plane(X: np.ndarray):
    mean = X.mean(axis=0)
    _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
    return mean, s, vt


def test_chunks_split_columns_and_blocks_stay_bounded():
    assert chunk_shape(480) == (546, 480)
    assert chunk_shape(100_000) == (16, 100_000)  # 12.8 MB chunks of whole rows, as before
    P = MLP(1, 1, 1000, 2).n_params
    assert P == 1_004_000
    assert chunk_shape(P) == (16, 16384)
    assert rows_per_block(P) == 16  # a flush writes whole chunks: the buffer is 16 rows (128 MB)
    assert chunk_shape(P, 4) == (16, 32768) and rows_per_block(P, 4) == 16
    assert rows_per_block(480) == 7 * 546  # at most 4096 rows, whole chunks
    for n_params in (1, 3, 97, 481, 7801, 40_000, 131_072, 300_000, P):
        for itemsize in (4, 8):
            chunk, block = chunk_shape(n_params, itemsize)[0], rows_per_block(n_params, itemsize)
            assert block % chunk == 0 and block <= max(4096, chunk), (n_params, itemsize)


def test_snapshot_pca_equals_numpy_svd_on_zarr_column_blocks(split_run):
    run = open_run(split_run)
    names = run.trajectory_names()
    arrays = [run.params_array(n) for n in names]
    assert arrays[0][0].chunks == (16, 8)
    rows = [np.arange(0, length, 3) for _, length in arrays]
    source = RowSource([(n, a, r) for n, (a, _), r in zip(names, arrays, rows, strict=True)])
    X = np.concatenate([run.trajectory(n).params[r] for n, r in zip(names, rows, strict=True)])
    pca = snapshot_pca(source, 5, budget=len(X) * 8 * 24)  # 24 columns a block: 20 blocks, 3 chunks each
    mean, s, vt = _numpy_plane(X)
    np.testing.assert_allclose(pca.mean, mean, rtol=0, atol=1e-13)
    np.testing.assert_allclose(pca.singular_values[:5], s[:5], rtol=1e-9)
    signs = np.sign(np.sum(pca.components * vt[:5], axis=1))
    np.testing.assert_allclose(pca.components, vt[:5] * signs[:, None], rtol=0, atol=1e-8)
    np.testing.assert_allclose(pca.coords, (X - mean) @ pca.components.T, rtol=0, atol=1e-10)
    np.testing.assert_allclose(pca.sq_norms, (X**2).sum(axis=1), rtol=1e-12)


def test_fit_manifold_pca_reads_the_store_out_of_core(split_run, monkeypatch):
    run = open_run(split_run, mode="r+")
    _, memory = fit_manifold(run, "pca", every=2, name="pca-memory")
    monkeypatch.setattr(fit_module, "IN_MEMORY_BYTES", 0)  # every selection is read block by block
    monkeypatch.setattr(outofcore, "MEMORY_BUDGET", 4096)
    manifold, lazy = fit_manifold(run, "pca", every=2, name="pca-lazy")
    assert manifold.solver_ == "snapshots" and load_manifold(run, "pca-memory").solver_ == "svd"
    names = run.trajectory_names()
    X = np.concatenate([run.trajectory(n).params[fit_module.thinned_rows(61, 2)] for n in names])
    mean, _, vt = _numpy_plane(X)
    # the same plane as numpy's SVD, up to the sign of each axis
    np.testing.assert_allclose(np.abs(np.sum(manifold.components_ * vt[:2], axis=1)), 1.0, rtol=0, atol=1e-10)
    np.testing.assert_allclose(manifold.components_.T @ manifold.components_, vt[:2].T @ vt[:2], atol=1e-10)
    info = manifold_info(run, "pca-lazy")
    for name in names:
        P = run.trajectory(name).params
        expected = (P - mean) @ manifold.components_.T
        np.testing.assert_allclose(info["coords"][name], expected, rtol=0, atol=1e-10)
        resid = (P - mean) - expected @ manifold.components_
        np.testing.assert_allclose(info["projection_error"][name],
                                   np.linalg.norm(resid, axis=1) / np.linalg.norm(P, axis=1), rtol=1e-8)
    assert lazy["mean_projection_error"] == pytest.approx(memory["mean_projection_error"], rel=1e-8)


def test_out_of_core_refuses_methods_that_need_memory(split_run, monkeypatch):
    monkeypatch.setattr(fit_module, "IN_MEMORY_BYTES", 0)
    result = runner.invoke(app, ["fit-manifold", str(split_run), "--method", "kpca"])
    assert result.exit_code == 2 and "kpca needs the selected points in memory" in result.stderr
    result = runner.invoke(app, ["fit-manifold", str(split_run), "--method", "autoencoder", "--subspace", "0"])
    assert result.exit_code == 2 and "fit it in a principal subspace" in result.stderr
    assert "manifolds" not in zarr.open_group(str(split_run), mode="r")


def test_subspace_autoencoder_decodes_through_the_principal_basis(split_run, monkeypatch):
    run = open_run(split_run, mode="r+")
    monkeypatch.setattr(fit_module, "IN_MEMORY_BYTES", 0)
    result = runner.invoke(app, ["fit-manifold", str(split_run), "--method", "autoencoder", "--subspace", "6",
                                 "--epochs", "150", "--threads", "1", "--name", "ae6"])
    assert result.exit_code == 0, result.output
    assert "top-6 principal subspace" in result.stdout
    run = open_run(split_run)
    ae = load_manifold(run, "ae6")
    assert ae.subspace_ == 6 and ae.basis_.shape == (6, 480)
    X = np.concatenate([run.trajectory(n).params for n in run.trajectory_names()])
    mean, _, vt = _numpy_plane(X)
    # the basis is numpy's top-6 principal subspace; decoded points lie in it
    np.testing.assert_allclose(ae.basis_.T @ ae.basis_, vt[:6].T @ vt[:6], atol=1e-8)
    decoded = ae.decode(np.random.default_rng(0).uniform(-1, 1, size=(20, 2)))
    centred = decoded - mean
    np.testing.assert_allclose(centred @ vt[:6].T @ vt[:6], centred, atol=1e-9)
    # the subspace residual is numpy's, and e_proj (on the full vectors) is never below it
    expected = np.linalg.norm((X - mean) - (X - mean) @ vt[:6].T @ vt[:6], axis=1) / np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(ae.subspace_residual_, expected, rtol=1e-5, atol=1e-12)
    assert np.all(ae.projection_error(X) >= expected - 1e-12)
    report = manifold_info(run, "ae6")["report"]
    assert report["subspace"] == 6 and report["subspace_residual"] == pytest.approx(expected.mean(), rel=1e-5)


def test_subspace_is_automatic_above_the_threshold_and_selectable_below():
    X = np.cumsum(np.random.default_rng(1).normal(size=(40, 30)), axis=0)
    direct = AutoencoderManifold(epochs=5, seed=0).fit(X)
    assert direct.subspace_ == 0 and direct.mean_.shape == (30,)
    chosen = AutoencoderManifold(epochs=5, seed=0, subspace=8).fit(X)
    assert chosen.subspace_ == 8 and chosen.encode(X).shape == (40, 2)
    assert AutoencoderManifold().subspace_size(1000, 1_004_000) == 64
    assert AutoencoderManifold().subspace_size(1000, 10_000) == 0
    with pytest.raises(Exception, match=r"subspace=41 must be between 0 \(full vectors\) and min"):
        AutoencoderManifold(epochs=5, subspace=41).fit(X)
    saved = AutoencoderManifold.from_state(chosen.hyper_parameters(), *chosen.get_state())
    np.testing.assert_allclose(saved.decode(saved.encode(X)), chosen.decode(chosen.encode(X)), atol=1e-12)


def test_pca_snapshots_solver_equals_svd_in_memory():
    X = np.cumsum(np.random.default_rng(2).normal(size=(30, 200)), axis=0)
    a, b = PCAManifold(solver="svd").fit(X), PCAManifold(solver="snapshots").fit(X)
    np.testing.assert_allclose(a.components_, b.components_, atol=1e-10)  # same deterministic signs
    np.testing.assert_allclose(a.explained_variance_ratio_[:10], b.explained_variance_ratio_[:10], atol=1e-12)


def test_store_dtype_float32_is_recorded_and_resumes_exactly(tmp_path):
    physics = PhysicsLosses(Poisson1D(), MLP(1, 1, 20, 2))
    path = tmp_path / "run.zarr"
    result = runner.invoke(app, ["train", "poisson1d", "--steps", "30", "--store-dtype", "float32",
                                 "--out", str(path), "--name", "f32"])
    assert result.exit_code == 0, result.output
    run = open_run(path)
    group = zarr.open_group(str(path), mode="r")["trajectories/f32"]
    assert group["params"].dtype == np.float32 and group.attrs["store_dtype"] == "float32"
    full = tmp_path / "full.zarr"
    train(full, physics, TrainConfig(loss="pinn", steps=30), name="f64")
    exact = open_run(full).trajectory("f64").params
    stored = run.trajectory("f32").params
    assert stored.dtype == np.float64  # widened on read
    np.testing.assert_allclose(stored, exact.astype(np.float32), rtol=0, atol=0)  # training stayed float64
    summary = run.trajectory("f32", params=False)  # what `info` and train's table read: no vectors
    assert summary.params.shape == (0, 480) and len(summary.steps) == 31
    np.testing.assert_array_equal(summary.losses["pinn"], run.trajectory("f32").losses["pinn"])
    bad = runner.invoke(app, ["train", "--steps", "3", "--store-dtype", "float16", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown store dtype 'float16'" in bad.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_snapshot_pca_on_cuda_equals_cpu():
    X = np.cumsum(np.random.default_rng(3).normal(size=(40, 5000)), axis=0)
    cpu = snapshot_pca(RowSource.from_array(X), 4)
    gpu = snapshot_pca(RowSource.from_array(X), 4, device="cuda")
    np.testing.assert_allclose(gpu.components, cpu.components, atol=1e-9)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cli_end_to_end_on_cuda(tmp_path):
    path = tmp_path / "run.zarr"
    for args in (["train", "poisson1d", "--steps", "20", "--device", "cuda", "--out", str(path)],
                 ["fit-manifold", str(path), "--method", "pca", "--device", "cuda"],
                 ["fit-manifold", str(path), "--method", "autoencoder", "--subspace", "5", "--epochs", "20",
                  "--device", "cuda", "--name", "ae"],
                 ["landscape", str(path), "-m", "ae", "--resolution", "6", "--device", "cuda"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    cpu = tmp_path / "cpu.zarr"
    assert runner.invoke(app, ["train", "poisson1d", "--steps", "20", "--out", str(cpu)]).exit_code == 0
    np.testing.assert_allclose(open_run(path).trajectory("pinn-adam-seed0").params,
                               open_run(cpu).trajectory("pinn-adam-seed0").params, rtol=1e-8, atol=1e-10)


def test_cuda_is_refused_cleanly_without_it(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    result = runner.invoke(app, ["train", "--steps", "2", "--device", "cuda", "--out", str(tmp_path / "r.zarr")])
    assert result.exit_code == 2 and "CUDA is not available" in result.stderr
    assert not (tmp_path / "r.zarr").exists()


def test_float32_store_resumes_from_the_unrounded_vector(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_module, "rows_per_block", lambda n_params, itemsize=8: 32)
    physics = PhysicsLosses(Poisson1D(), MLP(1, 1, 20, 2))
    config = TrainConfig(loss="pinn", steps=120, lr=1e-2, store_dtype="float32")

    def stop(step, total, losses):
        if step == 100:
            raise KeyboardInterrupt

    monkeypatch.setattr("pinnviz.trainers._stage.STAGE_ROWS", 1)  # progress every row, not every 64

    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "cut.zarr", physics, config, name="t", progress=stop)
    assert 0 < open_run(tmp_path / "cut.zarr").trajectory_attrs("t")["length"] <= 100  # flushed rows only
    resume(tmp_path / "cut.zarr")
    train(tmp_path / "whole.zarr", physics, TrainConfig(**{**config.__dict__}), name="t")
    cut, whole = open_run(tmp_path / "cut.zarr").trajectory("t"), open_run(tmp_path / "whole.zarr").trajectory("t")
    assert cut.status == "complete" and len(cut.params) == 121
    np.testing.assert_array_equal(cut.params, whole.params)  # bit for bit: not restarted from a rounded row
