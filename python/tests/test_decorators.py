import pytest

import tensorbind
from tensorbind.decorators import model_info


def test_model_records_specs():
    @tensorbind.model(
        inputs={"x": tensorbind.tensor("FP32", [-1])}, outputs={"y": ("INT64", [2])}, max_batch_size=4
    )
    def infer(x):
        return {"y": x}

    info = model_info(infer)
    assert info is not None
    assert info.to_json() == {
        "inputs": {"x": {"datatype": "FP32", "shape": [-1], "optional": False}},
        "outputs": {"y": {"datatype": "INT64", "shape": [2], "optional": False}},
        "maxBatchSize": 4,
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"inputs": {"x": ("FLOAT", [1])}},
        {"inputs": {"x": ("FP32", [-2])}},
        {"inputs": {}},
        {"max_batch_size": -1},
        {"outputs": {"y": "FP32"}},
    ],
)
def test_bad_specs_raise(kwargs):
    with pytest.raises(ValueError):
        tensorbind.model(**kwargs)


def test_numpy_dtypes_are_accepted_in_specs_as_pytriton_takes_them():
    import numpy as np

    @tensorbind.model(
        inputs={
            "a": tensorbind.tensor(np.float32, [-1]),
            "b": (np.int64, [2]),
            "c": (np.dtype("uint8"), [-1]),
            "d": (np.bool_, [1]),
            "e": (bytes, [1]),
            "f": (np.object_, [1]),
            "g": ("float16", [1]),
        },
        outputs={"y": ("FP32", [-1])},
    )
    def infer(**kw):
        return {}

    declared = model_info(infer).to_json()["inputs"]
    assert {k: v["datatype"] for k, v in declared.items()} == {
        "a": "FP32", "b": "INT64", "c": "UINT8", "d": "BOOL", "e": "BYTES", "f": "BYTES", "g": "FP16",
    }  # fmt: skip


def test_an_unknown_datatype_still_names_the_choices():
    with pytest.raises(ValueError, match="unknown datatype 'FLOAT32'"):
        tensorbind.tensor("FLOAT32", [1])


def test_gpus_ask_for_workers_on_each_listed_gpu():
    @tensorbind.model(inputs={"x": ("INT32", [1])}, outputs={"y": ("INT32", [1])}, instances=2, gpus=[0, 1])
    def infer(x):
        return {"y": x}

    info = model_info(infer)
    assert info is not None
    assert info.serving() == {"instances": 2, "framework": None, "device": None, "gpus": [0, 1]}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gpus": []},
        {"gpus": [-1]},
        {"gpus": [0, 0]},
        {"gpus": "0"},
        {"gpus": [0], "framework": "torch", "device": "cuda:1"},
    ],
)
def test_bad_gpus_raise(kwargs):
    with pytest.raises(ValueError, match="gpus"):
        tensorbind.model(**kwargs)
