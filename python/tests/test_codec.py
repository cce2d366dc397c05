"""Tensors round-trip every datatype through an arena slot, in place, described by descriptors."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tensorbind._proxy import arena
from tensorbind._proxy.codec import decode_call, encode_outputs
from tensorbind._proxy.datatypes import NUMPY_DTYPES, decode_bytes, encode_bytes

NUMERIC = [d for d in NUMPY_DTYPES if d != "BF16"]


@pytest.fixture
def out_arena():
    a = arena.OutputArena()
    yield a
    a.close()


def roundtrip(a: arena.OutputArena, outputs: dict, requested=None) -> dict:
    res = encode_outputs(outputs, requested, None, a)
    return decode_call(a.segments, res["outputs"])


@pytest.mark.parametrize("dt", NUMERIC)
def test_numeric_roundtrip_is_an_aligned_view_of_the_segment(out_arena, dt):
    x = (np.arange(12) % 2 == 0) if dt == "BOOL" else np.arange(12).astype(NUMPY_DTYPES[dt])
    x = x.reshape(3, 4)
    y = roundtrip(out_arena, {"x": x, "pad": np.zeros(3, np.int8)})["x"]
    assert y.dtype == NUMPY_DTYPES[dt] and y.shape == (3, 4)
    np.testing.assert_array_equal(y, x)
    seg = next(iter(out_arena.segments.values()))
    assert np.shares_memory(y, np.frombuffer(seg, dtype=np.uint8))
    assert y.ctypes.data % arena.ALIGN == 0
    assert not y.flags.writeable


def test_bytes_scalars_and_empty(out_arena):
    s = np.array([b"a", b"", "\u00e9".encode()], dtype=object)
    got = roundtrip(out_arena, {"s": s, "k": np.float32(3.5), "e": np.zeros((0, 3), np.int32)})
    assert got["s"].tolist() == [b"a", b"", "\u00e9".encode()]
    assert got["k"].shape == () and got["k"] == 3.5
    assert got["e"].shape == (0, 3) and got["e"].dtype == np.int32


def test_requested_outputs_only(out_arena):
    got = roundtrip(out_arena, {"a": np.ones(2), "b": np.zeros(2)}, ["b"])
    assert list(got) == ["b"]
    with pytest.raises(KeyError):
        roundtrip(out_arena, {"a": np.ones(2)}, ["c"])


def test_slots_are_freed_and_reused(out_arena):
    s1 = encode_outputs({"a": np.ones(10)}, None, None, out_arena)["slot"]
    s2 = encode_outputs({"a": np.ones(10)}, None, None, out_arena)["slot"]
    assert s1 != s2
    out_arena.free(*s1)
    s3 = encode_outputs({"a": np.ones(10)}, None, None, out_arena)["slot"]
    assert s3 == s1


def test_segments_grow_shrink_and_unlink(out_arena):
    res = encode_outputs({"a": np.zeros(arena.MIN_SEGMENT + 1, np.uint8)}, None, None, out_arena)
    assert len(out_arena.segments) == 1 and res["outputs"][0]["length"] == arena.MIN_SEGMENT + 1
    names = [str(s["name"]) for s in out_arena.announce]
    assert all(os.path.exists("/dev/shm" + n) for n in names)
    assert out_arena.droppable() == []
    out_arena.free(*res["slot"])
    assert out_arena.drop_empty() == [res["slot"][0]]  # larger than the idle size: dropped
    assert out_arena.byte_length() == 0
    assert not any(os.path.exists("/dev/shm" + n) for n in names)


def test_cap_is_a_clean_error(out_arena):
    capped = arena.OutputArena(limit=arena.MIN_SEGMENT)
    try:
        with pytest.raises(arena.SharedMemoryExhausted, match="limit"):
            encode_outputs({"a": np.zeros(2 * arena.MIN_SEGMENT, np.uint8)}, None, None, capped)
        assert capped.byte_length() == 0
    finally:
        capped.close()


def test_bytes_codec():
    arr = np.array([b"x", b"yz"], dtype=object)
    assert decode_bytes(encode_bytes(arr), 2).tolist() == [b"x", b"yz"]
    with pytest.raises(ValueError):
        decode_bytes(encode_bytes(arr) + b"!", 2)
