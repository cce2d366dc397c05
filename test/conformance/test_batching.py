"""Dynamic batching, instances and queue policies, driven by NVIDIA's clients and perf_analyzer.

This module starts its own server with test/conformance/models/batching.ts (a JS model with
`batch()`, a Python model with `@tensorbind.batch`, and a slow model with priority levels and a
bounded queue).
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from conftest import _start_server, _stop_server, run_pa
from tritonclient.utils import InferenceServerException

MODELS = ("test/conformance/models/batching.ts",)


@pytest.fixture(scope="module")
def bserver(tmp_path_factory):
    if os.environ.get("TENSORBIND_URL"):
        pytest.skip(
            "these tests start their own server (test/conformance/models/batching.ts)"
        )
    proc, srv = _start_server(tmp_path_factory.mktemp("batching"), MODELS)
    try:
        yield srv
    finally:
        _stop_server(proc, srv)


@pytest.fixture(scope="module")
def hclient(bserver):
    c = httpclient.InferenceServerClient(url=bserver.http_hostport, concurrency=16)
    yield c
    c.close()


@pytest.fixture(scope="module")
def gclient(bserver):
    c = grpcclient.InferenceServerClient(url=bserver.grpc_url)
    yield c
    c.close()


def model_stats(client, model: str) -> dict:
    return client.get_inference_statistics(model)["model_stats"][0]


def rows(i: int, n: int = 1) -> np.ndarray:
    return (np.arange(n * 16, dtype=np.float32).reshape(n, 16) + 100 * i).astype(
        np.float32
    )


def http_input(
    x: np.ndarray, name: str = "INPUT0", datatype: str = "FP32"
) -> httpclient.InferInput:
    inp = httpclient.InferInput(name, list(x.shape), datatype)
    inp.set_data_from_numpy(x)
    return inp


def grpc_input(
    x: np.ndarray, name: str = "INPUT0", datatype: str = "FP32"
) -> grpcclient.InferInput:
    inp = grpcclient.InferInput(name, list(x.shape), datatype)
    inp.set_data_from_numpy(x)
    return inp


def test_config_shows_dynamic_batching_and_instances(hclient, gclient):
    cfg = hclient.get_model_config("batching_js")
    assert cfg["max_batch_size"] == 32
    assert cfg["dynamic_batching"]["preferred_batch_size"] == [8, 16]
    assert cfg["dynamic_batching"]["max_queue_delay_microseconds"] == 10000
    assert cfg["instance_group"][0]["count"] == 2
    # Over gRPC, as a protobuf message: the uint64-keyed priority map survives the wire.
    q = gclient.get_model_config("queue_policy").config
    assert q.WhichOneof("scheduling_choice") == "dynamic_batching"
    assert q.dynamic_batching.priority_levels == 2
    assert q.dynamic_batching.default_priority_level == 2
    assert q.dynamic_batching.default_queue_policy.max_queue_size == 4
    assert q.dynamic_batching.priority_queue_policy[1].max_queue_size == 8


def test_concurrent_http_requests_form_batches_and_each_gets_its_rows(hclient):
    before = model_stats(hclient, "batching_js")
    n = 32
    pending = [
        hclient.async_infer("batching_js", [http_input(rows(i))], request_id=str(i))
        for i in range(n)
    ]
    for i, p in enumerate(pending):
        result = p.get_result()
        assert result.get_response()["id"] == str(i)
        np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), rows(i) * 2)
    after = model_stats(hclient, "batching_js")
    inferences = after["inference_count"] - before["inference_count"]
    executions = after["execution_count"] - before["execution_count"]
    assert inferences == n
    assert executions < n, after  # several requests per execution
    assert any(b["batch_size"] > 1 for b in after["batch_stats"]), after["batch_stats"]


def test_concurrent_grpc_requests_of_several_rows_get_their_own_rows(gclient):
    n = 16
    done = threading.Event()
    results: dict[int, np.ndarray] = {}
    errors: list[Exception] = []

    def callback(i, result, error):
        if error is not None:
            errors.append(error)
        else:
            results[i] = result.as_numpy("OUTPUT0")
        if len(results) + len(errors) == n:
            done.set()

    for i in range(n):
        x = rows(i, 1 + i % 3)
        gclient.async_infer(
            "batching_js",
            [grpc_input(x)],
            callback=lambda result, error, i=i: callback(i, result, error),
        )
    assert done.wait(30)
    assert not errors, errors
    for i in range(n):
        np.testing.assert_array_equal(results[i], rows(i, 1 + i % 3) * 2)


def test_python_model_gets_batches_through_tritonclient(hclient):
    before = model_stats(hclient, "batching_py")
    n = 12
    x = [np.full((1, 3), i, np.float32) for i in range(n)]
    pending = [
        hclient.async_infer("batching_py", [http_input(x[i], "x")]) for i in range(n)
    ]
    batch_rows = []
    for i, p in enumerate(pending):
        result = p.get_result()
        np.testing.assert_array_equal(result.as_numpy("y"), x[i] + 1)
        # "rows": how many rows the batch that served this request had.
        batch_rows.append(int(result.as_numpy("rows")[0, 0]))
    after = model_stats(hclient, "batching_py")
    assert after["inference_count"] - before["inference_count"] == n
    # Batches formed: some request ran with others, so there were fewer executions than requests.
    assert max(batch_rows) > 1, batch_rows
    assert after["execution_count"] - before["execution_count"] < n, after


def test_higher_priority_runs_first_with_tritonclient_grpc(gclient):
    order: list[str] = []
    lock = threading.Lock()
    done = threading.Semaphore(0)

    def send(tag: str, priority: int = 0):
        def cb(result, error):
            with lock:
                order.append(tag if error is None else f"{tag}:error:{error}")
            done.release()

        gclient.async_infer(
            "queue_policy",
            [grpc_input(np.array([[1]], np.int32), datatype="INT32")],
            callback=cb,
            priority=priority,
        )

    send("busy")
    time.sleep(0.1)  # "busy" is running; the rest queue behind it
    send("low1", 2)
    send("low2")  # default level: 2
    send("high", 1)
    for _ in range(4):
        assert done.acquire(timeout=30)
    assert order == ["busy", "high", "low1", "low2"]


def test_timeout_parameter_rejects_a_queued_request(hclient, gclient):
    busy = hclient.async_infer(
        "queue_policy", [http_input(np.array([[1]], np.int32), datatype="INT32")]
    )
    time.sleep(0.05)
    with pytest.raises(InferenceServerException, match="timed out in the queue"):
        hclient.infer(
            "queue_policy",
            [http_input(np.array([[2]], np.int32), datatype="INT32")],
            timeout=20_000,
        )
    with pytest.raises(InferenceServerException, match="timed out"):
        gclient.infer(
            "queue_policy",
            [grpc_input(np.array([[3]], np.int32), datatype="INT32")],
            timeout=20_000,
        )
    busy.get_result()


def test_a_full_queue_answers_unavailable_at_once(hclient):
    inp = [http_input(np.array([[1]], np.int32), datatype="INT32")]
    held = [
        hclient.async_infer("queue_policy", inp) for _ in range(5)
    ]  # one running, four queued
    time.sleep(0.1)
    t0 = time.monotonic()
    with pytest.raises(InferenceServerException, match="queue is full") as e:
        hclient.infer("queue_policy", inp)
    assert time.monotonic() - t0 < 1.0
    assert e.value.status() == "503"
    for h in held:
        h.get_result()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_perf_analyzer_batch_4_with_concurrency_against_a_batching_model(
    perf_analyzer, bserver, hclient, protocol
):
    url = bserver.http_hostport if protocol == "http" else bserver.grpc_url
    before = model_stats(hclient, "batching_js")
    run_pa(
        perf_analyzer,
        ["-m", "batching_js", "-u", url, "-i", protocol, "-b", "4",
         "--concurrency-range", "8:8", "--request-count", "400"],
    )  # fmt: skip
    after = model_stats(hclient, "batching_js")
    assert after["inference_count"] - before["inference_count"] >= 400 * 4
    # Executions larger than one request's 4 rows: the requests were merged.
    assert any(b["batch_size"] > 4 for b in after["batch_stats"]), after["batch_stats"]


def test_perf_analyzer_against_the_python_batching_model(perf_analyzer, bserver):
    run_pa(
        perf_analyzer,
        ["-m", "batching_py", "-u", bserver.http_hostport, "-b", "2", "--shape", "x:8",
         "--concurrency-range", "4:4", "--request-count", "200"],
    )  # fmt: skip
