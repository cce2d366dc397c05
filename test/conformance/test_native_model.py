"""NVIDIA's clients drive native (C++) models: examples/native-cpu (vector_add, select_above)
and the test fixtures (C++ exceptions, a slow call, BYTES, batching), over HTTP and gRPC,
checked against NumPy. Needs `npm run build:native-models`."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from conftest import REPO, Server, _start_server, _stop_server
from tritonclient.utils import InferenceServerException

MODELS = ("examples/native-cpu/models.ts", "test/fixtures/native-models.ts")
ADDONS = ("examples/native-cpu/build/Release/vector_ops.node", "test/fixtures/native/build/Release/fixtures.node")


@pytest.fixture(scope="module")
def native_server(tmp_path_factory) -> Server:
    missing = [a for a in ADDONS if not (REPO / a).exists()]
    if missing:
        pytest.fail(f"{missing} not built: run `npm run build:native-models`")
    proc, srv = _start_server(tmp_path_factory.mktemp("tensorbind-native"), MODELS)
    try:
        yield srv
    finally:
        _stop_server(proc, srv)


@pytest.fixture(scope="module")
def http(native_server: Server):
    c = httpclient.InferenceServerClient(url=native_server.http_hostport, concurrency=4)
    yield c
    c.close()


@pytest.fixture(scope="module")
def grpc(native_server: Server):
    c = grpcclient.InferenceServerClient(url=native_server.grpc_url)
    yield c
    c.close()


def _inputs(mod, **arrays: np.ndarray) -> list:
    dtypes = {np.float32: "FP32", np.float64: "FP64", np.int32: "INT32", np.object_: "BYTES"}
    out = []
    for name, a in arrays.items():
        i = mod.InferInput(name, list(a.shape), dtypes[a.dtype.type])
        i.set_data_from_numpy(a)
        out.append(i)
    return out


@pytest.mark.parametrize("proto", ["http", "grpc"])
def test_vector_add_matches_numpy(proto, http, grpc):
    client, mod = (http, httpclient) if proto == "http" else (grpc, grpcclient)
    rng = np.random.default_rng(5)
    a = rng.standard_normal(1000).astype(np.float32)
    b = rng.standard_normal(1000).astype(np.float32)
    result = client.infer("vector_add", _inputs(mod, A=a, B=b))
    np.testing.assert_array_equal(result.as_numpy("SUM"), a + b)


@pytest.mark.parametrize("proto", ["http", "grpc"])
def test_select_above_sizes_its_outputs_from_the_data(proto, http, grpc):
    client, mod = (http, httpclient) if proto == "http" else (grpc, grpcclient)
    x = np.random.default_rng(6).standard_normal(5000).astype(np.float32)
    t = np.array([1.5], np.float32)
    result = client.infer("select_above", _inputs(mod, X=x, THRESHOLD=t))
    want = np.nonzero(x > t[0])[0]
    np.testing.assert_array_equal(result.as_numpy("INDICES"), want)
    np.testing.assert_array_equal(result.as_numpy("VALUES"), x[want])


def test_metadata_comes_from_the_addon(http, grpc):
    meta = http.get_model_metadata("select_above")
    assert meta["platform"] == "tensorbind_native"
    assert [(i["name"], i["datatype"], i["shape"]) for i in meta["inputs"]] == [
        ("X", "FP32", [-1]),
        ("THRESHOLD", "FP32", [1]),
    ]
    config = grpc.get_model_config("native_row_sum", as_json=True)["config"]
    assert config["max_batch_size"] == 8


@pytest.mark.parametrize("proto", ["http", "grpc"])
def test_cpp_exception_is_internal_with_its_message(proto, http, grpc):
    client, mod = (http, httpclient) if proto == "http" else (grpc, grpcclient)
    with pytest.raises(InferenceServerException) as e:
        client.infer("native_fail", _inputs(mod, X=np.ones(3, np.float32)))
    assert "std::runtime_error: boom after 3 elements" in e.value.message()
    assert e.value.status() == ("500" if proto == "http" else "StatusCode.INTERNAL")


@pytest.mark.parametrize("proto", ["http", "grpc"])
def test_invalid_argument_from_cpp_is_a_client_error(proto, http, grpc):
    client, mod = (http, httpclient) if proto == "http" else (grpc, grpcclient)
    with pytest.raises(InferenceServerException) as e:
        client.infer("vector_add", _inputs(mod, A=np.ones(3, np.float32), B=np.ones(2, np.float32)))
    assert "A has 3 elements but B has 2" in e.value.message()
    assert e.value.status() == ("400" if proto == "http" else "StatusCode.INVALID_ARGUMENT")


def test_bytes_and_batched_native_models(http, grpc):
    text = np.array([b"tensor", b"bind"], dtype=np.object_)
    assert list(http.infer("native_upper", _inputs(httpclient, TEXT=text)).as_numpy("UPPER")) == [b"TENSOR", b"BIND"]
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    got = grpc.infer("native_row_sum", _inputs(grpcclient, X=x)).as_numpy("SUM")
    np.testing.assert_array_equal(got, x.sum(axis=1, keepdims=True))


def test_slow_native_call_does_not_block_health_or_other_models(http, native_server):
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(
            lambda: httpclient.InferenceServerClient(native_server.http_hostport).infer(
                "native_slow", _inputs(httpclient, MS=np.array([3000], np.int32))
            )
        )
        time.sleep(0.1)
        t0 = time.monotonic()
        for _ in range(5):
            assert http.is_server_ready()
            r = http.infer("vector_add", _inputs(httpclient, A=np.ones(4, np.float32), B=np.ones(4, np.float32)))
            np.testing.assert_array_equal(r.as_numpy("SUM"), np.full(4, 2, np.float32))
        assert time.monotonic() - t0 < 2.5
        assert not slow.done()
        assert list(slow.result(timeout=10).as_numpy("DONE")) == [3000, 0]
