"""The statistics extension as tritonclient and perf_analyzer read it."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

DURATION_FIELDS = ["success", "fail", "queue", "compute_input", "compute_infer", "compute_output", "cache_hit", "cache_miss"]


def infer_identity_int8(client, n: int):
    data = np.arange(4, dtype=np.int8).reshape(1, 4)
    for _ in range(n):
        inp = httpclient.InferInput("INPUT0", [1, 4], "INT8")
        inp.set_data_from_numpy(data)
        client.infer("identity_int8", [inp])


def stats_of(client, model):
    stats = client.get_inference_statistics(model)
    (entry,) = stats["model_stats"]
    return entry


def test_statistics_have_every_field_perf_analyzer_reads(client):
    infer_identity_int8(client, 1)
    entry = stats_of(client, "identity_int8")
    assert entry["name"] == "identity_int8"
    assert entry["version"] == "1"
    for key in ("last_inference", "inference_count", "execution_count"):
        assert isinstance(entry[key], int), key
    for key in DURATION_FIELDS:
        d = entry["inference_stats"][key]
        assert isinstance(d["count"], int) and isinstance(d["ns"], int), (key, d)
    assert isinstance(entry["batch_stats"], list)


def test_statistics_counts_grow_with_requests(client):
    before = stats_of(client, "identity_int8")
    infer_identity_int8(client, 5)
    after = stats_of(client, "identity_int8")
    assert after["inference_count"] - before["inference_count"] == 5
    assert after["execution_count"] - before["execution_count"] >= 1
    b, a = before["inference_stats"], after["inference_stats"]
    assert a["success"]["count"] - b["success"]["count"] == 5
    assert a["queue"]["count"] - b["queue"]["count"] == 5  # perf_analyzer divides by this
    assert a["compute_infer"]["count"] > b["compute_infer"]["count"]
    assert a["success"]["ns"] > b["success"]["ns"]
    assert after["last_inference"] >= before["last_inference"]
    assert after["last_inference"] > 0


def infer_batch_of_three(client):
    data = np.arange(12, dtype=np.int8).reshape(3, 4)
    inp = httpclient.InferInput("INPUT0", [3, 4], "INT8")
    inp.set_data_from_numpy(data)
    client.infer("identity_int8", [inp])


def test_statistics_inference_count_counts_batch_elements(client):
    # Triton: "each inference in a batched request is counted as an individual inference"
    before = stats_of(client, "identity_int8")
    infer_batch_of_three(client)
    after = stats_of(client, "identity_int8")
    assert after["inference_count"] - before["inference_count"] == 3
    assert after["execution_count"] - before["execution_count"] == 1
    assert after["inference_stats"]["success"]["count"] - before["inference_stats"]["success"]["count"] == 1


def test_statistics_batch_stats_record_batch_size(client):
    # Triton keys batch_stats by the batch size of the execution (sum of the requests' batch dims)
    infer_batch_of_three(client)
    entry = stats_of(client, "identity_int8")
    sizes = {bs["batch_size"] for bs in entry["batch_stats"]}
    assert 3 in sizes, entry["batch_stats"]
    for bs in entry["batch_stats"]:
        for key in ("compute_input", "compute_infer", "compute_output"):
            assert set(bs[key]) >= {"count", "ns"}


def test_statistics_failed_request_counts_as_fail(client):
    before = stats_of(client, "identity_int8")
    inp = httpclient.InferInput("INPUT0", [1, 4], "INT16")  # wrong datatype
    inp.set_data_from_numpy(np.zeros((1, 4), dtype=np.int16))
    with pytest.raises(InferenceServerException):
        client.infer("identity_int8", [inp])
    after = stats_of(client, "identity_int8")
    assert after["inference_stats"]["success"]["count"] == before["inference_stats"]["success"]["count"]
    # Triton counts requests that reach the model and fail; a request rejected during
    # validation may or may not be counted, so only check it did not count as success.
    assert after["inference_stats"]["fail"]["count"] >= before["inference_stats"]["fail"]["count"]


def test_statistics_for_all_models(client):
    stats = client.get_inference_statistics()
    names = {m["name"] for m in stats["model_stats"]}
    assert {"simple", "simple_string", "identity_fp32", "identity_bytes"} <= names


def test_statistics_with_version(client):
    stats = client.get_inference_statistics("simple", model_version="1")
    assert stats["model_stats"][0]["version"] == "1"


def test_statistics_for_unknown_model_raises(client):
    with pytest.raises(InferenceServerException) as e:
        client.get_inference_statistics("no_such_model")
    assert e.value.status() in ("400", "404")
