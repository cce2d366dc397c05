"""The Prometheus endpoint: parsed by the real prometheus_client parser, moved by real
tritonclient traffic, and scraped by perf_analyzer --collect-metrics (with a fake nvidia-smi
standing in for the GPUs this machine does not have)."""

from __future__ import annotations

import csv
import math
import os
import stat
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from conftest import Server, _start_server, _stop_server, run_pa
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import InferenceServerException

UUID0 = "GPU-5a1e39c0-8b3f-4e0c-a1d2-0123456789ab"
UUID1 = "GPU-ffffffff-0000-1111-2222-333333333333"

INFERENCE_COUNTERS = (
    "nv_inference_request_success",
    "nv_inference_request_failure",
    "nv_inference_count",
    "nv_inference_exec_count",
    "nv_inference_request_duration_us",
    "nv_inference_queue_duration_us",
    "nv_inference_compute_input_duration_us",
    "nv_inference_compute_infer_duration_us",
    "nv_inference_compute_output_duration_us",
)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as res:
        assert res.status == 200
        assert res.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return res.read().decode()


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample(fams: dict, family: str, sample_name: str | None = None, **labels) -> float:
    """The value of the one sample of `family` whose labels include `labels`."""
    name = sample_name or family
    found = [
        s.value
        for s in fams[family].samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, f"{len(found)} samples {name}{labels}"
    return found[0]


@pytest.fixture(scope="module")
def metrics_url(server: Server) -> str:
    if not server.metrics_url:
        pytest.fail(
            "the server under test reported no metrics URL (set TENSORBIND_METRICS_URL with TENSORBIND_URL)"
        )
    return server.metrics_url


def test_exposition_parses_with_prometheus_client(metrics_url):
    text = scrape(metrics_url)
    fams = families(text)
    # The parser turns counters into OpenMetrics form: family name without _total, samples with it.
    for name in INFERENCE_COUNTERS:
        assert fams[name].type == "counter", name
        assert all(s.name == f"{name}_total" for s in fams[name].samples)
        assert {tuple(sorted(s.labels)) for s in fams[name].samples} <= {
            ("model", "version"),
            ("model", "reason", "version"),
        }
    assert fams["nv_inference_pending_request_count"].type == "gauge"
    assert fams["tensorbind_request_duration_seconds"].type == "histogram"
    assert fams["tensorbind_batch_size"].type == "histogram"
    for name in (
        "nv_cpu_utilization",
        "nv_cpu_memory_total_bytes",
        "nv_cpu_memory_used_bytes",
    ):
        assert fams[name].type == "gauge"
        assert len(fams[name].samples) == 1 and fams[name].samples[0].labels == {}
    assert 0 <= sample(fams, "nv_cpu_utilization") <= 1
    # Every sample belongs to a declared family: a stray sample would surface as an untyped family.
    assert [n for n, f in fams.items() if f.type in ("untyped", "unknown")] == []
    for f in fams.values():
        for s in f.samples:
            assert math.isfinite(s.value) or s.value == math.inf, (s.name, s.value)
    # Failure reasons as Triton labels them, for every model.
    reasons = {s.labels["reason"] for s in fams["nv_inference_request_failure"].samples}
    assert reasons == {"REJECTED", "CANCELED", "BACKEND", "OTHER"}
    models = {s.labels["model"] for s in fams["nv_inference_request_success"].samples}
    assert {"simple", "identity_fp32", "linear_softmax"} <= models


def test_counters_move_by_the_traffic_sent(server, metrics_url, url):
    before = families(scrape(metrics_url))
    a = np.arange(16, dtype=np.int32)[None]
    b = np.ones((1, 16), dtype=np.int32)
    http = httpclient.InferenceServerClient(url)
    grpc = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        for _ in range(5):
            i0 = httpclient.InferInput("INPUT0", [1, 16], "INT32")
            i0.set_data_from_numpy(a)
            i1 = httpclient.InferInput("INPUT1", [1, 16], "INT32")
            i1.set_data_from_numpy(b)
            http.infer("simple", [i0, i1])
        a3 = np.repeat(a, 3, axis=0)
        b3 = np.repeat(b, 3, axis=0)
        g0 = grpcclient.InferInput("INPUT0", [3, 16], "INT32")
        g0.set_data_from_numpy(a3)
        g1 = grpcclient.InferInput("INPUT1", [3, 16], "INT32")
        g1.set_data_from_numpy(b3)
        grpc.infer("simple", [g0, g1])
        bad = httpclient.InferInput("INPUT0", [1, 16], "INT32")
        bad.set_data_from_numpy(a)
        with pytest.raises(InferenceServerException, match="INPUT1"):
            http.infer("simple", [bad])  # INPUT1 missing: a 400, counted as OTHER
    finally:
        http.close()
        grpc.close()
    after = families(scrape(metrics_url))

    def delta(family, sample_name=None, **labels):
        name = sample_name or (
            f"{family}_total" if after[family].type == "counter" else family
        )
        return sample(after, family, name, **labels) - sample(
            before, family, name, **labels
        )

    m = {"model": "simple", "version": "1"}
    assert delta("nv_inference_request_success", **m) == 6
    assert delta("nv_inference_count", **m) == 8  # 5 x batch 1 + 1 x batch 3
    assert delta("nv_inference_exec_count", **m) == 6
    assert delta("nv_inference_request_failure", reason="OTHER", **m) == 1
    assert delta("nv_inference_request_failure", reason="BACKEND", **m) == 0
    request_us = delta("nv_inference_request_duration_us", **m)
    infer_us = delta("nv_inference_compute_infer_duration_us", **m)
    assert 0 < infer_us <= request_us < 6 * 1_000_000
    # The statistics extension and the metrics read one source.
    stats = httpclient.InferenceServerClient(url).get_inference_statistics("simple")[
        "model_stats"
    ][0]
    assert sample(
        after,
        "nv_inference_request_duration_us",
        "nv_inference_request_duration_us_total",
        **m,
    ) == (int(stats["inference_stats"]["success"]["ns"]) // 1000)
    assert delta("tensorbind_batch_size", "tensorbind_batch_size_count", **m) == 6
    assert delta("tensorbind_batch_size", "tensorbind_batch_size_sum", **m) == 8


# ---- perf_analyzer --collect-metrics --------------------------------------------------------


def fake_nvidia_smi(folder: Path) -> Path:
    """An nvidia-smi answering the CSV query like a two-GPU H100 machine."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "nvidia-smi"
    path.write_text(
        "#!/bin/sh\n"
        f'echo "0, {UUID0}, NVIDIA H100 80GB HBM3, 42, 81559, 2048, 123.45, 700.00"\n'
        f'echo "1, {UUID1}, NVIDIA H100 80GB HBM3, 7, 81559, 512, 80.00, 700.00"\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


@pytest.fixture(scope="module")
def gpu_server(tmp_path_factory):
    """A second server (quickstart models only) that sees the fake GPUs through PATH."""
    if os.environ.get("TENSORBIND_URL"):
        pytest.fail(
            "perf_analyzer --collect-metrics needs a server this suite starts (unset TENSORBIND_URL)"
        )
    tmp = tmp_path_factory.mktemp("gpu")
    env = {**os.environ, "PATH": f"{fake_nvidia_smi(tmp / 'bin')}:{os.environ['PATH']}"}
    proc, srv = _start_server(
        tmp,
        models=("examples/quickstart/models.ts",),
        extra_args=("--metrics-interval-ms", "200"),
        env=env,
    )
    try:
        yield srv
    finally:
        _stop_server(proc, srv)


def test_gpu_series_parse_with_prometheus_client(gpu_server):
    fams = families(scrape(gpu_server.metrics_url))
    for name in (
        "nv_gpu_utilization",
        "nv_gpu_memory_total_bytes",
        "nv_gpu_memory_used_bytes",
        "nv_gpu_power_usage",
    ):
        assert fams[name].type == "gauge"
        assert sorted(s.labels["gpu_uuid"] for s in fams[name].samples) == [
            UUID0,
            UUID1,
        ]
        assert all(list(s.labels) == ["gpu_uuid"] for s in fams[name].samples)
    assert sample(fams, "nv_gpu_utilization", gpu_uuid=UUID0) == pytest.approx(0.42)
    assert sample(fams, "nv_gpu_memory_total_bytes", gpu_uuid=UUID0) == 81559 * 2**20
    assert sample(fams, "nv_gpu_power_usage", gpu_uuid=UUID0) == pytest.approx(123.45)


def test_perf_analyzer_collect_metrics_reads_the_gpu_gauges(
    gpu_server, perf_analyzer, tmp_path
):
    out = tmp_path / "pa.csv"
    metrics = urlparse(gpu_server.metrics_url)
    args = [
        "-m", "simple", "-u", gpu_server.http_hostport, "-i", "http",
        # A fixed request count skips the stability search (this machine is shared and noisy).
        "--concurrency-range", "2:2", "--request-count", "600",
        "--collect-metrics", "--metrics-url", f"{metrics.netloc}{metrics.path}", "--metrics-interval", "100",
        "--verbose-csv", "-f", str(out),
    ]  # fmt: skip
    output, _ = run_pa(perf_analyzer, args)
    assert "Unable to parse" not in output, output[-4000:]
    rows = list(csv.DictReader(out.open()))
    assert rows, out.read_text()
    row = rows[0]
    util = next(v for k, v in row.items() if k and k.startswith("Avg GPU Utilization"))
    total = next(v for k, v in row.items() if k and k.startswith("Total GPU Memory"))
    # perf_analyzer writes "uuid:value;" per GPU.
    assert f"{UUID0}:" in util and f"{UUID1}:" in util, row
    assert f"{UUID0}:{81559 * 2**20}" in total, row


def test_perf_analyzer_collect_metrics_without_gpus_completes(
    server, metrics_url, perf_analyzer, url, tmp_path
):
    metrics = urlparse(metrics_url)
    args = [
        "-m", "simple", "-u", url, "-i", "http", "--request-count", "300",
        "--collect-metrics", "--metrics-url", f"{metrics.netloc}{metrics.path}", "--metrics-interval", "200",
        "--verbose-csv", "-f", str(tmp_path / "pa.csv"),
    ]  # fmt: skip
    run_pa(perf_analyzer, args)
