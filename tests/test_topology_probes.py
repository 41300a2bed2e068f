"""Hessian-direction landscapes, the topology probe on real stored landscapes, its figures and CLI."""

import hashlib
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.errors import IncompatibleRunError, InvalidSettingError, UnknownNameError
from pinnviz.landscape import compute_landscape
from pinnviz.manifolds import fit_manifold
from pinnviz.nets import MLP
from pinnviz.probes import hessian_spectrum
from pinnviz.probes.hessian_landscape import hessian_landscape, top_hessian_directions
from pinnviz.probes.topology import landscape_field, load_topology, topology
from pinnviz.problems import PhysicsLosses, Poisson1D
from pinnviz.store import open_run
from pinnviz.topology import merge_tree
from pinnviz.trainers import TrainConfig, train
from pinnviz.visualizer._topology import profile_axes, profile_layout, topology_figure
from tests.test_landscape import reference_loss
from tests.test_topology import gudhi_pairs, our_pairs

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A trained Poisson run with a 2-D PCA landscape and 3-D and 4-D Hessian landscapes."""
    path = tmp_path_factory.mktemp("topology") / "run.zarr"
    train(path, PhysicsLosses(Poisson1D(), MLP(1, 1, 8, 2)), TrainConfig(loss="pinn", steps=60))
    run = open_run(path, mode="r+")
    fit_manifold(run, "pca", every=2)
    compute_landscape(run, "pca", resolution=24, losses=["pinn"])
    hessian_landscape(run, dims=3, resolution=9)
    hessian_landscape(run, dims=4, resolution=5, span=1.0)
    return path


def store_bytes(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.rglob("*"))
            if p.is_file()}


def test_exact_directions_are_the_torch_func_eigenvectors(store):
    run = open_run(store)
    physics = run.physics()
    theta = torch.as_tensor(run.trajectory(run.trajectory_names()[0]).params[-1])
    values, vectors, method = top_hessian_directions(physics, theta, "pinn", 4, method="exact")
    ref_values, ref_vectors = hessian_spectrum(physics, theta, "pinn")  # torch.func hessian, ascending
    assert method == "exact"
    np.testing.assert_allclose(values, ref_values.flip(0)[:4].numpy(), rtol=1e-9)
    cosines = np.abs(np.sum(vectors * ref_vectors.flip(1)[:, :4].T.numpy(), axis=1))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-8)


def test_lanczos_agrees_with_the_exact_hessian(store):
    run = open_run(store)
    physics = run.physics()
    theta = torch.as_tensor(run.trajectory(run.trajectory_names()[0]).params[-1])
    exact_values, exact_vectors, _ = top_hessian_directions(physics, theta, "pinn", 4, method="exact")
    assert np.all(np.diff(exact_values) < -1e-3 * abs(exact_values[0]))  # distinct: vectors are defined
    values, vectors, method = top_hessian_directions(physics, theta, "pinn", 4, method="lanczos")
    assert method == "lanczos"
    np.testing.assert_allclose(values, exact_values, rtol=1e-8)
    np.testing.assert_allclose(np.abs(np.sum(vectors * exact_vectors, axis=1)), 1.0, atol=1e-7)


def test_grid_losses_equal_an_independent_evaluation(store):
    run = open_run(store)
    result = hessian_landscape(run, dims=3, resolution=9, save=False)
    net = run.physics().net
    rng = np.random.default_rng(0)
    for index in rng.integers(0, 9, size=(5, 3)):
        coords = np.array([result[f"axis_{k}"][i] for k, i in enumerate(index)])
        theta = result["center"] + coords @ result["directions"]
        expected = reference_loss(net, theta, "pinn")
        np.testing.assert_allclose(result["loss/pinn"][tuple(index)], expected, rtol=1e-9)
    norms = np.linalg.norm(result["directions"], axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-10)
    assert result["attrs"]["span"] == pytest.approx(0.05 * np.linalg.norm(result["center"]))


@pytest.mark.parametrize("connectivity", ["face", "full"])
@pytest.mark.parametrize("landscape", ["pca", "hessian-landscape-pinn-adam-seed0-3d",
                                       "hessian-landscape-pinn-adam-seed0-4d"])
def test_topology_of_stored_landscapes_equals_gudhi(store, landscape, connectivity):
    run = open_run(store)
    source = landscape_field(run, landscape)
    tree, attrs = topology(run, landscape, connectivity=connectivity, save=False)
    np.testing.assert_array_equal(our_pairs(tree), gudhi_pairs(source["field"], connectivity))
    assert attrs["metrics"]["minima"] == tree.is_minimum.sum() >= 1
    assert tree.size[tree.parent < 0].sum() == np.isfinite(source["field"]).sum()


def test_a_tree_of_a_changed_landscape_is_refused(tmp_path, store):
    path = tmp_path / "copy.zarr"
    import shutil

    shutil.copytree(store, path)
    run = open_run(path, mode="r+")
    tree, attrs = topology(run, "pca", min_persistence=0.5)
    back, source = load_topology(run, attrs["name"])
    np.testing.assert_array_equal(back.death, tree.death)
    assert back.min_persistence == 0.5 and back.connectivity == "face"
    run.overwrite = True  # replacing a stored landscape needs --force
    compute_landscape(run, "pca", resolution=12, losses=["pinn"])
    with pytest.raises(IncompatibleRunError, match="earlier landscape"):
        load_topology(run, attrs["name"])


def test_profile_widths_are_basin_sizes():
    from matplotlib.figure import Figure

    rng = np.random.default_rng(3)
    field = rng.standard_normal((30, 30)) + np.add.outer(np.linspace(-2, 2, 30) ** 2, np.linspace(-2, 2, 30) ** 2)
    tree = merge_tree(field + 10.0, "face", min_persistence=0.3)
    fig = Figure()
    ax = fig.subplots()
    profile_axes(ax, tree)
    polys = ax.collections[0].get_paths()
    xs = np.concatenate([p.vertices[:, 0] for p in polys])
    assert xs.max() - xs.min() == pytest.approx(tree.size[tree.parent < 0][0])  # the top is every cell
    centre, junction = profile_layout(tree)
    for node in np.flatnonzero(tree.parent >= 0):  # a child lies inside its parent's bottom edge
        p = tree.parent[node]
        assert centre[p] - tree.size[p] / 2 - 1e-9 <= centre[node] - tree.size[node] / 2
        assert centre[node] + tree.size[node] / 2 <= centre[p] + tree.size[p] / 2 + 1e-9
        if not tree.is_minimum[p]:  # a saddle sits where its two children touch
            kids = np.flatnonzero(tree.parent == p)
            edges = sorted([centre[k] - tree.size[k] / 2 for k in kids] + [centre[k] + tree.size[k] / 2 for k in kids])
            assert junction[p] == pytest.approx(edges[1]) and edges[1] == pytest.approx(edges[2])
    dots = [c for c in ax.collections[1:] if c.get_label() == "minimum"][0]
    assert len(dots.get_offsets()) == tree.is_minimum.sum()


def test_cli_probe_topology_and_hessian_landscape(tmp_path, store):
    path = tmp_path / "cli.zarr"
    import shutil

    shutil.copytree(store, path)
    result = runner.invoke(app, ["--threads", "1", "probe", "hessian-landscape", str(path), "--dims", "2",
                                 "--resolution", "15", "--name", "h2"])
    assert result.exit_code == 0, result.output
    assert "stored in probes/h2" in result.stdout
    figure = tmp_path / "topo.png"
    result = runner.invoke(app, ["probe", "topology", str(path), "--landscape", "h2", "--connectivity", "full",
                                 "-o", str(figure)])
    assert result.exit_code == 0, result.output
    assert "minima" in result.stdout and "stored in probes/topology-h2" in result.stdout
    image = matplotlib.image.imread(figure)
    assert image.shape[0] > 500 and image[..., :3].std() > 0.05  # drawn, not blank
    fig = topology_figure(*load_topology(open_run(path), "topology-h2"))
    assert len([a for a in fig.axes if a.get_label() != "<colorbar>"]) == 4
    for suffix in ("svg", "pdf"):
        result = runner.invoke(app, ["probe", "topology", str(path), "--landscape", "pca", "--force", "-o",
                                     str(tmp_path / f"t.{suffix}")])
        assert result.exit_code == 0 and (tmp_path / f"t.{suffix}").stat().st_size > 1000


@pytest.mark.parametrize("args, message", [
    (["probe", "topology", "{store}", "--landscape", "nope"], "unknown landscape"),
    (["probe", "topology", "{store}", "--landscape", "pca", "--connectivity", "corner"], "unknown connectivity"),
    (["probe", "topology", "{store}", "--landscape", "pca", "--min-persistence", "-1"], "min_persistence"),
    (["probe", "topology", "{store}", "--landscape", "pca", "--loss", "drm"], "unknown loss"),
    (["probe", "topology", "{store}", "--landscape", "pca", "-o", "x.gif"], "suffix"),
    (["probe", "hessian-landscape", "{store}", "--dims", "5"], "dims=5"),
    (["probe", "hessian-landscape", "{store}", "--method", "power"], "unknown Hessian method"),
    (["probe", "hessian-landscape", "{store}", "--row", "1000"], "row=1000"),
    (["probe", "hessian-landscape", "{store}", "--span", "0"], "span=0"),
    (["probe", "hessian-landscape", "{store}", "--dims", "4", "--resolution", "100"], "at most"),
])
def test_cli_errors_leave_the_store_unchanged(store, args, message):
    before = store_bytes(store)
    result = runner.invoke(app, [a.replace("{store}", str(store)) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert store_bytes(store) == before


def test_library_errors(store):
    run = open_run(store)
    with pytest.raises(UnknownNameError, match="landscape"):
        landscape_field(run, "missing")
    with pytest.raises(IncompatibleRunError, match="read-only"):
        topology(run, "pca")
    with pytest.raises(InvalidSettingError, match="resolution"):
        hessian_landscape(run, dims=2, resolution=1, save=False)
