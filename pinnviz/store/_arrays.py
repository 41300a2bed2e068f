"""Writing a whole array into a store with named dimensions, so xarray and other tools read it labelled.

Zarr v3 arrays carry `dimension_names`; xarray needs them to open a group (`xr.open_zarr`,
`xr.open_datatree`). A caller names the axes it knows (`("axis_1", "axis_0")`); otherwise each axis
gets `<leaf>_dim_<i>`, unique to the array, so arrays of one group never claim one dimension with two
different sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import zarr


def default_dims(key: str, ndim: int) -> tuple[str, ...]:
    """`<leaf>_dim_0, <leaf>_dim_1, ...` for an array stored at `key` (leaf: the part after the last '/')."""
    leaf = key.rsplit("/", 1)[-1]
    return tuple(f"{leaf}_dim_{i}" for i in range(ndim))


def write_array(group: zarr.Group, key: str, value, dims: Sequence[str] | None = None, *,
                overwrite: bool = False) -> zarr.Array:
    """Create `group[key]` holding `value` (C-contiguous, float32 kept) with dimension names.

    Parameters
    ----------
    key : path below `group`; intermediate groups are created
    dims : one name per axis of `value`; default `default_dims(key, value.ndim)`
    """
    value = np.ascontiguousarray(np.asarray(value))
    names = tuple(dims) if dims is not None else default_dims(key, value.ndim)
    if len(names) != value.ndim:
        raise ValueError(f"{key}: {len(names)} dimension names {names} for an array of shape {value.shape}")
    return group.create_array(key, data=value, dimension_names=names, overwrite=overwrite)
