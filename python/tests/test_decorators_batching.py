"""The batch-aware decorators behave like PyTriton's (pytriton.decorators), on plain request lists."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import tensorbind
from tensorbind._proxy import context
from tensorbind.batching import make_requests, takes_requests

CONFIG = context.ModelConfig(
    name="m",
    max_batch_size=8,
    preferred_batch_sizes=(4,),
    inputs={"x": ("FP32", (2,)), "t": ("FP32", (1,)), "opt": ("INT32", (2,))},
    outputs={"y": ("FP32", (2,)), "n": ("INT64", (1,))},
)


@pytest.fixture(autouse=True)
def model_config():
    with context.use(CONFIG) as c:
        yield c


def batch_of(*rows: int) -> list[tensorbind.Request]:
    """Requests of the given row counts, as the worker makes them: views of one merged array."""
    x = np.arange(sum(rows) * 2, dtype=np.float32).reshape(-1, 2)
    return make_requests({"x": x}, list(rows))


def test_batch_merges_requests_and_splits_outputs_back():
    seen = {}

    @tensorbind.batch
    def infer(x):
        seen["shape"] = x.shape
        return {"y": x * 2, "n": np.full((x.shape[0], 1), x.shape[0])}

    requests = batch_of(1, 2, 3)
    out = infer(requests)
    assert seen["shape"] == (6, 2)
    assert [o["y"].shape for o in out] == [(1, 2), (2, 2), (3, 2)]
    for r, o in zip(requests, out):
        np.testing.assert_array_equal(o["y"], r["x"] * 2)
    assert takes_requests(infer)


def test_batch_passes_the_batch_array_itself_when_requests_are_untouched():
    requests = batch_of(2, 2)
    base = requests[0]._origin.arrays["x"]

    @tensorbind.batch
    def infer(x):
        assert x is base  # no concatenation copy
        return {"y": x}

    infer(requests)

    @tensorbind.batch
    def part(x):
        assert np.shares_memory(x, base) and x.shape == (2, 2)
        return {"y": x}

    part(requests[1:])  # a contiguous run of the batch is a view too


def test_batch_concatenates_requests_from_elsewhere():
    r1 = tensorbind.Request({"x": np.ones((1, 2), np.float32)})
    r2 = tensorbind.Request({"x": np.zeros((2, 2), np.float32)})
    out = tensorbind.batch(lambda x: {"y": x + 1})([r1, r2])
    np.testing.assert_array_equal(out[1]["y"], np.ones((2, 2)))


def test_batch_refuses_different_keys_and_wrong_output_rows():
    r1 = tensorbind.Request({"x": np.ones((1, 2), np.float32)})
    r2 = tensorbind.Request({"x": np.ones((1, 2), np.float32), "opt": np.ones((1, 2), np.int32)})
    with pytest.raises(ValueError, match="different set of inputs keys"):
        tensorbind.batch(lambda **kw: kw)([r1, r2])
    with pytest.raises(ValueError, match="Expected batch size: 3"):
        tensorbind.batch(lambda x: {"y": x[:1]})(batch_of(1, 2))


def test_batch_maps_a_tuple_of_outputs_onto_the_model_outputs():
    out = tensorbind.batch(lambda x: (x, np.zeros((x.shape[0], 1), np.int64)))(batch_of(1))
    assert set(out[0]) == {"y", "n"}


def test_batch_supports_async_functions():
    @tensorbind.batch
    async def infer(x):
        await asyncio.sleep(0)
        return {"y": x + 1}

    out = asyncio.run(infer(batch_of(1, 1)))
    assert len(out) == 2 and out[1]["y"][0, 0] == 3


def test_sample_calls_the_function_per_request():
    calls = []

    @tensorbind.sample
    def infer(x):
        calls.append(x.shape)
        return {"y": x}

    out = infer(batch_of(1, 2))
    assert calls == [(1, 2), (2, 2)] and len(out) == 2


def test_group_by_keys_groups_requests_with_the_same_inputs_and_keeps_order():
    groups = []

    @tensorbind.group_by_keys
    @tensorbind.batch
    def infer(**inputs):
        groups.append(sorted(inputs))
        return {"y": inputs["x"]}

    a = tensorbind.Request({"x": np.full((1, 2), 1, np.float32)})
    b = tensorbind.Request({"x": np.full((1, 2), 2, np.float32), "opt": np.ones((1, 2), np.int32)})
    c = tensorbind.Request({"x": np.full((1, 2), 3, np.float32)})
    out = infer([a, b, c])
    assert sorted(groups) == [["opt", "x"], ["x"]]
    assert [o["y"][0, 0] for o in out] == [1, 2, 3]


def test_group_by_values_splits_rows_by_value_and_merges_in_order():
    calls = []

    @tensorbind.batch
    @tensorbind.group_by_values("t")
    def infer(x, t):
        calls.append(float(t[0, 0]))
        assert (t == t[0]).all()
        return {"y": x * t}

    x = np.ones((4, 2), np.float32)
    t = np.array([[1], [2], [1], [2]], np.float32)
    out = infer(make_requests({"x": x, "t": t}, [4]))
    assert sorted(calls) == [1.0, 2.0]
    np.testing.assert_array_equal(out[0]["y"][:, 0], [1, 2, 1, 2])


def test_group_by_values_pads_outputs_of_different_shapes():
    @tensorbind.group_by_values("t", pad_fn=tensorbind.ConstantPadder(-1))
    def infer(x, t):
        width = int(t[0, 0])
        return {"y": np.ones((x.shape[0], width), np.float32)}

    out = infer(x=np.ones((3, 2), np.float32), t=np.array([[1], [3], [1]], np.float32))
    assert out["y"].shape == (3, 3)
    np.testing.assert_array_equal(out["y"][0], [1, -1, -1])
    np.testing.assert_array_equal(out["y"][1], [1, 1, 1])


def test_pad_batch_pads_to_the_next_preferred_size_and_trims_the_outputs():
    seen = []

    @tensorbind.batch
    @tensorbind.pad_batch
    def infer(x):
        seen.append(x.copy())
        return {"y": x}

    out = infer(batch_of(1, 2))
    assert seen[0].shape == (4, 2)
    np.testing.assert_array_equal(seen[0][3], seen[0][2])  # the last row repeated
    assert [o["y"].shape[0] for o in out] == [1, 2]
    infer(batch_of(3, 2))  # 5 rows: padded to max_batch_size 8
    assert seen[1].shape == (8, 2)


def test_first_value_replaces_inputs_by_their_first_row():
    @tensorbind.batch
    @tensorbind.first_value("t")
    def infer(x, t):
        assert isinstance(t, np.floating) and t == 0.5
        return {"y": x * t}

    t = np.full((3, 1), 0.5, np.float32)
    infer(make_requests({"x": np.ones((3, 2), np.float32), "t": t}, [1, 2]))

    t[2] = 0.7
    with pytest.raises(ValueError, match="The values on the 't' input are not equal"):
        infer(make_requests({"x": np.ones((3, 2), np.float32), "t": t}, [3]))


def test_first_value_on_a_function_of_requests():
    @tensorbind.first_value("t", squeeze_single_values=False)
    @tensorbind.batch_aware
    def infer(requests):
        return [{"y": np.full((1, 1), r["t"][0])} for r in requests]

    assert takes_requests(infer)
    out = infer(make_requests({"t": np.array([[2.0], [3.0]], np.float32)}, [1, 1]))
    assert [o["y"][0, 0] for o in out] == [2.0, 3.0]


def test_first_value_needs_a_batching_model():
    with context.use(context.ModelConfig(max_batch_size=0)):
        f = tensorbind.first_value("t")(lambda **kw: kw)
        with pytest.raises(RuntimeError, match="support batching"):
            f(t=np.ones(1))


def test_fill_optionals_fills_missing_inputs_per_row():
    @tensorbind.fill_optionals(opt=np.array([7, 8], np.int32))
    @tensorbind.batch
    def infer(x, opt):
        return {"y": x, "n": opt[:, :1].astype(np.int64)}

    r1 = tensorbind.Request({"x": np.ones((2, 2), np.float32)})
    r2 = tensorbind.Request({"x": np.ones((1, 2), np.float32), "opt": np.array([[1, 2]], np.int32)})
    out = infer([r1, r2])
    assert [o["n"][:, 0].tolist() for o in out] == [[7, 7], [1]]


@pytest.mark.parametrize(
    "defaults, message",
    [
        ({"nope": np.zeros(2, np.int32)}, "Could not find nope"),
        ({"opt": [1, 2]}, "not NumPy arrays"),
        ({"opt": np.zeros(2, np.float32)}, "dtype"),
        ({"opt": np.zeros(3, np.int32)}, "shape"),
    ],
)
def test_fill_optionals_checks_defaults_against_the_model(defaults, message):
    f = tensorbind.fill_optionals(**defaults)(tensorbind.batch(lambda **kw: kw))
    with pytest.raises(ValueError, match=message):
        f(batch_of(1))


def test_model_declares_a_dynamic_batcher_with_pytriton_field_names():
    @tensorbind.model(
        inputs={"x": ("FP32", [2])},
        outputs={"y": ("FP32", [2])},
        max_batch_size=16,
        batcher=tensorbind.DynamicBatcher(
            max_queue_delay_microseconds=500,
            preferred_batch_size=[4, 8],
            priority_levels=2,
            default_queue_policy=tensorbind.QueuePolicy(max_queue_size=10, default_timeout_microseconds=100),
            priority_queue_policy={1: tensorbind.QueuePolicy(timeout_action=tensorbind.TimeoutAction.DELAY)},
        ),
    )
    @tensorbind.batch
    def infer(x):
        return {"y": x}

    decl = tensorbind.decorators.model_info(infer).to_json()
    assert decl["batching"] == {
        "maxQueueDelayUs": 500,
        "preserveOrdering": False,
        "preferredBatchSizes": [4, 8],
    }
    assert decl["queue"]["maxSize"] == 10 and decl["queue"]["timeoutUs"] == 100
    assert decl["queue"]["priorityLevels"] == 2
    assert decl["queue"]["priorities"]["1"]["timeoutAction"] == "delay"
    assert takes_requests(infer)


def test_a_plain_function_does_not_take_requests():
    def infer(x):
        return {"y": x}

    assert not takes_requests(infer)
    assert not takes_requests(tensorbind.pad_batch(infer))
