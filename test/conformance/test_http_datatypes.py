"""Round trips through identity_<datatype> for every KServe v2 datatype, binary and JSON."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

rng = np.random.default_rng(1234)


def _ints(dtype, extremes):
    info = np.iinfo(dtype)
    body = rng.integers(info.min, info.max, size=10, dtype=dtype, endpoint=True)
    return np.concatenate([np.array(extremes, dtype=dtype), body]).reshape(2, -1)


def _floats(dtype):
    x = rng.standard_normal(12).astype(dtype)
    return np.concatenate([x, np.array([0.0, -0.0, 1.5, -1e-3], dtype=dtype)]).reshape(2, 8)


# name -> (datatype, sample array of shape [B, N])
SAMPLES = {
    "bool": ("BOOL", np.array([[True, False, True], [False, False, True]], dtype=np.bool_)),
    "uint8": ("UINT8", _ints(np.uint8, [0, 255])),
    "uint16": ("UINT16", _ints(np.uint16, [0, 65535])),
    "uint32": ("UINT32", _ints(np.uint32, [0, 2**32 - 1])),
    "uint64": ("UINT64", _ints(np.uint64, [0, 2**64 - 1, 2**53 + 1, 2**63])),
    "int8": ("INT8", _ints(np.int8, [-128, 127])),
    "int16": ("INT16", _ints(np.int16, [-32768, 32767])),
    "int32": ("INT32", _ints(np.int32, [-(2**31), 2**31 - 1])),
    "int64": ("INT64", _ints(np.int64, [-(2**63), 2**63 - 1, 2**53 + 1, -(2**53) - 1])),
    "fp16": ("FP16", _floats(np.float16)),
    "fp32": ("FP32", _floats(np.float32)),
    "fp64": ("FP64", np.array([[np.pi, -0.0, 1e308, 5e-324], [1.0 / 3, 2**53 + 2, -1e-300, 0.1]], dtype=np.float64)),
    "bf16": ("BF16", _floats(np.float32).astype(ml_dtypes.bfloat16)),
    "bytes": (
        "BYTES",
        np.array(
            [["héllo wörld".encode(), "".encode(), "日本語テキスト".encode()], ["🚀 emoji".encode(), b"plain", b"a\x00b"]],
            dtype=np.object_,
        ),
    ),
}
JSON_FORBIDDEN = {"fp16", "bf16"}  # binary only over HTTP (Triton rejects them in JSON)


def roundtrip(client, name, datatype, data, binary_in, binary_out):
    inp = httpclient.InferInput("INPUT0", list(data.shape), datatype)
    inp.set_data_from_numpy(data, binary_data=binary_in)
    out = httpclient.InferRequestedOutput("OUTPUT0", binary_data=binary_out)
    result = client.infer(f"identity_{name}", [inp], outputs=[out])
    response = result.get_response()
    (o,) = response["outputs"]
    assert o["name"] == "OUTPUT0"
    assert o["datatype"] == datatype
    assert o["shape"] == list(data.shape)
    return result.as_numpy("OUTPUT0")


def assert_same(name, got, want, json_out):
    assert got.shape == want.shape
    if name == "bytes":
        # binary BYTES come back as bytes; JSON BYTES as str
        got_b = [x if isinstance(x, bytes) else x.encode() for x in got.flatten()]
        assert got_b == list(want.flatten())
        return
    if name in ("fp32", "fp64", "fp16", "bf16"):
        assert got.dtype == want.dtype
        if json_out:
            np.testing.assert_array_equal(got, want)  # value-exact (see the -0.0 test)
        else:
            assert got.tobytes() == want.tobytes(), (got, want)  # bit-exact, -0.0 included
        return
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_identity_roundtrip_binary(client, name):
    datatype, data = SAMPLES[name]
    got = roundtrip(client, name, datatype, data, binary_in=True, binary_out=True)
    assert_same(name, got, data, json_out=False)


@pytest.mark.parametrize("name", [n for n in SAMPLES if n not in JSON_FORBIDDEN and n != "bytes"])
def test_identity_roundtrip_json(client, name):
    datatype, data = SAMPLES[name]
    got = roundtrip(client, name, datatype, data, binary_in=False, binary_out=False)
    assert_same(name, got, data, json_out=True)


def test_identity_bytes_roundtrip_json_utf8_and_empty_strings(client):
    # JSON carries BYTES as UTF-8 strings; "a\x00b" is valid UTF-8 and must survive too
    _, data = SAMPLES["bytes"]
    got = roundtrip(client, "bytes", "BYTES", data, binary_in=False, binary_out=False)
    assert [x for x in got.flatten()] == [x.decode("utf-8") for x in data.flatten()]


def test_identity_bytes_non_utf8_roundtrip_binary(client):
    data = np.array([[b"\xff\xfe\x00", b"\x80", b""]], dtype=np.object_)
    got = roundtrip(client, "bytes", "BYTES", data, binary_in=True, binary_out=True)
    assert list(got.flatten()) == list(data.flatten())


@pytest.mark.parametrize("name", ["int64", "uint64"])
def test_identity_64bit_extremes_json_are_exact(client, name):
    # JSON numbers beyond 2**53 must not go through a float64
    datatype, data = SAMPLES[name]
    got = roundtrip(client, name, datatype, data[:1, :4], binary_in=False, binary_out=False)
    assert [int(x) for x in got.flatten()] == [int(x) for x in data[:1, :4].flatten()]


@pytest.mark.parametrize("name", ["int32", "fp32", "bool", "bytes"])
def test_identity_json_input_binary_output(client, name):
    datatype, data = SAMPLES[name]
    got = roundtrip(client, name, datatype, data, binary_in=False, binary_out=True)
    assert_same(name, got, data, json_out=False)


@pytest.mark.parametrize("name", ["int32", "fp64", "bool", "bytes"])
def test_identity_binary_input_json_output(client, name):
    datatype, data = SAMPLES[name]
    got = roundtrip(client, name, datatype, data, binary_in=True, binary_out=False)
    assert_same(name, got, data, json_out=True)


@pytest.mark.parametrize("binary_in", [True, False], ids=["binary_in", "json_in"])
def test_identity_fp32_negative_zero_keeps_sign_in_json_output(client, binary_in):
    data = np.array([[-0.0, 0.0]], dtype=np.float32)
    got = roundtrip(client, "fp32", "FP32", data, binary_in=binary_in, binary_out=False)
    assert np.signbit(got).tolist() == [[True, False]]


def test_identity_fp16_json_input_is_rejected(client):
    _, data = SAMPLES["fp16"]
    inp = httpclient.InferInput("INPUT0", list(data.shape), "FP16")
    inp.set_data_from_numpy(data, binary_data=False)  # tritonclient allows it; the server must not
    with pytest.raises(InferenceServerException) as e:
        client.infer("identity_fp16", [inp])
    assert e.value.status() == "400"


def test_identity_fp32_zero_elements(client):
    data = np.zeros((1, 0), dtype=np.float32)
    got = roundtrip(client, "fp32", "FP32", data, binary_in=True, binary_out=True)
    assert got.shape == (1, 0)


def test_identity_fp32_large_tensor_binary(client):
    data = rng.standard_normal((2, 1 << 20)).astype(np.float32)  # 8 MiB
    got = roundtrip(client, "fp32", "FP32", data, binary_in=True, binary_out=True)
    assert got.tobytes() == data.tobytes()


def test_identity_fp32_nested_json_via_raw_request(url):
    # tritonclient always sends flat data; the spec also allows nested row-major arrays
    import json
    import urllib.request

    body = {
        "inputs": [{"name": "INPUT0", "shape": [2, 2], "datatype": "FP32", "data": [[1.0, 2.0], [3.0, 4.0]]}],
    }
    req = urllib.request.Request(
        f"http://{url}/v2/models/identity_fp32/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        resp = json.loads(r.read())
    assert resp["outputs"][0]["data"] == [1.0, 2.0, 3.0, 4.0]
    assert resp["outputs"][0]["shape"] == [2, 2]
