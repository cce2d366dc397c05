"""Errors as tritonclient.http surfaces them: InferenceServerException with status and message."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def int32_input(name, shape, binary=True):
    inp = httpclient.InferInput(name, shape, "INT32")
    inp.set_data_from_numpy(np.zeros(shape, dtype=np.int32), binary_data=binary)
    return inp


def infer_error(client, model, inputs, **kw) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as e:
        client.infer(model, inputs, **kw)
    return e.value


def test_unknown_model_is_404_with_triton_wording(client):
    err = infer_error(client, "no_such_model", [int32_input("INPUT0", [1, 16])])
    assert err.status() == "404"
    assert "unknown model" in err.message()
    assert "no_such_model" in err.message()


def test_unknown_model_version_is_404(client):
    err = infer_error(client, "simple", [int32_input("INPUT0", [1, 16]), int32_input("INPUT1", [1, 16])], model_version="7")
    assert err.status() == "404"


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_wrong_datatype_is_400(client, binary):
    a = httpclient.InferInput("INPUT0", [1, 16], "FP32")
    a.set_data_from_numpy(np.zeros((1, 16), dtype=np.float32), binary_data=binary)
    err = infer_error(client, "simple", [a, int32_input("INPUT1", [1, 16], binary)])
    assert err.status() == "400"
    assert "INPUT0" in err.message()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_wrong_shape_is_400(client, binary):
    err = infer_error(client, "simple", [int32_input("INPUT0", [1, 8], binary), int32_input("INPUT1", [1, 8], binary)])
    assert err.status() == "400"
    assert "INPUT0" in err.message()


def test_batch_above_max_batch_size_is_400(client):
    err = infer_error(client, "simple", [int32_input("INPUT0", [9, 16]), int32_input("INPUT1", [9, 16])])
    assert err.status() == "400"


def test_missing_input_is_400(client):
    err = infer_error(client, "simple", [int32_input("INPUT0", [1, 16])])
    assert err.status() == "400"
    assert "INPUT1" in err.message()


def test_unexpected_input_is_400(client):
    err = infer_error(
        client,
        "simple",
        [int32_input("INPUT0", [1, 16]), int32_input("INPUT1", [1, 16]), int32_input("INPUT9", [1, 16])],
    )
    assert err.status() == "400"
    assert "INPUT9" in err.message()


def test_unknown_requested_output_is_400(client):
    outputs = [httpclient.InferRequestedOutput("NOPE")]
    err = infer_error(client, "simple", [int32_input("INPUT0", [1, 16]), int32_input("INPUT1", [1, 16])], outputs=outputs)
    assert err.status() == "400"
    assert "NOPE" in err.message()


def test_binary_size_mismatch_is_400(client):
    inp = httpclient.InferInput("INPUT0", [1, 4], "FP32")
    inp.set_data_from_numpy(np.zeros((1, 4), dtype=np.float32))
    inp._raw_data = inp._raw_data[:-4]  # 12 bytes announced as binary_data_size 16 ...
    inp._parameters["binary_data_size"] = 12  # ... consistently, but the shape needs 16
    err = infer_error(client, "identity_fp32", [inp])
    assert err.status() == "400"


def test_json_element_count_mismatch_is_400(client):
    inp = httpclient.InferInput("INPUT0", [1, 4], "FP32")
    inp.set_data_from_numpy(np.zeros((1, 4), dtype=np.float32), binary_data=False)
    inp._data = [1.0, 2.0, 3.0]  # the client checks shapes; bypass it: shape says 4 elements
    err = infer_error(client, "identity_fp32", [inp])
    assert err.status() == "400"


def _raw(url, path, body: bytes | None, method="POST", headers=None):
    req = urllib.request.Request(f"http://{url}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_malformed_json_is_400_with_json_error_body(url):
    status, headers, body = _raw(url, "/v2/models/simple/infer", b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    assert isinstance(json.loads(body)["error"], str)


def test_unknown_route_is_404_json(url):
    status, headers, body = _raw(url, "/v2/nothing/here", None, method="GET")
    assert status == 404
    assert "error" in json.loads(body)


def test_wrong_method_is_405(url):
    status, _, body = _raw(url, "/v2/models/simple/infer", None, method="GET")
    assert status == 405
    assert "error" in json.loads(body)
