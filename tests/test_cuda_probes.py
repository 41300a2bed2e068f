"""Every probe family with `--device cuda` end to end from the CLI, against the same command on the CPU.

Skipped where torch sees no CUDA device. Each case runs one command on two copies of a small store, once
with `--device cpu` and once with `--device cuda`, and compares what they stored. float64 throughout, so
losses agree to about 1e-10 relative; trainings of a few steps to 1e-7. Eigenvectors are compared up to
sign, and only where their eigenvalue is well separated (a near-degenerate eigenvector is not determined
by the matrix to more than its rounding, on any device).

PINNVIZ_TEST_DEVICE=cpu runs the same comparisons with "cpu" in place of "cuda" (a dry run of this file's
plumbing on a machine without a GPU; it proves nothing about CUDA).
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.landscape import load_landscape
from pinnviz.manifolds import load_manifold
from pinnviz.probes import load_probe
from pinnviz.problems import build_physics
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train

GPU = os.environ.get("PINNVIZ_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(GPU.startswith("cuda") and not torch.cuda.is_available(), reason="needs CUDA")

runner = CliRunner()
TINY_CONVECTION = {"points": 30, "ic_points": 10, "bc_points": 8, "nx": 8, "nt": 4}
LOSS_TOLERANCE = {"rtol": 1e-9, "atol": 1e-12}
TRAINING_TOLERANCE = {"rtol": 1e-7, "atol": 1e-10}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cuda")
    poisson, convection = folder / "poisson.zarr", folder / "convection.zarr"
    train(poisson, build_physics("poisson1d", width=8, depth=2), TrainConfig(loss="pinn", steps=60, lr=2e-2,
                                                                             seeds=2, log_every=5))
    train(convection, build_physics("convection1d", TINY_CONVECTION, width=6, depth=2),
          TrainConfig(loss="total", steps=10, log_every=2), name="adam")
    return {"poisson": poisson, "convection": convection}


def _both(stores, tmp_path, key: str, argv: list[str]):
    """Run `argv` (with STORE for the store) on a CPU copy and a CUDA copy; the two opened stores."""
    runs = []
    for device in ("cpu", GPU):
        copy = tmp_path / ("gpu.zarr" if len(runs) else "cpu.zarr")
        shutil.copytree(stores[key], copy)
        args = [str(copy) if a == "STORE" else a for a in argv]
        result = runner.invoke(app, ["--threads", "1", *args, "--device", device])
        assert result.exit_code == 0, f"{device}: {result.output}"
        runs.append(open_run(copy))
    return runs


def _same_probe(cpu_run, gpu_run, name: str, tolerance=LOSS_TOLERANCE, skip=()) -> dict:
    cpu, _ = load_probe(cpu_run, name)
    gpu, attrs = load_probe(gpu_run, name)
    assert sorted(cpu) == sorted(gpu)
    for key in cpu:
        if key not in skip:
            np.testing.assert_allclose(gpu[key], cpu[key], **tolerance, err_msg=f"{name}: {key}")
    return attrs


def _same_up_to_sign(a: np.ndarray, b: np.ndarray, atol: float) -> None:
    """Rows of a and b equal up to the sign of each row."""
    signs = np.sign(np.sum(a * b, axis=1))[:, None]
    np.testing.assert_allclose(a * signs, b, atol=atol)


def test_mli_and_its_ensembles_on_cuda(stores, tmp_path):
    cpu, gpu = _both(stores, tmp_path, "poisson", ["probe", "mli", "STORE", "--points", "9", "--scales", "1",
                                                   "--losses", "pinn", "--seeds", "2", "--steps", "10",
                                                   "--log-every", "5"])
    _same_probe(cpu, gpu, "mli", TRAINING_TOLERANCE)  # curves of the CUDA-trained ensembles too
    assert gpu.trajectory_attrs("mli-pinn-x1-seed0")["device"] == GPU


def test_hessian_walk_on_cuda(stores, tmp_path):
    cpu, gpu = _both(stores, tmp_path, "poisson", ["probe", "hessian-walk", "STORE", "--steps", "3"])
    a, _ = load_probe(cpu, "hessian-walk-pinn-adam-seed0")
    b, _ = load_probe(gpu, "hessian-walk-pinn-adam-seed0")
    # the smallest-|eigenvalue| eigenvector sits in a cluster of near-zero eigenvalues: the walk's direction
    # is not determined beyond rounding, so only the start, the first eigenvalue and the step length compare
    np.testing.assert_allclose(b["loss"][0], a["loss"][0], **LOSS_TOLERANCE)
    np.testing.assert_allclose(b["eigenvalue"][0], a["eigenvalue"][0], atol=1e-9 * np.abs(a["eigenvalue"]).max())
    np.testing.assert_allclose(np.diff(b["distance"][:2]), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(b["path"][0], a["path"][0])


def test_mode_connectivity_on_cuda(stores, tmp_path):
    cpu, gpu = _both(stores, tmp_path, "poisson", ["probe", "mode-connectivity", "STORE", "--iterations", "5",
                                                   "--points", "11"])
    name = "mode-connectivity-pinn-adam-seed0-pinn-adam-seed1"
    _same_probe(cpu, gpu, name, LOSS_TOLERANCE, skip=("curved", "control", "objective"))  # the straight path
    _same_probe(cpu, gpu, name, {"rtol": 1e-5, "atol": 1e-9}, skip=("objective",))  # five L-BFGS evaluations
    a, b = load_probe(cpu, name)[0]["objective"], load_probe(gpu, name)[0]["objective"]
    np.testing.assert_allclose(b[-1], a[-1], rtol=1e-5)  # the line search may evaluate a different number of times


@pytest.mark.parametrize("extra", [[], ["--stochastic", "16"]], ids=["quadrature", "monte-carlo"])
def test_random_planes_on_cuda(stores, tmp_path, extra):
    cpu, gpu = _both(stores, tmp_path, "poisson", ["probe", "random-planes", "STORE", "--pairs", "2",
                                                   "--resolution", "5", *extra])
    name = "random-planes-final-pinn-adam-seed0" + ("-mc16" if extra else "")
    attrs = _same_probe(cpu, gpu, name)
    if extra:
        assert load_probe(cpu, name)[1]["variance"].keys() == attrs["variance"].keys()


def test_spectrum_and_hessian_plane_on_cuda(stores, tmp_path):
    cpu, gpu = _both(stores, tmp_path, "poisson", ["probe", "spectrum", "STORE", "--every", "4"])
    arrays, _ = load_probe(cpu, "spectrum-pinn-adam-seed0")
    scale = np.abs(arrays["eigenvalues"]).max()
    _same_probe(cpu, gpu, "spectrum-pinn-adam-seed0", {"rtol": 0, "atol": 1e-9 * scale})
    for run, device in ((cpu, "cpu"), (gpu, GPU)):
        result = runner.invoke(app, ["probe", "hessian-plane", str(run.path), "--device", device])
        assert result.exit_code == 0, result.output
    a, b = (load_manifold(open_run(r.path), "hessian-plane") for r in (cpu, gpu))
    np.testing.assert_allclose(b.eigenvalues, a.eigenvalues, rtol=1e-9)
    _same_up_to_sign(b.directions_, a.directions_, atol=1e-6)


def test_spectrum_by_lanczos_on_cuda(stores, tmp_path):
    cpu, gpu = _both(stores, tmp_path, "poisson", ["probe", "spectrum", "STORE", "--every", "6", "--lanczos"])
    _same_probe(cpu, gpu, "spectrum-pinn-adam-seed0", {"rtol": 1e-7, "atol": 1e-9})


def test_basis_and_trajectory_pca_on_cuda(stores, tmp_path):
    cpu, gpu = _both(stores, tmp_path, "poisson", ["probe", "basis", "STORE", "--resolution", "5"])
    arrays, _ = load_probe(cpu, "basis-pinn-adam-seed0")
    # the Gram matrix's null vector (and the trench through it) is as determined as its smallest eigenvalue's gap
    attrs = _same_probe(cpu, gpu, "basis-pinn-adam-seed0", LOSS_TOLERANCE,
                        skip=("delta", "null_direction", "eigenvalues", "line_loss"))
    np.testing.assert_allclose(load_probe(gpu, "basis-pinn-adam-seed0")[0]["eigenvalues"], arrays["eigenvalues"],
                               rtol=0, atol=1e-9 * arrays["eigenvalues"].max())
    assert attrs["rank"] == load_probe(cpu, "basis-pinn-adam-seed0")[1]["rank"]
    cpu, gpu = _both(stores, tmp_path / "pca", "poisson", ["probe", "trajectory-pca", "STORE", "--resolution", "5"])
    _same_probe(cpu, gpu, "trajectory-pca-pinn-adam-seed0")
    for plane in ("12", "13", "23"):
        a = load_landscape(cpu.group, f"trajectory-pca-pinn-adam-seed0-{plane}").losses["pinn"]
        b = load_landscape(gpu.group, f"trajectory-pca-pinn-adam-seed0-{plane}").losses["pinn"]
        np.testing.assert_allclose(b, a, **LOSS_TOLERANCE)


@pytest.mark.parametrize("argv, name", [
    (["goldilocks", "--radii", "2,5", "--trials", "2", "--scales", "0.5,1", "--steps", "10", "--log-every", "5"],
     "goldilocks"),
    (["intrinsic-dim", "--dims", "2,5", "--steps", "10", "--log-every", "5"], "intrinsic-dim"),
    (["bad-minima", "--widths", "8,4", "--runs", "2", "--steps", "10", "--log-every", "5"], "bad-minima"),
], ids=["goldilocks", "intrinsic-dim", "bad-minima"])
def test_training_probes_on_cuda(stores, tmp_path, argv, name):
    cpu, gpu = _both(stores, tmp_path, "poisson", ["probe", argv[0], "STORE", *argv[1:]])
    _same_probe(cpu, gpu, name, TRAINING_TOLERANCE)


def test_ntk_on_cuda(stores, tmp_path):
    cpu, gpu = _both(stores, tmp_path, "convection", ["probe", "ntk", "STORE", "--points", "6", "--every", "2"])
    arrays, _ = load_probe(cpu, "ntk-adam")
    scale = max(arrays["eig_uu"].max(), arrays["eig_rr"].max())
    _same_probe(cpu, gpu, "ntk-adam", {"rtol": 1e-9, "atol": 1e-12 * scale})


@pytest.mark.parametrize("method", ["exact", "lanczos"])
def test_hessian_landscape_on_cuda(stores, tmp_path, method):
    cpu, gpu = _both(stores, tmp_path, "poisson", ["probe", "hessian-landscape", "STORE", "--dims", "2",
                                                   "--resolution", "5", "--method", method])
    name = "hessian-landscape-pinn-adam-seed0-2d"
    a, _ = load_probe(cpu, name)
    b, _ = load_probe(gpu, name)
    np.testing.assert_allclose(b["eigenvalues"], a["eigenvalues"], rtol=1e-8)
    _same_up_to_sign(b["directions"], a["directions"], atol=1e-6)
    np.testing.assert_allclose(b["loss/pinn"], a["loss/pinn"], rtol=1e-6)  # directions agree to ~1e-6


@pytest.mark.parametrize("directions", ["random", "pca"])
def test_landscape_dims_on_cuda(stores, tmp_path, directions):
    cpu, gpu = _both(stores, tmp_path, "poisson", ["landscape", "STORE", "--dims", "2", "-t", "pinn-adam-seed0",
                                                   "--directions", directions, "--resolution", "5"])
    name = f"{directions}-landscape-pinn-adam-seed0-2d"
    a, _ = load_probe(cpu, name)
    b, _ = load_probe(gpu, name)
    if directions == "pca":  # snapshot PCA: Gram products and their eigenvectors on the device
        _same_up_to_sign(b["directions"], a["directions"], atol=1e-8)
        np.testing.assert_allclose(b["loss/pinn"], a["loss/pinn"], rtol=1e-7)
    else:
        np.testing.assert_array_equal(b["directions"], a["directions"])  # drawn in NumPy
        np.testing.assert_allclose(b["loss/pinn"], a["loss/pinn"], **LOSS_TOLERANCE)


def test_cpu_only_probes_refuse_cuda_with_one_line(stores):
    for argv in (["probe", "acceleration", str(stores["poisson"])],
                 ["probe", "topology", str(stores["poisson"]), "--landscape", "x"]):
        result = runner.invoke(app, [*argv, "--device", "cuda"])
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1 and "on the CPU" in lines[0], result.output
