"""NVIDIA's clients drive a Python model: examples/python-numpy (served by worker processes
through shared memory), checked against calling the same function directly."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

MODEL = "linear_softmax"
EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "examples/python-numpy/model.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("python_numpy_example", EXAMPLE_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLE = _load_example()


def batch(rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, 4)).astype(np.float32)


def expected(x: np.ndarray) -> dict[str, np.ndarray]:
    # The example's function is @tensorbind.batch-decorated (it takes a list of requests);
    # functools.wraps keeps the plain array function underneath.
    return EXAMPLE.infer.__wrapped__(x=x)


@pytest.fixture(scope="module")
def gclient(server):
    if server.grpc_url is None:
        pytest.skip("the server under test has no gRPC endpoint (TENSORBIND_URL set)")
    c = grpcclient.InferenceServerClient(url=server.grpc_url)
    yield c
    c.close()


def test_metadata_and_config_come_from_the_decorator(client):
    meta = client.get_model_metadata(MODEL)
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert {o["name"]: (o["datatype"], o["shape"]) for o in meta["outputs"]} == {
        "probs": ("FP32", [-1, 3]),
        "label": ("INT64", [-1, 1]),
    }
    assert client.get_model_config(MODEL)["max_batch_size"] == 64
    assert client.is_model_ready(MODEL)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_http_infer_matches_a_direct_call(client, binary):
    x = batch(5)
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("probs", "label")]
    result = client.infer(MODEL, [inp], outputs=outputs)
    want = expected(x)
    np.testing.assert_allclose(result.as_numpy("probs"), want["probs"], rtol=1e-6)
    np.testing.assert_array_equal(result.as_numpy("label"), want["label"])


def test_grpc_infer_matches_a_direct_call(gclient):
    x = batch(7, seed=1)
    inp = grpcclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = gclient.infer(MODEL, [inp])
    want = expected(x)
    np.testing.assert_allclose(result.as_numpy("probs"), want["probs"], rtol=1e-6)
    np.testing.assert_array_equal(result.as_numpy("label"), want["label"])


def test_grpc_requested_output_only(gclient):
    x = batch(3, seed=2)
    inp = grpcclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = gclient.infer(MODEL, [inp], outputs=[grpcclient.InferRequestedOutput("label")])
    np.testing.assert_array_equal(result.as_numpy("label"), expected(x)["label"])
    assert result.as_numpy("probs") is None


def test_concurrent_requests_each_get_their_own_answer(url):
    # Concurrent single-row requests may be batched together; each must get back its own row.
    def one(i: int) -> bool:
        c = httpclient.InferenceServerClient(url=url)
        try:
            x = batch(1, seed=100 + i)
            inp = httpclient.InferInput("x", [1, 4], "FP32")
            inp.set_data_from_numpy(x)
            got = c.infer(MODEL, [inp]).as_numpy("probs")
            return bool(np.allclose(got, expected(x)["probs"], rtol=1e-6))
        finally:
            c.close()

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(one, range(32)))


def test_wrong_shape_is_a_client_error(client):
    inp = httpclient.InferInput("x", [2, 5], "FP32")
    inp.set_data_from_numpy(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(InferenceServerException) as e:
        client.infer(MODEL, [inp])
    assert e.value.status() == "400"
