"""Manifolds against independent computations: numpy SVD, scikit-learn, umap-learn, hand-made geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _manifold_store import LAYOUT, N_PARAMS, curve, make_store, write_trajectory
from numpy.testing import assert_allclose

from pinnviz.errors import InvalidSettingError, NonFiniteError, NotFittedError, UnknownNameError
from pinnviz.manifolds import (
    MANIFOLDS,
    AutoencoderManifold,
    KernelPCAManifold,
    PCAManifold,
    RandomPlaneManifold,
    UMAPManifold,
    fit_manifold,
    load_manifold,
    manifold_info,
)
from pinnviz.manifolds._ae_losses import grid_loss, spacing_loss
from pinnviz.store import open_run

FAST_AE = {"epochs": 600, "lr": 3e-3, "hidden": [16, 8], "threads": 1}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("manifolds") / "run.zarr"
    make_store(path, {"a": curve(120, 1), "b": curve(90, 2)})
    return path


@pytest.fixture
def X():
    return curve(80, 5)


# ---------------------------------------------------------------------- PCA
def test_pca_matches_numpy_svd(X):
    m = PCAManifold().fit(X)
    centred = X - X.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    # same plane: the 2x2 matrix of inner products is orthogonal (signs may differ)
    inner = m.components_ @ vt[:2].T
    assert_allclose(np.abs(inner), np.eye(2), atol=1e-10)
    assert_allclose(m.explained_variance_ratio_, s**2 / np.sum(s**2), rtol=1e-10)
    assert len(m.explained_variance_ratio_) == min(X.shape)
    # codes are the coordinates on those components (up to sign)
    assert_allclose(np.abs(m.encode(X)), np.abs(centred @ vt[:2].T), atol=1e-10)


def test_pca_round_trip_exact_on_rank_two_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=30) + rng.normal(size=(50, 2)) @ rng.normal(size=(2, 30))
    m = PCAManifold().fit(X)
    assert_allclose(m.decode(m.encode(X)), X, atol=1e-10)
    assert_allclose(m.projection_error(X), 0.0, atol=1e-10)


def test_not_fitted_and_bad_input(X):
    with pytest.raises(NotFittedError, match="PCAManifold is not fitted yet; call fit"):
        PCAManifold().encode(X)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(NonFiniteError, match="NaN or infinity in 1 of 80 rows"):
        PCAManifold().fit(bad)
    m = PCAManifold().fit(X)
    with pytest.raises(InvalidSettingError, match="has 3 parameters, the manifold was fitted on 40"):
        m.encode(X[:, :3])


# ---------------------------------------------------------------------- random plane
def test_random_plane_filter_normalisation(X):
    center = X[-1]
    m = RandomPlaneManifold(seed=3, center=center, layout=LAYOUT).fit(X)
    W = center[:30].reshape(5, 6)
    for d in m.directions_:
        assert_allclose(np.linalg.norm(d[:30].reshape(5, 6), axis=1), np.linalg.norm(W, axis=1), rtol=1e-12)
        assert_allclose(np.linalg.norm(d[30:]), np.linalg.norm(center[30:]), rtol=1e-12)
    assert_allclose(m.encode(center[None]), 0.0, atol=1e-12)
    Z = np.random.default_rng(1).normal(size=(7, 2))
    assert_allclose(m.encode(m.decode(Z)), Z, atol=1e-10)
    # seeded: same seed, same plane; another seed, another one
    again = RandomPlaneManifold(seed=3, center=center, layout=LAYOUT).fit(X)
    other = RandomPlaneManifold(seed=4, center=center, layout=LAYOUT).fit(X)
    assert np.array_equal(again.directions_, m.directions_)
    assert not np.allclose(other.directions_, m.directions_)


# ---------------------------------------------------------------------- kernel PCA
def test_kpca_matches_sklearn_on_held_out_points():
    from sklearn.decomposition import KernelPCA

    X = curve(200, 7)
    fit, held = X[::2], X[1::2]
    for gamma, alpha in [(None, 1.0), (0.01, 0.1)]:
        ours = KernelPCAManifold(gamma=gamma, alpha=alpha, seed=0).fit(fit)
        ref = KernelPCA(n_components=2, kernel="rbf", gamma=gamma, alpha=alpha, fit_inverse_transform=True,
                        random_state=0).fit(fit)
        assert_allclose(ours.encode(held), ref.transform(held), rtol=1e-8, atol=1e-10)
        Z = ours.encode(held)
        assert_allclose(ours.decode(Z), ref.inverse_transform(Z), rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------------- autoencoder losses
def test_spacing_loss_zero_on_even_line_and_positive_on_fold():
    line = torch.stack([torch.linspace(-0.8, 0.8, 10), torch.zeros(10)], dim=1)
    assert spacing_loss(line, [(0, 10)]).item() == 0.0
    folded = line.clone()
    folded[7] = folded[2] + torch.tensor([0.0, 0.01])  # point 7 sits on point 2
    assert spacing_loss(folded, [(0, 10)]).item() > 0.0


def test_grid_loss_matches_direct_formula():
    gen = torch.Generator().manual_seed(0)
    Y = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    V, W = torch.randn(4, 2, generator=gen, dtype=torch.float64), torch.randn(2, 4, generator=gen, dtype=torch.float64)
    grid = torch.rand(5, 2, generator=gen, dtype=torch.float64) * 2 - 1
    scale = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    log_D = torch.full((6,), np.log(2.5), dtype=torch.float64)

    def encoder(y):
        return torch.tanh(y @ V)

    def decoder(g):
        return torch.tanh(g @ W)

    got = grid_loss(encoder, decoder, Y, encoder(Y), grid, scale, log_D, zoom=2.0).item()
    Z = np.tanh(Y.numpy() @ V.numpy())
    total = 0.0
    for g in grid.numpy():
        m = int(np.argmin(np.linalg.norm(Z - g, axis=1)))
        d_lat = np.linalg.norm(g - Z[m])
        d_par = np.linalg.norm((np.tanh(g @ W.numpy()) - Y.numpy()[m]) * scale.numpy())
        total += ((np.log(d_par) - d_lat) - (np.log(2.5) - 2.0)) ** 2
    assert got == pytest.approx(total / len(grid), rel=1e-12)


# ---------------------------------------------------------------------- autoencoder
@pytest.mark.parametrize(
    ("anchor", "targets"),
    [
        ("polar", {0: (-0.8, -0.8), -1: (0.8, 0.8)}),
        ("center", {-1: (0.0, 0.0)}),
        ("circle", {-1: (0.0, 0.8)}),  # one trajectory: its last point at angle 0 = (r sin 0, r cos 0)
    ],
)
def test_anchoring_puts_points_within_005_of_targets(X, anchor, targets):
    m = AutoencoderManifold(anchor=anchor, seed=0, **FAST_AE).fit(X)
    for row, target in targets.items():
        dist = np.linalg.norm(m.encode(X[[row]])[0] - np.array(target))
        assert dist < 0.05, f"{anchor}: row {row} is {dist:.3f} from {target}"


def test_circle_anchoring_of_several_trajectories():
    A, B, C = curve(40, 1), curve(40, 2), curve(40, 3)
    X = np.concatenate([A, B, C])
    m = AutoencoderManifold(anchor="circle", seed=0, **FAST_AE).fit(X, segments=[(0, 40), (40, 80), (80, 120)])
    r = 0.8
    expected = [(0.0, r), (r * np.sin(2 * np.pi / 3), r * np.cos(2 * np.pi / 3)),
                (r * np.sin(4 * np.pi / 3), r * np.cos(4 * np.pi / 3))]
    codes = m.encode(X[[39, 79, 119]])
    dist = np.linalg.norm(codes - np.array(expected), axis=1)
    assert np.all(dist < 0.05), f"circle anchors are {dist} from their targets"


def _concentration(m, X):
    """Mean distance from decoded grid points to the nearest fitted point, over first-to-last distance."""
    axis = np.linspace(-1, 1, 21)
    grid = np.array([(a, b) for a in axis for b in axis])
    decoded = m.decode(grid)
    nearest = np.array([np.min(np.linalg.norm(X - g, axis=1)) for g in decoded])
    return float(np.mean(nearest) / np.linalg.norm(X[-1] - X[0]))


def test_grid_scale_concentrates_decoded_grid_near_trajectory(X):
    low = AutoencoderManifold(grid_scale=0.0, seed=0, **FAST_AE).fit(X)
    high = AutoencoderManifold(grid_scale=3.0, seed=0, **FAST_AE).fit(X)
    c_low, c_high = _concentration(low, X), _concentration(high, X)
    assert c_high < 0.5 * c_low, f"grid concentration s=0: {c_low:.3g}, s=3: {c_high:.3g}"


def test_autoencoder_beats_pca_on_a_curved_trajectory(X):
    ae = AutoencoderManifold(seed=0, **FAST_AE).fit(X[::2])
    pca = PCAManifold().fit(X[::2])
    held = X[1::2]
    e_ae, e_pca = ae.projection_error(held).mean(), pca.projection_error(held).mean()
    assert e_ae < e_pca / 3, f"held-out error autoencoder {e_ae:.3g} vs PCA {e_pca:.3g}"
    lo, hi = ae.encode(X).min(), ae.encode(X).max()
    assert -1 <= lo and hi <= 1 and ae.latent_extent(0.3) == (-1.0, 1.0, -1.0, 1.0)


def test_autoencoder_settings_are_validated(X):
    with pytest.raises(InvalidSettingError, match="anchor='north' must be one of none, polar, center, circle"):
        AutoencoderManifold(anchor="north").fit(X)
    with pytest.raises(InvalidSettingError, match="epochs=0 must be >= 1"):
        AutoencoderManifold(epochs=0).fit(X)


# ---------------------------------------------------------------------- store round trips
@pytest.mark.parametrize(
    ("method", "hyper"),
    [("pca", {}), ("random", {"seed": 2}), ("kpca", {"gamma": 0.05, "alpha": 0.1}),
     ("autoencoder", {"anchor": "polar", "grid_scale": 2.0, "spacing_weight": 1.0, **FAST_AE, "epochs": 150})],
)
def test_save_and_reload_reproduce_encode_decode(store, method, hyper):
    run = open_run(store, mode="r+")
    manifold, report = fit_manifold(run, method, every=3, name=f"rt-{method}", **hyper)
    again = load_manifold(open_run(store), f"rt-{method}")
    assert type(again) is type(manifold)
    X = run.trajectory("a").params[1::3]  # held-out rows
    Z = np.random.default_rng(0).uniform(-1, 1, size=(25, 2))
    assert_allclose(again.encode(X), manifold.encode(X), rtol=0, atol=1e-12)
    assert_allclose(again.decode(Z), manifold.decode(Z), rtol=0, atol=1e-12)
    assert again.latent_extent(0.1) == manifold.latent_extent(0.1)
    info = manifold_info(open_run(store), f"rt-{method}")
    assert info["method"] == method and info["fitted_on"] == ["a", "b"] and info["every"] == 3
    assert info["coords"]["a"].shape == (120, 2) and info["coords"]["b"].shape == (90, 2)
    assert info["fitted"]["b"].sum() == len(range(0, 90, 3)) + 1  # every third row and the last
    err = info["projection_error"]["a"]
    direct = np.linalg.norm(X - manifold.decode(manifold.encode(X)), axis=1) / np.linalg.norm(X, axis=1)
    assert_allclose(err[1::3], direct, rtol=1e-10)
    assert report["points"] == 41 + 31
    # the report's mean is that of ||m - D(E(m))|| / ||m|| over exactly the fitted rows, computed here
    fitted = np.concatenate([run.trajectory(t).params[info["fitted"][t]] for t in ("a", "b")])
    own = np.linalg.norm(fitted - manifold.decode(manifold.encode(fitted)), axis=1) / np.linalg.norm(fitted, axis=1)
    assert report["mean_projection_error"] == pytest.approx(float(own.mean()), rel=1e-10)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_umap_round_trip_and_refusal_outside_its_embedding(store):
    run = open_run(store, mode="r+")
    manifold, report = fit_manifold(run, "umap", trajectories=["a"], every=2, name="u", n_neighbors=8, seed=1)
    again = load_manifold(open_run(store), "u")
    assert isinstance(again, UMAPManifold)
    X = run.trajectory("a").params
    held = X[1::2]
    assert_allclose(again.encode(held), manifold.encode(held), rtol=0, atol=1e-12)
    from scipy.spatial import Delaunay

    tri = Delaunay(manifold.embedding_)
    inside = tri.points[tri.simplices[:: max(1, len(tri.simplices) // 12)]].mean(axis=1)  # simplex centroids
    assert manifold.decodable(inside).all()
    # inside its triangulation decode is umap-learn's own inverse_transform
    ref = manifold.umap_.inverse_transform(inside.astype(np.float32))
    assert_allclose(manifold.decode(inside), ref, rtol=1e-5, atol=1e-6)
    assert_allclose(again.decode(inside), manifold.decode(inside), rtol=0, atol=1e-12)
    # held-out points decoded from their codes land near themselves (when inside the embedding)
    codes = manifold.encode(held)
    ok = manifold.decodable(codes)
    assert ok.any()
    assert np.nanmean(manifold.projection_error(held[ok])) < 0.5
    # far outside: refused, not garbage
    far = manifold.embedding_.max(axis=0) + 100.0
    assert not manifold.decodable(far[None])[0]
    assert np.isnan(manifold.decode(far[None])).all()
    strict = UMAPManifold(n_neighbors=8, seed=1, outside="raise")
    strict.__dict__.update({k: v for k, v in manifold.__dict__.items() if k.endswith("_")})
    strict._hull, strict._rows = None, None
    with pytest.raises(InvalidSettingError, match="outside the convex hull of the UMAP embedding"):
        strict.decode(far[None])
    assert report["undecodable_points"] == 0


# ---------------------------------------------------------------------- fit_manifold errors
def test_fit_manifold_errors(tmp_path):
    bad = curve(30, 1)
    bad[20:] = np.nan
    run = make_store(tmp_path / "bad.zarr", {"good": curve(30, 2)})
    write_trajectory(run, "diverged", bad)
    with pytest.raises(UnknownNameError, match="unknown manifold method 'pcaa'; valid: autoencoder, .*kpca, pca"):
        fit_manifold(run, "pcaa")
    with pytest.raises(NonFiniteError, match="trajectory 'diverged' holds NaN or infinity in 10 of 30 rows"):
        fit_manifold(run, "pca")
    with pytest.raises(InvalidSettingError, match="the trajectory selection is empty"):
        fit_manifold(run, "pca", trajectories=[])
    with pytest.raises(UnknownNameError, match="unknown trajectory .* 'nope'; valid: diverged, good"):
        fit_manifold(run, "pca", trajectories=["nope"])
    with pytest.raises(InvalidSettingError, match="pca has no setting gamma"):
        fit_manifold(run, "pca", trajectories=["good"], gamma=1.0)
    with pytest.raises(InvalidSettingError, match="every=0 must be an integer >= 1"):
        fit_manifold(run, "pca", trajectories=["good"], every=0)
    empty = make_store(tmp_path / "empty.zarr", {})
    with pytest.raises(InvalidSettingError, match="holds no trajectories"):
        fit_manifold(empty, "pca")


def test_registry_lists_every_method():
    assert {"autoencoder", "kpca", "pca", "random", "umap"} <= set(MANIFOLDS)
    assert N_PARAMS == 40
