"""Merge trees against independent computations: gudhi's cubical persistence and scipy.ndimage labelling."""

import numpy as np
import pytest
from scipy import ndimage

from pinnviz.errors import InvalidSettingError, UnknownNameError
from pinnviz.topology import merge_tree
from pinnviz.topology._grid import half_offsets

gudhi = pytest.importorskip("gudhi")


def gudhi_pairs(field: np.ndarray, connectivity: str) -> np.ndarray:
    """gudhi's 0-dimensional sublevel persistence of the cubical complex matching `connectivity`.

    gudhi puts the values either on the top-dimensional cubes or on the vertices of its complex:
    - face connectivity = values on the *vertices* (lower-star filtration: an edge enters at the max
      of its two vertices, and edges join only axis neighbours), so `CubicalComplex(vertices=...)`;
    - full connectivity = values on the *top-dimensional cells* (a face enters at the min of the
      cubes around it, so two cubes sharing only a corner are joined as soon as both exist: all
      3^d - 1 neighbours), so `CubicalComplex(top_dimensional_cells=...)`.
    A hole (NaN) becomes +inf, which enters last: components cut apart by holes then die at inf,
    exactly the essential pairs of our forest. Pairs born at inf (the holes themselves) are dropped.
    """
    values = np.where(np.isfinite(field), field, np.inf)
    key = "vertices" if connectivity == "face" else "top_dimensional_cells"
    complex_ = gudhi.CubicalComplex(**{key: values})
    complex_.compute_persistence(min_persistence=0)  # gudhi keeps death - birth > 0
    pairs = np.asarray(complex_.persistence_intervals_in_dimension(0)).reshape(-1, 2)
    pairs = pairs[np.isfinite(pairs[:, 0])]
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def our_pairs(tree) -> np.ndarray:
    keep = tree.death > tree.birth
    pairs = np.stack([tree.birth[keep], tree.death[keep]], axis=1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def smooth_field(shape, seed=0, noise=0.02):
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    field = sum(a**2 for a in axes)
    for _ in range(5):
        centre = rng.uniform(-1, 1, len(shape))
        field = field - 0.6 * np.exp(-sum((a - c) ** 2 for a, c in zip(axes, centre, strict=True)) / 0.08)
    return field + noise * rng.standard_normal(shape)


def with_holes(field, fraction, seed):
    out = field.copy()
    out[np.random.default_rng(seed).random(field.shape) < fraction] = np.nan
    return out


def plateaus(shape, seed):
    return np.round(np.random.default_rng(seed).standard_normal(shape) * 1.5) / 2  # few distinct values: ties


def islands():
    field = np.random.default_rng(7).standard_normal((12, 12))
    field[4, :] = np.nan  # a wall of holes cuts the grid in two components
    field[:, 9] = np.nan
    return field


FIELDS = {
    "random-2d": lambda: np.random.default_rng(1).standard_normal((23, 31)),
    "random-2d-small": lambda: np.random.default_rng(2).standard_normal((3, 4)),
    "random-3d": lambda: np.random.default_rng(3).standard_normal((7, 8, 9)),
    "random-4d": lambda: np.random.default_rng(4).standard_normal((5, 6, 5, 4)),
    "smooth-2d": lambda: smooth_field((40, 40), 5),
    "smooth-3d": lambda: smooth_field((14, 14, 14), 6),
    "smooth-4d": lambda: smooth_field((8, 8, 8, 8), 7),
    "plateaus-2d": lambda: plateaus((20, 20), 8),
    "plateaus-3d": lambda: plateaus((8, 8, 8), 9),
    "plateaus-4d": lambda: plateaus((5, 5, 5, 5), 10),
    "constant-2d": lambda: np.full((6, 7), 2.5),
    "integer-ties-2d": lambda: np.random.default_rng(11).integers(0, 3, (15, 15)).astype(float),
    "holes-2d": lambda: with_holes(np.random.default_rng(12).standard_normal((25, 25)), 0.25, 12),
    "holes-3d": lambda: with_holes(smooth_field((10, 10, 10), 13), 0.3, 13),
    "holes-4d": lambda: with_holes(np.random.default_rng(14).standard_normal((5, 5, 5, 5)), 0.2, 14),
    "plateau-holes-2d": lambda: with_holes(plateaus((18, 18), 15), 0.2, 15),
    "islands-2d": islands,
    "infinite-2d": lambda: np.where(np.random.default_rng(16).random((10, 10)) < 0.2, np.inf,
                                    np.random.default_rng(17).standard_normal((10, 10))),
    "monotone-3d": lambda: np.arange(6 * 5 * 4, dtype=float).reshape(6, 5, 4),
    "thin-2d": lambda: np.random.default_rng(18).standard_normal((1, 30)),
    "log-loss-2d": lambda: np.exp(3 * smooth_field((30, 30), 19, noise=0.1)),
}


@pytest.mark.parametrize("connectivity", ["face", "full"])
@pytest.mark.parametrize("name", sorted(FIELDS))
def test_pairs_equal_gudhi(name, connectivity):
    field = FIELDS[name]()
    tree = merge_tree(field, connectivity)
    np.testing.assert_allclose(our_pairs(tree), gudhi_pairs(field, connectivity), rtol=0, atol=0)


def structure(ndim: int, connectivity: str) -> np.ndarray:
    return ndimage.generate_binary_structure(ndim, 1 if connectivity == "face" else ndim)


def ranks(field: np.ndarray) -> np.ndarray:
    flat = np.where(np.isfinite(field), field, np.inf).ravel()
    rank = np.empty(flat.size, dtype=np.int64)
    rank[np.argsort(flat, kind="stable")] = np.arange(flat.size)
    rank[~np.isfinite(field.ravel())] = flat.size
    return rank.reshape(field.shape)


def check_basins_against_labelling(field, tree):
    """Each basin = the ndimage component of {rank < rank of the parent's saddle} holding its minimum."""
    rank = ranks(field)
    valid = np.isfinite(field)
    lowest_cell = {}
    for node in range(tree.n_nodes):  # a node's own lowest cell: its leaf with the smallest rank
        lowest_cell[node] = tree.cell[node] if tree.is_minimum[node] else None
    for node in range(tree.n_nodes):
        p = tree.parent[node]
        if p >= 0:
            cur = lowest_cell.get(p)
            if cur is None or rank.ravel()[lowest_cell[node]] < rank.ravel()[cur]:
                lowest_cell[p] = lowest_cell[node]
    checked = 0
    for node in range(tree.n_nodes):
        p = tree.parent[node]
        end = rank.ravel()[tree.cell[p]] if p >= 0 else rank.size
        start = rank.ravel()[tree.cell[node]]
        if p >= 0 and end == start:
            continue  # a second merge at the same (degenerate) saddle: a basin of height zero
        labels, _ = ndimage.label(valid & (rank < end), structure(field.ndim, tree.connectivity))
        label = labels.ravel()[lowest_cell[node]]
        assert tree.size[node] == int((labels == label).sum()), node
        assert tree.low[node] == field.ravel()[lowest_cell[node]]
        expected_high = tree.value[p] if p >= 0 else np.max(field.ravel()[labels.ravel() == label])
        assert tree.high[node] == expected_high
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("connectivity", ["face", "full"])
@pytest.mark.parametrize("name", ["random-2d", "smooth-3d", "plateaus-2d", "holes-3d", "random-4d", "islands-2d"])
def test_basin_sizes_and_ranges_equal_connected_components(name, connectivity):
    field = FIELDS[name]()
    check_basins_against_labelling(field, merge_tree(field, connectivity))


@pytest.mark.parametrize("connectivity", ["face", "full"])
def test_minima_are_the_strict_local_minima(connectivity):
    field = FIELDS["plateaus-3d"]()
    rank = ranks(field).astype(float)
    footprint = structure(3, connectivity)
    padded_min = ndimage.minimum_filter(rank, footprint=footprint, mode="constant", cval=np.inf)
    expected = np.flatnonzero((padded_min == rank).ravel())
    tree = merge_tree(field, connectivity)
    assert sorted(tree.minima.tolist()) == sorted(expected.tolist())
    assert len(tree.minima) == len(tree.birth)  # one pair per minimum
    assert set(tree.saddles.tolist()) == set(tree.death_cell[tree.death_cell >= 0].tolist())


@pytest.mark.parametrize("connectivity", ["face", "full"])
@pytest.mark.parametrize("name", ["smooth-2d", "holes-3d", "log-loss-2d", "plateaus-2d"])
def test_simplification_keeps_the_persistent_minima(name, connectivity):
    field = FIELDS[name]()
    full = merge_tree(field, connectivity)
    finite = full.persistence[np.isfinite(full.persistence)]
    threshold = float(np.quantile(finite, 0.8)) if finite.size else 1.0
    simple = merge_tree(field, connectivity, min_persistence=threshold)
    reference = gudhi_pairs(field, connectivity)
    kept = reference[(reference[:, 1] - reference[:, 0]) >= threshold]
    np.testing.assert_array_equal(our_pairs(simple), kept)
    assert simple.is_minimum.sum() == len(kept)  # one leaf per surviving pair
    assert (~simple.is_minimum).sum() == np.isfinite(kept[:, 1]).sum()  # one merge per pair that dies
    assert np.all(np.bincount(simple.parent[simple.parent >= 0], minlength=simple.n_nodes)[~simple.is_minimum] == 2)
    assert set(simple.saddles.tolist()) == set(simple.death_cell[simple.death_cell >= 0].tolist())
    assert set(simple.minima.tolist()) == set(simple.birth_cell.tolist())
    assert simple.size[simple.parent < 0].sum() == np.isfinite(field).sum()  # roots cover every cell
    check_basins_against_labelling(field, simple)  # a kept basin includes what it absorbed
    assert merge_tree(field, connectivity).simplify(threshold).n_nodes == simple.n_nodes


def test_growth_curves_end_at_the_basin_size():
    tree = merge_tree(FIELDS["smooth-2d"](), "face")
    for node in range(tree.n_nodes):
        heights, widths = tree.growth(node)
        assert np.all(np.diff(heights) >= 0) and np.all(np.diff(widths) >= 0)
        assert widths[-1] == tree.size[node] and heights[-1] == tree.high[node]


def test_round_trip_through_arrays():
    from pinnviz.topology import MergeTree

    tree = merge_tree(FIELDS["holes-2d"](), "full", min_persistence=0.3)
    arrays, attrs = tree.to_arrays()
    back = MergeTree.from_arrays(arrays, attrs)
    assert back.shape == tree.shape and back.connectivity == "full" and back.min_persistence == 0.3
    for key, value in arrays.items():
        np.testing.assert_array_equal(getattr(back, key), value)


def test_offsets_count():
    for d in (1, 2, 3, 4):
        assert len(half_offsets(d, "face")) == d
        assert len(half_offsets(d, "full")) == (3**d - 1) // 2


def test_bad_input():
    with pytest.raises(UnknownNameError, match="connectivity"):
        merge_tree(np.zeros((3, 3)), "diagonal")
    with pytest.raises(InvalidSettingError, match="at least one cell"):
        merge_tree(np.zeros((0, 3)))
    with pytest.raises(InvalidSettingError, match="min_persistence"):
        merge_tree(np.zeros((3, 3))).simplify(-1.0)
    empty = merge_tree(np.full((3, 3), np.nan))
    assert empty.n_nodes == 0 and empty.birth.size == 0
