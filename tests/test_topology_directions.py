"""d-dimensional landscapes along random (filter-normalised) and PCA directions, `landscape --dims`, and the
staleness of the landscapes `probe topology` reads; each checked against an independent computation."""

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.errors import StaleResultError
from pinnviz.landscape import compute_landscape
from pinnviz.manifolds import fit_manifold
from pinnviz.manifolds.random_plane import RandomPlaneManifold
from pinnviz.nets import MLP
from pinnviz.probes._store import load_probe
from pinnviz.probes.direction_landscape import direction_landscape, direction_landscape_staleness
from pinnviz.probes.topology import load_topology, topology
from pinnviz.problems import PhysicsLosses, Poisson1D
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train
from tests.conftest import module_from_vector
from tests.test_landscape import reference_loss

runner = CliRunner()
TRAJ = "pinn-adam-seed0"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A trained Poisson run (logged every 5 steps) with a 2-D PCA landscape."""
    path = tmp_path_factory.mktemp("directions") / "run.zarr"
    train(path, PhysicsLosses(Poisson1D(), MLP(1, 1, 8, 2)), TrainConfig(loss="pinn", steps=60, log_every=5))
    run = open_run(path, mode="r+")
    fit_manifold(run, "pca")
    compute_landscape(run, "pca", resolution=12, losses=["pinn"])
    return path


def store_bytes(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.rglob("*"))
            if p.is_file()}


def filter_norms(net: MLP, theta: np.ndarray) -> np.ndarray:
    """Per-neuron (row) norms of every weight matrix and whole norms of every bias, read through nn.Module."""
    module = module_from_vector(net, torch.as_tensor(theta))
    norms = [torch.linalg.norm(p, dim=1) if p.ndim == 2 else torch.linalg.norm(p)[None] for p in module.parameters()]
    return torch.cat(norms).detach().numpy()


def test_random_directions_have_the_parameters_filter_norms(store):
    run = open_run(store)
    result = direction_landscape(run, TRAJ, dims=4, directions="random", seed=7, resolution=3, save=False)
    net, center = run.physics().net, result["center"]
    expected = filter_norms(net, center)
    assert expected.size > 4 and np.all(expected > 0)
    for direction in result["directions"]:
        np.testing.assert_allclose(filter_norms(net, direction), expected, rtol=1e-12)
    assert np.linalg.matrix_rank(result["directions"]) == 4
    assert result["attrs"]["seed"] == 7 and result["attrs"]["directions"] == "random"
    # seeded: the same seed draws the same directions, another seed others; the first two are the random plane's
    again = direction_landscape(run, TRAJ, dims=4, directions="random", seed=7, resolution=3, save=False)
    np.testing.assert_array_equal(again["directions"], result["directions"])
    other = direction_landscape(run, TRAJ, dims=4, directions="random", seed=8, resolution=3, save=False)
    assert not np.allclose(other["directions"], result["directions"])
    plane = RandomPlaneManifold(seed=7, center=center, layout=run.model["layout"])
    np.testing.assert_array_equal(plane.fit(np.repeat(center[None], 3, axis=0)).directions_,
                                  result["directions"][:2])
    assert result["attrs"]["span"] == pytest.approx(0.05)  # reach 5% of ||centre||: ||v_k|| = ||centre||
    np.testing.assert_allclose(np.linalg.norm(result["directions"], axis=1), np.linalg.norm(center), rtol=1e-12)


def test_pca_directions_are_numpys_svd_of_the_centred_trajectory(store):
    run = open_run(store)
    result = direction_landscape(run, TRAJ, dims=3, directions="pca", resolution=3, save=False)
    X = run.trajectory(TRAJ).params
    _, s, vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    cosines = np.abs(np.sum(result["directions"] * vt[:3], axis=1))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-8)
    np.testing.assert_allclose(result["singular_values"][:3], s[:3], rtol=1e-8)
    np.testing.assert_allclose(result["attrs"]["explained_variance_ratio"], (s**2 / (s**2).sum())[:3], rtol=1e-8)
    np.testing.assert_array_equal(result["center"], X[-1])


@pytest.mark.parametrize("directions", ["random", "pca"])
def test_grid_values_equal_a_direct_evaluation(store, directions):
    run = open_run(store)
    result = direction_landscape(run, TRAJ, dims=3, directions=directions, resolution=7, step=30, save=False)
    assert result["attrs"]["step"] == 30
    assert result["loss/pinn"].shape == (7, 7, 7)
    np.testing.assert_array_equal(result["center"], run.trajectory(TRAJ).params[6])  # steps 0, 5, ..., 30
    net = run.physics().net
    for index in np.random.default_rng(1).integers(0, 7, size=(5, 3)):
        coords = np.array([result[f"axis_{k}"][i] for k, i in enumerate(index)])
        theta = result["center"] + coords @ result["directions"]
        np.testing.assert_allclose(result["loss/pinn"][tuple(index)], reference_loss(net, theta, "pinn"), rtol=1e-9)


def test_cli_landscape_dims_stores_each_kind_and_probe_topology_reads_it(tmp_path, store):
    path = tmp_path / "run.zarr"
    shutil.copytree(store, path)
    for directions in ("hessian", "random", "pca"):
        result = runner.invoke(app, ["--threads", "1", "landscape", str(path), "--dims", "3", "--directions",
                                     directions, "--trajectory", TRAJ, "--at", "60", "--resolution", "5"])
        assert result.exit_code == 0, result.output
        name = f"{directions}-landscape-{TRAJ}-3d"
        assert f"probes/{name}" in result.stdout
        arrays, attrs = load_probe(open_run(path), name)
        assert attrs["directions"] == directions and attrs["dims"] == 3 and attrs["step"] == 60
        assert [arrays[f"axis_{k}"].shape for k in range(3)] == [(5,)] * 3 and arrays["directions"].shape[0] == 3
        result = runner.invoke(app, ["--threads", "1", "probe", "topology", str(path), "--landscape", name])
        assert result.exit_code == 0, result.output
        _, tree_attrs = load_probe(open_run(path), f"topology-{name}")
        assert tree_attrs["landscape_provenance"]["directions"] == directions
        assert tree_attrs["landscape_provenance"]["created"] == attrs["created"]
    # the Hessian alias still works and stores the same kind of landscape
    result = runner.invoke(app, ["--threads", "1", "probe", "hessian-landscape", str(path), "--dims", "2",
                                 "--resolution", "5", "--name", "alias"])
    assert result.exit_code == 0, result.output
    assert load_probe(open_run(path), "alias")[1]["directions"] == "hessian"
    # render points a d-D landscape to the command that draws it
    result = runner.invoke(app, ["render", str(path), "--probe", "alias", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "probe topology STORE --landscape alias" in result.stderr
    # without --dims the command is the manifold's landscape, --manifold required as before
    before = store_bytes(path)
    result = runner.invoke(app, ["landscape", str(path), "--resolution", "5"])
    assert result.exit_code == 2 and "Missing option '--manifold'" in result.output
    assert store_bytes(path) == before


def test_topology_refuses_a_stale_2d_landscape_and_records_its_source(tmp_path, store):
    path = tmp_path / "run.zarr"
    shutil.copytree(store, path)
    run = open_run(path, mode="r+")
    _, attrs = topology(run, "pca", save=False)
    fingerprint = dict(run.group["manifolds/pca"].attrs)["fingerprint"]
    assert attrs["landscape_provenance"] == {"manifold": "pca", "manifold_fingerprint": fingerprint}
    topology(run, "pca")
    run = open_run(path, mode="r+", overwrite=True)
    fit_manifold(run, "pca", every=2)  # refitted: the landscape no longer shows it
    with pytest.raises(StaleResultError, match="fitted again"):
        topology(run, "pca", name="again")
    before = store_bytes(path)
    result = runner.invoke(app, ["--threads", "1", "probe", "topology", str(path), "--landscape", "pca",
                                 "--name", "again"])
    assert result.exit_code == 2 and "is stale" in result.stderr
    assert "--manifold pca --name pca --force" in result.stderr
    assert store_bytes(path) == before
    with pytest.raises(StaleResultError):
        load_topology(run, "topology-pca")


def test_direction_landscape_staleness_follows_its_trajectory(store):
    run = open_run(store)
    attrs = direction_landscape(run, TRAJ, dims=2, directions="pca", resolution=3, save=False)["attrs"]
    assert direction_landscape_staleness(run, attrs) is None
    identity, rows = attrs["trajectory_fingerprint"].rsplit(":", 1)
    grown = {**attrs, "trajectory_fingerprint": f"{identity}:{int(rows) - 2}"}  # as if resumed since
    assert "principal components" in direction_landscape_staleness(run, grown)
    assert direction_landscape_staleness(run, {**grown, "directions": "random"}) is None  # its row is unchanged
    replaced = {**attrs, "trajectory_fingerprint": f"other.0.then:{rows}"}
    assert "replaced" in direction_landscape_staleness(run, {**replaced, "directions": "hessian"})
    assert "no longer in the store" in direction_landscape_staleness(run, {**attrs, "trajectory": "gone"})


def test_rm_and_mv_follow_a_topology_probe_to_its_d_dimensional_landscape(tmp_path, store):
    path = tmp_path / "run.zarr"
    shutil.copytree(store, path)
    for args in (["landscape", str(path), "--dims", "2", "--directions", "random", "--trajectory", TRAJ,
                  "--resolution", "5", "--name", "plane"], ["probe", "topology", str(path), "--landscape", "plane"]):
        assert runner.invoke(app, ["--threads", "1", *args]).exit_code == 0
    before = store_bytes(path)
    result = runner.invoke(app, ["rm", str(path), "probes/plane"])
    assert result.exit_code == 2 and "probes/topology-plane" in result.stderr and store_bytes(path) == before
    assert runner.invoke(app, ["mv", str(path), "probes/plane", "moved"]).exit_code == 0
    assert load_probe(open_run(path), "topology-plane")[1]["landscape"] == "moved"
