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
