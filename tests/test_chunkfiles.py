"""Rows written straight into a plain array's chunk files read back through zarr, and give zarr's own bytes."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from zarr.codecs import BytesCodec
from zarr.storage import MemoryStore

from pinnviz.store._chunkfiles import chunk_pieces, plain_row_chunks, write_pieces
from pinnviz.store._writer import TrajectoryWriter

# blocks of rows appended in turn: a part of a chunk, several chunks and a half, whole chunks, one row
BLOCKS = (3, 11, 8, 1, 5)


def _array(path, dtype="float64", **options) -> zarr.Array:
    spec = dict(shape=(0, 6), chunks=(4, 6), dtype=dtype, fill_value=np.nan, compressors=None,
                dimension_names=("step", "param"))
    return zarr.create_array(str(path), **{**spec, **options})


def _chunk_files(array: zarr.Array) -> dict[str, bytes]:
    root = array.store.root
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("c/*/*"))}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rows_written_into_chunk_files_are_what_zarr_reads_and_writes(tmp_path, dtype):
    data = np.random.default_rng(0).standard_normal((sum(BLOCKS), 6)).astype(dtype)
    by_zarr, direct = _array(tmp_path / "zarr.zarr", dtype), _array(tmp_path / "direct.zarr", dtype)
    assert plain_row_chunks(direct) == 4
    start = 0
    for n in BLOCKS:
        rows = data[start : start + n]
        by_zarr.append(rows, axis=0)
        direct.resize((start + n, 6))
        write_pieces(chunk_pieces(direct, start, rows, 4))
        start += n
        np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "direct.zarr"))[:], data[:start])
        assert _chunk_files(direct) == _chunk_files(by_zarr)  # byte for byte, the padded last chunk too
    assert not list((tmp_path / "direct.zarr").rglob("*.partial"))


def test_a_chunk_covered_in_part_keeps_its_other_rows(tmp_path):
    array = _array(tmp_path / "a.zarr")
    array.append(np.ones((8, 6)), axis=0)
    write_pieces(chunk_pieces(array, 5, np.full((2, 6), 7.0), 4))  # rows 5 and 6 of chunk 1 (rows 4-7)
    expected = np.ones((8, 6))
    expected[5:7] = 7.0
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "a.zarr"))[:], expected)


def test_a_damaged_chunk_is_left_to_zarr_and_nothing_is_written(tmp_path):
    array = _array(tmp_path / "a.zarr")
    array.append(np.ones((6, 6)), axis=0)
    chunk = tmp_path / "a.zarr" / "c" / "1" / "0"
    chunk.write_bytes(chunk.read_bytes()[:50])  # truncated
    before = _chunk_files(array)
    array.resize((9, 6))
    assert chunk_pieces(array, 6, np.zeros((3, 6)), 4) is None  # rows 6-8: chunk 1 in part, chunk 2 in part
    assert _chunk_files(array) == before


def test_other_layouts_are_left_to_zarr(tmp_path):
    assert plain_row_chunks(_array(tmp_path / "zstd.zarr", compressors="auto")) is None
    assert plain_row_chunks(_array(tmp_path / "split.zarr", chunks=(4, 3))) is None
    big_endian = _array(tmp_path / "big.zarr", serializer=BytesCodec(endian="big"))
    assert plain_row_chunks(big_endian) is None
    memory = zarr.create_array(MemoryStore(), shape=(0, 6), chunks=(4, 6), dtype="float64", compressors=None)
    assert plain_row_chunks(memory) is None


def test_a_writer_leaves_a_damaged_chunk_to_zarr_which_reports_it(tmp_path):
    parent = zarr.open_group(str(tmp_path / "s.zarr"), mode="w").create_group("trajectories")
    writer = TrajectoryWriter.create(parent, "t", 4, ["a"], {}, block=3)
    writer.append_rows(np.arange(3), np.ones((3, 4)), {"a": np.zeros(3)})
    writer.flush()
    chunk = tmp_path / "s.zarr" / "trajectories" / "t" / "params" / "c" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:40])
    writer.append_rows(np.arange(3, 6), np.ones((3, 4)), {"a": np.zeros(3)})
    with pytest.raises(ValueError):  # zarr's own message for the chunk it cannot decode
        writer.flush()
    assert zarr.open_group(str(tmp_path / "s.zarr" / "trajectories" / "t")).attrs["length"] == 3


@pytest.mark.parametrize("store_dtype", ["float64", "float32"])
def test_a_writer_flushing_ragged_blocks_stores_exactly_the_rows_given(tmp_path, store_dtype, monkeypatch):
    monkeypatch.setattr("pinnviz.store._writer.chunk_shape", lambda n_params, itemsize=8: (4, n_params))
    parent = zarr.open_group(str(tmp_path / "s.zarr"), mode="w").create_group("trajectories")
    writer = TrajectoryWriter.create(parent, "t", 5, ["a"], {}, block=7, store_dtype=store_dtype)
    assert writer._chunk_rows == 4  # the chunk files are written here, not by zarr
    data = np.random.default_rng(1).standard_normal((sum(BLOCKS), 5))
    start = 0
    for n in BLOCKS:  # flushes of 3, 7, 4, 7, 1, 1, 5 rows: every chunk boundary falls inside a flush
        while n:
            k = min(n, writer.space())
            writer.append_rows(np.arange(start, start + k), data[start : start + k], {"a": data[start : start + k, 0]})
            start, n = start + k, n - k
            if writer.due():
                writer.flush()
        writer.flush()
    writer.close("complete")
    stored = zarr.open_array(str(tmp_path / "s.zarr" / "trajectories" / "t" / "params"))
    assert stored.shape == data.shape
    np.testing.assert_array_equal(stored[:], data.astype(store_dtype))
