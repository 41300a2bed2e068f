"""Rows of a plain zarr array written straight into its chunk files, with no zarr Python on the way.

A trajectory's `params` are uncompressed whole-row chunks (store/_writer.py), so a chunk file holds the
raw little-endian bytes of its rows, in C order, the rows past the array's end filled (the zarr v3
`bytes` codec of a regular grid). The writer's block is written on a thread beside the training step, on
two cores; zarr's append writes the chunks from several pool threads at once, each taking the interpreter
lock, which the step gives up and takes back at every tensor operation, between its copies. A 16 MB block
appended by zarr from a thread slowed 300 poisson1d steps 1.27-1.33x (medians of 8, three runs), written
here, one chunk after another, 1.06x (benchmarks/bench_train_speed.py). Each file is written to a temporary
name and renamed, as zarr's local store does, so a killed process leaves a chunk old or new, never torn.
Any other layout (a remote store, compressors, a chunk of part of a row) is left to zarr.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BytesCodec
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.storage import LocalStore


def plain_row_chunks(array: zarr.Array) -> int | None:
    """Rows per chunk where the 2-D `array` is stored as plain files of whole rows that `chunk_pieces` and
    `write_pieces` can write: a local store, zarr v3, the `bytes` codec alone, little-endian, C order, a
    regular grid of whole rows. None otherwise."""
    meta = array.metadata
    if not isinstance(array.store, LocalStore) or meta.zarr_format != 3 or len(array.shape) != 2:
        return None
    codecs = meta.codecs
    if len(codecs) != 1 or not isinstance(codecs[0], BytesCodec) or codecs[0].endian is None:
        return None
    little = codecs[0].endian.value == "little" and sys.byteorder == "little"
    grid = meta.chunk_grid
    if not little or array.order != "C" or not isinstance(grid, RegularChunkGrid):
        return None
    rows, columns = grid.chunk_shape
    return int(rows) if columns == array.shape[1] else None


def chunk_pieces(array: zarr.Array, start: int, rows: np.ndarray, chunk_rows: int) -> list | None:
    """The (chunk file, its whole contents) pairs that write rows (n, P) at [start, start + n) of `array`:
    a chunk the rows cover in part keeps its other rows as stored (fill, where never written). None where
    a stored chunk has not the size it should (damaged: zarr's own write then reports it)."""
    dtype = np.dtype(array.dtype).newbyteorder("<")
    n, width = rows.shape
    if width != array.shape[1]:
        raise ValueError(f"rows of width {width} do not fit array {array.shape}")
    if n == 0:
        return []
    folder = Path(array.store.root) / array.path
    key = array.metadata.chunk_key_encoding.encode_chunk_key
    pieces = []
    for chunk in range(start // chunk_rows, (start + n - 1) // chunk_rows + 1):
        first, stop = max(start, chunk * chunk_rows), min(start + n, (chunk + 1) * chunk_rows)
        path = folder / key((chunk, 0))
        piece = np.ascontiguousarray(rows[first - start : stop - start], dtype=dtype)
        if stop - first < chunk_rows:
            whole = _stored_chunk(path, (chunk_rows, width), dtype, array.fill_value)
            if whole is None:
                return None
            whole[first - chunk * chunk_rows : stop - chunk * chunk_rows] = piece
            piece = whole
        pieces.append((path, piece))
    return pieces


def write_pieces(pieces: list) -> None:
    """Write the pairs of `chunk_pieces`, one after another."""
    for path, piece in pieces:
        write_piece(path, piece)


def write_piece(path: Path, piece: np.ndarray) -> None:
    """Write one chunk file's contents (from `chunk_pieces`) to a temporary file beside it, then rename it
    over the chunk (atomic on POSIX)."""
    _replace(path, memoryview(piece).cast("B"))


def _stored_chunk(path: Path, shape: tuple[int, int], dtype: np.dtype, fill) -> np.ndarray | None:
    """A chunk file's rows (a copy to change), fill where there is no file, None where its size is wrong."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return np.full(shape, fill, dtype=dtype)
    if len(data) != dtype.itemsize * shape[0] * shape[1]:
        return None
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _replace(path: Path, data: memoryview) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path` (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            written = 0
            while written < len(data):  # os.write may write less than asked
                written += os.write(descriptor, data[written:])
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
