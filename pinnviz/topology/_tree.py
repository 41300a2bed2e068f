"""The merge tree (join tree of sublevel sets) of a scalar field, its persistence pairs and its simplification."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from pinnviz.errors import InvalidSettingError


@dataclass
class MergeTree:
    """Join tree of the sublevel sets {x : f(x) <= h} of a field on a grid.

    Nodes are numbered so that a child's id is below its parent's. A leaf is a minimum; an inner node
    is a merge of two components at a saddle cell (a cell touching k > 2 components gives k - 1 merges
    at that cell). Ties are broken by the cell's flat index (the stable sort of the values), so every
    quantity below is well defined.

    Attributes
    ----------
    shape : the field's shape; cells are flat (C-order) indices into it.
    connectivity : "face" (2d neighbours) or "full" (3^d - 1 neighbours).
    parent : (n,) int64, -1 for a root (one root per connected component of the finite cells).
    cell : (n,) int64, the node's critical cell: the minimum of a leaf, the saddle of a merge.
    value : (n,) float64, the field at `cell`.
    size : (n,) int64, cells of the node's basin: its component just before it merges into the parent
        (a root: its whole connected component).
    low : (n,) float64, the lowest value in the basin; high : (n,) the value where it merges (a root:
        the largest value of its component).
    birth, death : (m,) the 0-dimensional persistence pairs (death = inf for each component's global
        minimum); birth_cell, death_cell : their cells (-1 for an infinite death).
    growth_offsets : (n + 1,), growth_height, growth_width : the basin's width (cells with value <= h)
        sampled at heights h from `value` to `high`; node i's samples are [offsets[i], offsets[i + 1]).
    min_persistence : the simplification threshold applied (0: none).
    """

    shape: tuple[int, ...]
    connectivity: str
    parent: np.ndarray
    cell: np.ndarray
    value: np.ndarray
    size: np.ndarray
    low: np.ndarray
    high: np.ndarray
    birth: np.ndarray
    death: np.ndarray
    birth_cell: np.ndarray
    death_cell: np.ndarray
    growth_offsets: np.ndarray
    growth_height: np.ndarray
    growth_width: np.ndarray
    min_persistence: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return int(self.parent.size)

    @property
    def is_minimum(self) -> np.ndarray:
        """(n,) bool: the leaves."""
        has_child = np.zeros(self.n_nodes, dtype=bool)
        has_child[self.parent[self.parent >= 0]] = True
        return ~has_child

    @property
    def minima(self) -> np.ndarray:
        """Flat cells of the minima (leaves), lowest first."""
        leaves = np.flatnonzero(self.is_minimum)
        return self.cell[leaves[np.argsort(self.value[leaves], kind="stable")]]

    @property
    def saddles(self) -> np.ndarray:
        """Flat cells of the saddles (merge nodes; a degenerate saddle once), lowest first."""
        merges = np.flatnonzero(~self.is_minimum)
        cells = self.cell[merges[np.argsort(self.value[merges], kind="stable")]]
        _, first = np.unique(cells, return_index=True)
        return cells[np.sort(first)]

    @property
    def persistence(self) -> np.ndarray:
        """(m,) death - birth of each pair (inf for a component's global minimum)."""
        return self.death - self.birth

    def growth(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """(heights, widths) of one node's basin as it fills up."""
        lo, hi = self.growth_offsets[node], self.growth_offsets[node + 1]
        return self.growth_height[lo:hi], self.growth_width[lo:hi]

    def children(self) -> list[list[int]]:
        kids: list[list[int]] = [[] for _ in range(self.n_nodes)]
        for node, p in enumerate(self.parent.tolist()):
            if p >= 0:
                kids[p].append(node)
        return kids

    def coordinates(self, cells: np.ndarray) -> np.ndarray:
        """(k, d) grid indices of flat cells."""
        return np.stack(np.unravel_index(np.asarray(cells, dtype=np.int64), self.shape), axis=1)

    def simplify(self, min_persistence: float) -> MergeTree:
        """The tree without the minima of persistence below `min_persistence` (and the merges that kill them).

        A removed minimum's whole subtree is absorbed into the basin it merged into; every kept node's
        basin keeps its size and loss range, now including what it absorbed.
        """
        threshold = float(min_persistence)
        if not threshold >= 0:
            raise InvalidSettingError(f"min_persistence={min_persistence} must be >= 0")
        if threshold <= self.min_persistence:
            return self
        kept = self._kept_nodes(threshold)
        parent = self.parent.tolist()
        top = list(range(self.n_nodes))  # the highest node of the chain of removed merges above each node
        for node in range(self.n_nodes - 1, -1, -1):
            p = parent[node]
            if p >= 0 and not kept[p]:
                top[node] = top[p]
        old_ids = np.flatnonzero(kept)
        new_id = np.full(self.n_nodes, -1, dtype=np.int64)
        new_id[old_ids] = np.arange(old_ids.size)
        tops = np.array([top[k] for k in old_ids], dtype=np.int64)
        new_parent = np.where(self.parent[tops] >= 0, new_id[np.maximum(self.parent[tops], 0)], -1)
        heights, widths, lengths = [], [], []
        for k, t in zip(old_ids.tolist(), tops.tolist(), strict=True):
            node, total = k, 0
            while True:  # the chain k -> ... -> t, bottom up: the kept basin as it fills up
                h, w = self.growth(node)
                heights.append(h)
                widths.append(w)
                total += h.size
                if node == t:
                    break
                node = parent[node]
            lengths.append(total)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        pairs = np.isinf(self.death) | (self.death - self.birth >= threshold)
        return MergeTree(
            shape=self.shape, connectivity=self.connectivity, parent=new_parent, cell=self.cell[old_ids],
            value=self.value[old_ids], size=self.size[tops], low=self.low[old_ids], high=self.high[tops],
            birth=self.birth[pairs], death=self.death[pairs], birth_cell=self.birth_cell[pairs],
            death_cell=self.death_cell[pairs], growth_offsets=offsets,
            growth_height=np.concatenate(heights) if heights else np.empty(0),
            growth_width=np.concatenate(widths) if widths else np.empty(0, dtype=np.int64),
            min_persistence=threshold, extra=dict(self.extra))

    def _kept_nodes(self, threshold: float) -> np.ndarray:
        """Leaves and merges whose minimum (the one dying there, for a merge) has persistence >= threshold.

        A root that is a merge is no exception: if what it kills is not persistent, the chain below it
        becomes the root (and keeps the whole component's size and top).
        """
        kept = np.zeros(self.n_nodes, dtype=bool)
        leaves = self.is_minimum
        death_of_cell = dict(zip(self.birth_cell.tolist(), self.death.tolist(), strict=True))
        for node in np.flatnonzero(leaves).tolist():  # a component's global minimum never dies: inf
            death = death_of_cell.get(int(self.cell[node]), np.inf)
            kept[node] = death - self.value[node] >= threshold
        kids = self.children()
        for node in np.flatnonzero(~leaves).tolist():  # a merge kills the child with the higher minimum
            younger = max(self.low[c] for c in kids[node])
            kept[node] = self.value[node] - younger >= threshold
        return kept

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """Plain arrays and JSON attributes (for `probes/<name>/`); `from_arrays` reads them back."""
        arrays = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)
                  if f.name not in ("shape", "connectivity", "min_persistence", "extra")}
        attrs = {"shape": [int(s) for s in self.shape], "connectivity": self.connectivity,
                 "min_persistence": float(self.min_persistence), **self.extra}
        return arrays, attrs

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], attrs: dict) -> MergeTree:
        names = [f.name for f in fields(cls) if f.name not in ("shape", "connectivity", "min_persistence", "extra")]
        extra = {k: v for k, v in attrs.items() if k not in ("shape", "connectivity", "min_persistence")}
        return cls(shape=tuple(attrs["shape"]), connectivity=attrs["connectivity"],
                   min_persistence=float(attrs["min_persistence"]), extra=extra,
                   **{name: np.asarray(arrays[name]) for name in names})

