"""The Arrow layout round-trips every datatype through an arena slot, in place."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tensorbind._proxy import arena
from tensorbind._proxy.codec import Segment, decode_call, encode_outputs
from tensorbind._proxy.datatypes import NUMPY_DTYPES, decode_bytes, encode_bytes

NUMERIC = [d for d in NUMPY_DTYPES if d != "BF16"]


@pytest.fixture
def out_arena():
    a = arena.OutputArena()
    yield a
    a.close()


def roundtrip(a: arena.OutputArena, outputs: dict, requested=None) -> tuple[dict, Segment]:
    loc = encode_outputs(outputs, requested, None, a)
    seg = Segment(a.segments[loc["segment"]])
    return decode_call(seg, loc["offset"], loc["length"]), seg


@pytest.mark.parametrize("dt", NUMERIC)
def test_numeric_roundtrip_is_a_view_of_the_segment(out_arena, dt):
    x = (np.arange(12) % 2 == 0) if dt == "BOOL" else np.arange(12).astype(NUMPY_DTYPES[dt])
    x = x.reshape(3, 4)
    got, seg = roundtrip(out_arena, {"x": x})
    y = got["x"]
    assert y.dtype == NUMPY_DTYPES[dt] and y.shape == (3, 4)
    np.testing.assert_array_equal(y, x)
    assert np.shares_memory(y, np.frombuffer(seg.mmap, dtype=np.uint8))
    assert not y.flags.writeable


def test_bytes_scalars_and_empty(out_arena):
    s = np.array([b"a", b"", "\u00e9".encode()], dtype=object)
    got, _ = roundtrip(out_arena, {"s": s, "k": np.float32(3.5), "e": np.zeros((0, 3), np.int32)})
    assert got["s"].tolist() == [b"a", b"", "\u00e9".encode()]
    assert got["k"].shape == () and got["k"] == 3.5
    assert got["e"].shape == (0, 3) and got["e"].dtype == np.int32


def test_requested_outputs_only(out_arena):
    got, _ = roundtrip(out_arena, {"a": np.ones(2), "b": np.zeros(2)}, ["b"])
    assert list(got) == ["b"]
    with pytest.raises(KeyError):
        roundtrip(out_arena, {"a": np.ones(2)}, ["c"])


def test_slots_are_freed_and_reused(out_arena):
    loc1 = encode_outputs({"a": np.ones(10)}, None, None, out_arena)
    loc2 = encode_outputs({"a": np.ones(10)}, None, None, out_arena)
    assert loc1["offset"] != loc2["offset"]
    out_arena.free(loc1["segment"], loc1["offset"])
    loc3 = encode_outputs({"a": np.ones(10)}, None, None, out_arena)
    assert loc3["offset"] == loc1["offset"]


def test_segments_grow_and_unlink(out_arena):
    loc = encode_outputs({"a": np.zeros(arena.MIN_SEGMENT, np.uint8)}, None, None, out_arena)
    assert len(out_arena.segments) == 1 and loc["length"] > arena.MIN_SEGMENT
    names = [str(s["name"]) for s in out_arena.announce]
    assert all(os.path.exists("/dev/shm" + n) for n in names)
    out_arena.close()
    assert not any(os.path.exists("/dev/shm" + n) for n in names)


def test_bytes_codec():
    arr = np.array([b"x", b"yz"], dtype=object)
    assert decode_bytes(encode_bytes(arr), 2).tolist() == [b"x", b"yz"]
    with pytest.raises(ValueError):
        decode_bytes(encode_bytes(arr) + b"!", 2)
