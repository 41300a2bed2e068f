"""Neighbour pairs of a d-dimensional grid as pairs of shifted slices (views, no index arrays)."""

from __future__ import annotations

import itertools

from pinnviz.errors import InvalidSettingError, unknown_name

CONNECTIVITIES = ("face", "full")


def check_connectivity(connectivity: str) -> str:
    if connectivity not in CONNECTIVITIES:
        raise unknown_name("connectivity", connectivity, CONNECTIVITIES)
    return connectivity


def half_offsets(ndim: int, connectivity: str) -> list[tuple[int, ...]]:
    """One offset of each neighbour pair: the 2d face neighbours (d of them) or all 3^d - 1 (half of them).

    An offset o and -o describe the same undirected pair, so only those whose first non-zero entry is
    positive are kept.
    """
    check_connectivity(connectivity)
    if ndim < 1:
        raise InvalidSettingError(f"a field needs at least one dimension, got {ndim}")
    if connectivity == "face":
        return [tuple(int(i == k) for i in range(ndim)) for k in range(ndim)]
    offsets = []
    for o in itertools.product((-1, 0, 1), repeat=ndim):
        first = next((v for v in o if v != 0), 0)
        if first > 0:
            offsets.append(o)
    return offsets


def pair_slices(offset: tuple[int, ...]) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Slices (a, b) such that grid[a][i] and grid[b][i] are neighbours along `offset` for every i."""
    a, b = [], []
    for o in offset:
        if o == 1:
            a.append(slice(0, -1))
            b.append(slice(1, None))
        elif o == -1:
            a.append(slice(1, None))
            b.append(slice(0, -1))
        else:
            a.append(slice(None))
            b.append(slice(None))
    return tuple(a), tuple(b)
