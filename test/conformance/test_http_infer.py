"""Inference on `simple` and `simple_string` through tritonclient.http (Triton's own examples)."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as httpclient


def simple_inputs(binary: bool, batch: int = 1):
    a = np.arange(16 * batch, dtype=np.int32).reshape(batch, 16)
    b = np.full((batch, 16), 3, dtype=np.int32) - np.arange(16 * batch, dtype=np.int32).reshape(batch, 16) % 7
    inputs = [
        httpclient.InferInput("INPUT0", [batch, 16], "INT32"),
        httpclient.InferInput("INPUT1", [batch, 16], "INT32"),
    ]
    inputs[0].set_data_from_numpy(a, binary_data=binary)
    inputs[1].set_data_from_numpy(b, binary_data=binary)
    return a, b, inputs


def simple_outputs(binary: bool, names=("OUTPUT0", "OUTPUT1")):
    return [httpclient.InferRequestedOutput(n, binary_data=binary) for n in names]


def test_infer_simple_binary(client):
    a, b, inputs = simple_inputs(binary=True)
    result = client.infer("simple", inputs, outputs=simple_outputs(binary=True))
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)
    assert result.as_numpy("OUTPUT0").dtype == np.int32


def test_infer_simple_json(client):
    a, b, inputs = simple_inputs(binary=False)
    result = client.infer("simple", inputs, outputs=simple_outputs(binary=False))
    response = result.get_response()
    for out in response["outputs"]:
        assert "data" in out, out
        # perf_analyzer's C++ client rejects a JSON output with parameters but no binary_data_size
        assert "binary_data_size" not in out.get("parameters", {}), out
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)


def test_infer_simple_json_inputs_binary_outputs(client):
    a, b, inputs = simple_inputs(binary=False)
    result = client.infer("simple", inputs, outputs=simple_outputs(binary=True))
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)


def test_infer_simple_binary_inputs_json_outputs(client):
    a, b, inputs = simple_inputs(binary=True)
    result = client.infer("simple", inputs, outputs=simple_outputs(binary=False))
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)


def test_infer_simple_without_requested_outputs_returns_all(client):
    a, b, inputs = simple_inputs(binary=True)
    result = client.infer("simple", inputs)
    names = {o["name"] for o in result.get_response()["outputs"]}
    assert names == {"OUTPUT0", "OUTPUT1"}
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)


def test_infer_simple_batch_of_eight(client):
    a, b, inputs = simple_inputs(binary=True, batch=8)
    result = client.infer("simple", inputs, outputs=simple_outputs(binary=True))
    assert result.as_numpy("OUTPUT0").shape == (8, 16)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_requested_output_subset_returns_only_that_output(client, binary):
    a, b, inputs = simple_inputs(binary=binary)
    result = client.infer("simple", inputs, outputs=simple_outputs(binary, names=("OUTPUT1",)))
    names = [o["name"] for o in result.get_response()["outputs"]]
    assert names == ["OUTPUT1"]
    assert result.as_numpy("OUTPUT0") is None
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)


def test_request_id_is_echoed(client):
    _, _, inputs = simple_inputs(binary=True)
    result = client.infer("simple", inputs, request_id="req-42 ünïcode")
    response = result.get_response()
    assert response["id"] == "req-42 ünïcode"


def test_response_names_model_and_version(client):
    _, _, inputs = simple_inputs(binary=True)
    response = client.infer("simple", inputs).get_response()
    assert response["model_name"] == "simple"
    assert response["model_version"] == "1"


def test_infer_with_explicit_model_version(client):
    a, b, inputs = simple_inputs(binary=True)
    result = client.infer("simple", inputs, model_version="1")
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)


def test_infer_with_request_parameters(client):
    a, b, inputs = simple_inputs(binary=True)
    result = client.infer("simple", inputs, parameters={"my_param": "v", "n": 3, "flag": True})
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)


def test_infer_with_custom_headers_is_accepted(client):
    a, b, inputs = simple_inputs(binary=True)
    result = client.infer("simple", inputs, headers={"X-Custom": "1", "triton-test": "y"})
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_infer_with_compressed_request_body(client, algorithm):
    a, b, inputs = simple_inputs(binary=True)
    result = client.infer("simple", inputs, request_compression_algorithm=algorithm)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_infer_with_compressed_response_accepted(client, algorithm):
    a, b, inputs = simple_inputs(binary=True)
    result = client.infer("simple", inputs, response_compression_algorithm=algorithm)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_infer_simple_string(client, binary):
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    b = np.full((1, 16), -5, dtype=np.int32)
    in0 = np.array([str(x).encode() for x in a.flatten()], dtype=np.object_).reshape(1, 16)
    in1 = np.array([str(x).encode() for x in b.flatten()], dtype=np.object_).reshape(1, 16)
    inputs = [
        httpclient.InferInput("INPUT0", [1, 16], "BYTES"),
        httpclient.InferInput("INPUT1", [1, 16], "BYTES"),
    ]
    inputs[0].set_data_from_numpy(in0, binary_data=binary)
    inputs[1].set_data_from_numpy(in1, binary_data=binary)
    result = client.infer("simple_string", inputs, outputs=simple_outputs(binary))
    out0 = result.as_numpy("OUTPUT0")
    out1 = result.as_numpy("OUTPUT1")
    assert out0.shape == (1, 16)
    # binary BYTES come back as bytes, JSON BYTES as str (tritonclient's behaviour)
    to_int = np.vectorize(lambda s: int(s.decode() if isinstance(s, bytes) else s))
    np.testing.assert_array_equal(to_int(out0), a + b)
    np.testing.assert_array_equal(to_int(out1), a - b)
