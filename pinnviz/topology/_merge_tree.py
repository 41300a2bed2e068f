"""The merge tree of a field on a grid: sort once, descend, join basins along a minimum spanning tree.

1. Cells are ranked by a stable sort of their values (ties: lower flat index first), so "lower" is a
   strict total order and every minimum, saddle and pair is well defined.
2. Each cell points to its lowest neighbour when that one is lower (one `np.minimum` per neighbour
   offset over shifted slices of the rank grid); pointer jumping gives each cell the minimum it
   descends to: its basin. Inside a basin no merge can happen.
3. Neighbouring cells in different basins give basin-graph edges weighted by the higher rank of the
   two (the moment both exist). Kruskal's algorithm over them is the union-find of sublevel sets; its
   merges are the edges of the graph's minimum spanning tree (scipy, in C), so only those (one per
   minimum) go through the Python union-find, in rank order, with the elder rule: the component with
   the younger (higher) minimum dies at the merge.
4. Basin sizes: each cell belongs to the lowest tree node on its basin's leaf-to-root path whose merge
   rank exceeds the cell's rank, found for all cells at once by binary lifting.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

from pinnviz.errors import InvalidSettingError
from pinnviz.topology._grid import check_connectivity, half_offsets, pair_slices
from pinnviz.topology._tree import MergeTree

GROWTH_SAMPLES = 9  # heights at which each basin's width is recorded (plus its merge height)


def merge_tree(field: np.ndarray, connectivity: str = "face", *, min_persistence: float = 0.0) -> MergeTree:
    """The join tree of the sublevel sets of `field` on its grid.

    Parameters
    ----------
    field : ndarray of shape (n_0, ..., n_{d-1}), d >= 1
        Scalar values on the grid's cells; NaN and +-inf are holes (not part of any sublevel set).
    connectivity : "face" or "full"
        Which cells are neighbours: the 2d sharing a face, or all 3^d - 1 sharing at least a corner.
    min_persistence : float
        Drop minima whose persistence (merge value minus own value) is below this (`MergeTree.simplify`).

    Returns
    -------
    MergeTree
    """
    check_connectivity(connectivity)
    values = np.asarray(field, dtype=np.float64)
    if values.ndim < 1 or values.size == 0:
        raise InvalidSettingError(f"a field needs at least one cell, got shape {values.shape}")
    if values.size >= 2**31 - 1:
        raise InvalidSettingError(f"a field of {values.size} cells is too large (at most 2^31 - 2)")
    flat = values.ravel()
    valid = np.isfinite(flat)
    n_cells, n_valid = flat.size, int(valid.sum())
    offsets = half_offsets(values.ndim, connectivity)

    order = _stable_order(np.where(valid, flat, np.inf))[:n_valid]
    rank = np.full(n_cells, n_cells, dtype=np.int32)  # holes rank above every cell
    rank[order] = np.arange(n_valid, dtype=np.int32)
    rank_grid = rank.reshape(values.shape)

    basin, minimum_cell = _basins(rank_grid, order, offsets, n_cells)  # basin id of each cell, -1 in holes
    n_basins = minimum_cell.size
    edges = _basin_edges(basin.reshape(values.shape), rank_grid, offsets, n_basins)
    parent, node_rank, killed, roots = _join(edges, n_basins, minimum_cell, rank)
    tree = _assemble(values.shape, connectivity, flat, order, rank, basin, minimum_cell, parent, node_rank, killed,
                     roots)
    return tree.simplify(min_persistence) if min_persistence > 0 else tree


def _stable_order(flat: np.ndarray) -> np.ndarray:
    """argsort with ties in flat-index order; the fast unstable sort unless the values hold ties."""
    order = np.argsort(flat)
    ordered = flat[order]
    if np.any(ordered[1:] == ordered[:-1]):
        order = np.argsort(flat, kind="stable")
    return order.astype(np.int64)


def _basins(rank_grid: np.ndarray, order: np.ndarray, offsets, n_cells: int) -> np.ndarray:
    """Basin id of every cell (ids ordered by the rank of their minimum: 0 is the global minimum)."""
    lowest = rank_grid.copy()  # the lowest rank among a cell and its neighbours
    for offset in offsets:
        a, b = pair_slices(offset)
        np.minimum(lowest[a], rank_grid[b], out=lowest[a])
        np.minimum(lowest[b], rank_grid[a], out=lowest[b])
    lowest = lowest.ravel()
    rank = rank_grid.ravel()
    valid = rank < n_cells
    target = np.arange(n_cells, dtype=np.int64)
    down = valid & (lowest < rank)
    target[down] = order[lowest[down]]
    while True:  # pointer jumping: every cell to the minimum it descends to
        jumped = target[target]
        if np.array_equal(jumped, target):
            break
        target = jumped
    is_min = valid & (target == np.arange(n_cells))
    min_cells = np.flatnonzero(is_min)
    ids = np.full(n_cells, -1, dtype=np.int32)
    ids[min_cells[np.argsort(rank[min_cells], kind="stable")]] = np.arange(min_cells.size)
    return np.where(valid, ids[target], -1), min_cells[np.argsort(rank[min_cells], kind="stable")]


def _basin_edges(basin_grid: np.ndarray, rank_grid: np.ndarray, offsets, n_basins: int):
    """Distinct basin pairs (a < b) that touch, each with the lowest rank at which they join."""
    parts_a, parts_b, parts_w = [], [], []
    for offset in offsets:
        sa, sb = pair_slices(offset)
        ba, bb = basin_grid[sa], basin_grid[sb]
        touch = ba != bb
        x, y = ba[touch], bb[touch]
        inside = (x >= 0) & (y >= 0)  # not a hole
        if not inside.any():
            continue
        parts_a.append(np.minimum(x[inside], y[inside]))
        parts_b.append(np.maximum(x[inside], y[inside]))
        parts_w.append(np.maximum(rank_grid[sa][touch][inside], rank_grid[sb][touch][inside]))
    if not parts_a:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    a, b = np.concatenate(parts_a).astype(np.int64), np.concatenate(parts_b).astype(np.int64)
    w = np.concatenate(parts_w).astype(np.int64)
    key = a * n_basins + b
    n_ranks = int(rank_grid.size) + 1
    if n_basins**2 * n_ranks < 2**62:  # one int64 sort of (pair, rank)
        packed = np.sort(key * n_ranks + w)
        key, w = packed // n_ranks, packed % n_ranks
    else:
        idx = np.lexsort((w, key))
        key, w = key[idx], w[idx]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    return key[first] // n_basins, key[first] % n_basins, w[first]


def _join(edges, n_basins: int, minimum_cell: np.ndarray, rank: np.ndarray):
    """Union-find over the basin graph's minimum spanning tree in rank order (elder rule).

    Returns node parents (leaves 0..B-1 are the basins, merges follow in rank order), each node's rank
    (a leaf: its minimum's; a merge: its saddle's), the basin killed at each merge, and the root ids.
    """
    a, b, w = edges
    if a.size:
        # weights + 1: scipy reads an explicit 0 as "no edge"
        mst = minimum_spanning_tree(coo_matrix((w + 1.0, (a, b)), shape=(n_basins, n_basins))).tocoo()
        a, b, w = mst.row.astype(np.int64), mst.col.astype(np.int64), mst.data.astype(np.int64) - 1
        idx = np.argsort(w, kind="stable")
        a, b, w = a[idx].tolist(), b[idx].tolist(), w[idx].tolist()
    else:
        a, b, w = [], [], []
    uf = list(range(n_basins))  # the root of a set is its oldest basin (smallest id)
    node_of = list(range(n_basins))  # the current tree node of each root
    parent = [-1] * (n_basins + len(w))
    node_rank = rank[minimum_cell].astype(np.int64).tolist() + w
    killed = []

    def find(x: int) -> int:
        while uf[x] != x:
            uf[x] = uf[uf[x]]
            x = uf[x]
        return x

    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        rx, ry = find(x), find(y)
        older, younger = (rx, ry) if rx < ry else (ry, rx)
        node = n_basins + k
        parent[node_of[older]] = node
        parent[node_of[younger]] = node
        uf[younger] = older
        node_of[older] = node
        killed.append(younger)
    roots = sorted({find(x) for x in range(n_basins)})  # each component's oldest basin
    return (np.asarray(parent, dtype=np.int64), np.asarray(node_rank, dtype=np.int64),
            np.asarray(killed, dtype=np.int64), (roots, [node_of[r] for r in roots]))


def _arcs(basin: np.ndarray, cell_rank: np.ndarray, parent: np.ndarray, node_rank: np.ndarray, top: int):
    """For each cell (basin, rank): the lowest node on its leaf's path up whose merge rank exceeds its rank."""
    n_nodes = parent.size
    up = np.where(parent >= 0, parent, np.arange(n_nodes))
    end = np.where(parent >= 0, node_rank[up], top)  # rank at which a node merges into its parent
    node = basin.copy()
    climb = np.flatnonzero(end[node] <= cell_rank)
    if climb.size:
        levels = [up]
        while True:  # binary lifting table: levels[k][n] is n's 2^k-th ancestor
            nxt = levels[-1][levels[-1]]
            if np.array_equal(nxt, levels[-1]):
                break
            levels.append(nxt)
        at, r = node[climb], cell_rank[climb]
        for table in reversed(levels):  # the highest ancestor that still merges at or below r
            cand = table[at]
            jump = end[cand] <= r
            at = np.where(jump, cand, at)
        node[climb] = up[at]
    return node


def _assemble(shape, connectivity, flat, order, rank, basin, minimum_cell, parent, node_rank, killed, roots):
    n_basins, n_nodes = minimum_cell.size, parent.size
    root_basins, root_nodes = roots
    cell = np.concatenate([minimum_cell, order[node_rank[n_basins:]]]).astype(np.int64)
    value = flat[cell]
    arc = _arcs(basin[order], np.arange(order.size), parent, node_rank, top=order.size)  # cells in rank order
    own = np.bincount(arc, minlength=n_nodes)
    size, low = own.tolist(), value.tolist()
    for node, p in enumerate(parent.tolist()):  # children have smaller ids than their parents
        if p >= 0:
            size[p] += size[node]
            low[p] = min(low[p], low[node])
    size, low = np.asarray(size, dtype=np.int64), np.asarray(low, dtype=np.float64)
    small = arc.astype(np.uint16) if n_nodes <= 2**16 else arc  # numpy radix-sorts 16-bit keys
    by_node = order[np.argsort(small, kind="stable")]  # cells grouped by node, by rank inside each
    starts = np.concatenate([[0], np.cumsum(own)]).astype(np.int64)
    high = np.where(parent >= 0, value[np.maximum(parent, 0)], -np.inf)
    high[root_nodes] = flat[by_node[starts[np.asarray(root_nodes, dtype=np.int64) + 1] - 1]]
    offsets, heights, widths = _growth(flat, by_node, starts, own, size, high)
    birth_cell = np.concatenate([minimum_cell[killed], minimum_cell[root_basins]]).astype(np.int64)
    death_cell = np.concatenate([cell[n_basins:], np.full(len(root_nodes), -1)]).astype(np.int64)
    death = np.concatenate([value[n_basins:], np.full(len(root_nodes), np.inf)])
    return MergeTree(
        shape=tuple(int(s) for s in shape), connectivity=connectivity, parent=parent, cell=cell, value=value,
        size=size, low=low, high=high, birth=flat[birth_cell], death=death, birth_cell=birth_cell,
        death_cell=death_cell, growth_offsets=offsets, growth_height=heights, growth_width=widths)


def _growth(flat, by_node, starts, own, size, high):
    """Each node's width (cells at or below h) at up to GROWTH_SAMPLES of its own cells, then at its merge."""
    n_nodes = own.size
    t = np.linspace(0.0, 1.0, GROWTH_SAMPLES)
    picks = np.rint(t[None, :] * np.maximum(own[:, None] - 1, 0)).astype(np.int64)  # (n, K): own cells sampled
    keep = np.repeat(own[:, None] > 0, GROWTH_SAMPLES, axis=1)  # a merge at an already used cell owns none
    keep[:, 1:] &= picks[:, 1:] != picks[:, :-1]
    heights = flat[by_node[np.minimum(starts[:-1, None] + picks, max(by_node.size - 1, 0))]]
    widths = (size - own)[:, None] + picks + 1
    heights = np.concatenate([heights, high[:, None]], axis=1)
    widths = np.concatenate([widths, size[:, None]], axis=1)
    keep = np.concatenate([keep, np.ones((n_nodes, 1), dtype=bool)], axis=1)
    offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int64)
    return offsets, heights[keep], widths[keep].astype(np.int64)
