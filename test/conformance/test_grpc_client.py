"""NVIDIA's gRPC clients against tensorbind: tritonclient.grpc (sync, async, streaming, aio),
perf_analyzer -i grpc, and grpcio's standard health stub."""

from __future__ import annotations

import asyncio
import queue
import re
import subprocess
from functools import partial

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpcaio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tritonclient.utils import InferenceServerException


@pytest.fixture(scope="module")
def grpc_url(server) -> str:
    if server.grpc_url is None:
        pytest.skip("the server under test has no gRPC endpoint (TENSORBIND_URL set)")
    return server.grpc_url


@pytest.fixture(scope="module")
def gclient(grpc_url):
    c = grpcclient.InferenceServerClient(url=grpc_url)
    yield c
    c.close()


def simple_inputs(batch: int = 1):
    a = np.arange(16 * batch, dtype=np.int32).reshape(batch, 16)
    b = np.ones((batch, 16), dtype=np.int32)
    inputs = [grpcclient.InferInput("INPUT0", [batch, 16], "INT32"), grpcclient.InferInput("INPUT1", [batch, 16], "INT32")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    return inputs, a, b


# --- server and model RPCs ---------------------------------------------------------------


def test_liveness_readiness_and_metadata(gclient):
    assert gclient.is_server_live()
    assert gclient.is_server_ready()
    meta = gclient.get_server_metadata(as_json=True)
    assert meta["name"] == "tensorbind"
    assert "statistics" in meta["extensions"]


def test_model_ready_and_unknown_model(gclient):
    assert gclient.is_model_ready("simple")
    assert gclient.is_model_ready("simple", "1")
    assert not gclient.is_model_ready("no_such_model")
    with pytest.raises(InferenceServerException) as err:
        gclient.get_model_metadata("no_such_model")
    assert err.value.status() == "StatusCode.NOT_FOUND"
    assert "Request for unknown model: 'no_such_model' is not found" in err.value.message()


def test_model_metadata_and_config(gclient):
    meta = gclient.get_model_metadata("simple", as_json=True)
    assert meta["name"] == "simple"
    assert meta["inputs"][0] == {"name": "INPUT0", "datatype": "INT32", "shape": ["-1", "16"]}
    config = gclient.get_model_config("simple", as_json=True)["config"]
    assert config["max_batch_size"] == 8
    assert config["input"][0]["data_type"] == "TYPE_INT32"
    assert config["input"][0]["dims"] == ["16"]
    assert gclient.get_model_config("identity_bytes").config.input[0].data_type == grpcclient.model_config_pb2.TYPE_STRING


def test_statistics_grow_with_requests(gclient):
    before = gclient.get_inference_statistics("simple").model_stats[0].inference_stats.queue.count
    inputs, _, _ = simple_inputs()
    gclient.infer("simple", inputs)
    stats = gclient.get_inference_statistics("simple", as_json=True)["model_stats"][0]
    assert int(stats["inference_stats"]["queue"]["count"]) == before + 1
    assert stats["version"] == "1"
    assert len(gclient.get_inference_statistics().model_stats) >= 16


def test_repository_index(gclient):
    models = gclient.get_model_repository_index(as_json=True)["models"]
    assert {"name": "simple", "version": "1", "state": "READY"}.items() <= next(m for m in models if m["name"] == "simple").items()


def test_unimplemented_rpcs_answer_unimplemented(gclient):
    with pytest.raises(InferenceServerException) as err:
        gclient.get_trace_settings()
    assert err.value.status() == "StatusCode.UNIMPLEMENTED"


# --- inference ----------------------------------------------------------------------------


def test_sync_infer_with_id_parameters_priority_timeout_and_requested_output(gclient):
    inputs, a, b = simple_inputs(batch=2)
    outputs = [grpcclient.InferRequestedOutput("OUTPUT1")]
    result = gclient.infer(
        "simple",
        inputs,
        outputs=outputs,
        request_id="req-1",
        parameters={"custom": "x", "n": 3, "f": 0.5, "flag": True},
        priority=1,
        timeout=10_000_000,
        client_timeout=30,
    )
    assert result.get_response().id == "req-1"
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)
    assert result.as_numpy("OUTPUT0") is None


NUMPY = {
    "BOOL": np.array([[True, False, True]]),
    "UINT8": np.array([[0, 1, 255]], dtype=np.uint8),
    "UINT16": np.array([[0, 1, 65535]], dtype=np.uint16),
    "UINT32": np.array([[0, 1, 2**32 - 1]], dtype=np.uint32),
    "UINT64": np.array([[0, 1, 2**64 - 1]], dtype=np.uint64),
    "INT8": np.array([[-128, 0, 127]], dtype=np.int8),
    "INT16": np.array([[-32768, 0, 32767]], dtype=np.int16),
    "INT32": np.array([[-(2**31), 0, 2**31 - 1]], dtype=np.int32),
    "INT64": np.array([[-(2**63), 0, 2**63 - 1]], dtype=np.int64),
    "FP16": np.array([[1.5, -2.0, 0.25]], dtype=np.float16),
    "FP32": np.array([[1.5, -2.25, 3e38]], dtype=np.float32),
    "FP64": np.array([[1.5, -2.25, 1e300]], dtype=np.float64),
    "BYTES": np.array([[b"a", b"", "héllo".encode()]], dtype=np.object_),
}


@pytest.mark.parametrize("datatype", sorted(NUMPY))
def test_identity_round_trip_every_datatype(gclient, datatype):
    data = NUMPY[datatype]
    inp = grpcclient.InferInput("INPUT0", list(data.shape), datatype)
    inp.set_data_from_numpy(data)
    out = gclient.infer(f"identity_{datatype.lower()}", [inp]).as_numpy("OUTPUT0")
    np.testing.assert_array_equal(out, data)


def test_identity_round_trip_bf16(gclient):
    # Current tritonclient takes BF16 only as ml_dtypes.bfloat16 arrays.
    ml_dtypes = pytest.importorskip("ml_dtypes")
    data = np.array([[1.5, -2.0, 0.25]], dtype=ml_dtypes.bfloat16)
    inp = grpcclient.InferInput("INPUT0", [1, 3], "BF16")
    inp.set_data_from_numpy(data)
    out = gclient.infer("identity_bf16", [inp]).as_numpy("OUTPUT0")
    np.testing.assert_array_equal(np.asarray(out, dtype=np.float32), data.astype(np.float32))


def test_tensor_above_4_mib(gclient):
    data = np.arange(2_000_000, dtype=np.float32).reshape(1, -1)  # 8 MB each way
    inp = grpcclient.InferInput("INPUT0", list(data.shape), "FP32")
    inp.set_data_from_numpy(data)
    np.testing.assert_array_equal(gclient.infer("identity_fp32", [inp]).as_numpy("OUTPUT0"), data)


def test_gzip_compressed_request(gclient):
    inputs, a, b = simple_inputs()
    result = gclient.infer("simple", inputs, compression_algorithm="gzip")
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)


def test_invalid_request_is_invalid_argument(gclient):
    inp = grpcclient.InferInput("INPUT0", [1, 16], "FP32")
    inp.set_data_from_numpy(np.zeros((1, 16), dtype=np.float32))
    with pytest.raises(InferenceServerException) as err:
        gclient.infer("simple", [inp])
    assert err.value.status() == "StatusCode.INVALID_ARGUMENT"


def test_async_infer(gclient):
    inputs, a, b = simple_inputs()
    done: queue.Queue = queue.Queue()
    gclient.async_infer("simple", inputs, partial(lambda q, result, error: q.put((result, error)), done), request_id="async-1")
    result, error = done.get(timeout=30)
    assert error is None, error
    assert result.get_response().id == "async-1"
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)


def test_stream_answers_in_order_and_survives_an_error(grpc_url):
    c = grpcclient.InferenceServerClient(url=grpc_url)
    got: queue.Queue = queue.Queue()
    c.start_stream(callback=lambda result, error: got.put((result, error)))
    try:
        inputs, a, b = simple_inputs()
        c.async_stream_infer("simple", inputs, request_id="s1")
        c.async_stream_infer("no_such_model", inputs, request_id="s2")
        c.async_stream_infer("simple", inputs, request_id="s3")
        replies = [got.get(timeout=30) for _ in range(3)]
    finally:
        c.stop_stream()
        c.close()
    assert replies[0][1] is None and replies[0][0].get_response().id == "s1"
    assert replies[1][0] is None and "no_such_model" in str(replies[1][1])
    assert replies[2][1] is None and replies[2][0].get_response().id == "s3"
    np.testing.assert_array_equal(replies[2][0].as_numpy("OUTPUT1"), a - b)


def test_keepalive_options(grpc_url):
    keepalive = grpcclient.KeepAliveOptions(
        keepalive_time_ms=1000, keepalive_timeout_ms=2000, keepalive_permit_without_calls=True, http2_max_pings_without_data=0
    )
    c = grpcclient.InferenceServerClient(url=grpc_url, keepalive_options=keepalive)
    try:
        inputs, a, b = simple_inputs()
        for _ in range(3):
            np.testing.assert_array_equal(c.infer("simple", inputs).as_numpy("OUTPUT0"), a + b)
            c.is_server_live()
        # Idle across several keepalive pings: the connection must not be torn down.
        import time

        time.sleep(3.5)
        assert c.is_server_ready()
        np.testing.assert_array_equal(c.infer("simple", inputs).as_numpy("OUTPUT0"), a + b)
    finally:
        c.close()


def test_aio_client(grpc_url):
    async def main():
        async with grpcaio.InferenceServerClient(url=grpc_url) as c:
            assert await c.is_server_live()
            assert await c.is_model_ready("simple")
            inputs, a, b = simple_inputs()
            result = await c.infer("simple", inputs, request_id="aio")
            np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)

            async def requests():
                for i in range(3):
                    yield {"model_name": "simple", "inputs": inputs, "request_id": f"aio-{i}"}

            ids = []
            async for result, error in c.stream_infer(requests()):
                assert error is None, error
                ids.append(result.get_response().id)
            assert ids == ["aio-0", "aio-1", "aio-2"]

    asyncio.run(main())


# --- health and perf_analyzer -------------------------------------------------------------


def test_grpc_health_check(grpc_url):
    with grpc.insecure_channel(grpc_url) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "inference.GRPCInferenceService"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as err:
            stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


THROUGHPUT = re.compile(r"Throughput:\s*([0-9.]+)\s*infer/sec")


@pytest.mark.parametrize("streaming", [False, True], ids=["unary", "streaming"])
def test_perf_analyzer_grpc(perf_analyzer, grpc_url, streaming):
    cmd = [perf_analyzer, "-m", "simple", "-i", "grpc", "-u", grpc_url, "--request-count", "200", "--concurrency-range", "2:2"]
    if streaming:
        cmd.append("--streaming")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)}\nexit {proc.returncode}\n{output[-4000:]}"
    throughputs = [float(x) for x in THROUGHPUT.findall(output)]
    assert throughputs and all(t > 0 for t in throughputs), output[-4000:]
