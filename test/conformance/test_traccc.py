"""The traccc service end to end: events generated at mu = 20, served on the CPU by the native
model (examples/traccc), reconstructed through gRPC by the example's own tritonclient client, and
scored against the generator's truth. Needs `npm run build:traccc` (the addon and traccc-gen)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from conftest import REPO, Server, _start_server, _stop_server
from tritonclient.utils import InferenceServerException

EXAMPLE = REPO / "examples" / "traccc"
BUILD = EXAMPLE / "build"
ADDON = BUILD / "Release" / "traccc.node"
GEN = BUILD / "core" / "traccc-gen"
RECO = BUILD / "core" / "traccc-reco"
N_EVENTS = 6
MODELS = ("examples/traccc/models.ts",)

sys.path.insert(0, str(EXAMPLE))
import client as traccc_client


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Path:
    if not ADDON.exists() or not GEN.exists():
        pytest.fail(f"{ADDON.relative_to(REPO)} or traccc-gen is missing: run `npm run build:traccc`")
    out = tmp_path_factory.mktemp("traccc") / "mu20"
    subprocess.run(
        [str(GEN), "--mu", "20", "--events", str(N_EVENTS), "--seed", "20", "--out", str(out)], check=True
    )
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    if not ADDON.exists():
        pytest.fail(f"{ADDON.relative_to(REPO)} is missing: run `npm run build:traccc`")
    tmp = tmp_path_factory.mktemp("traccc-server")
    proc, srv = _start_server(tmp, MODELS, env={**os.environ, "TRACCC_INSTANCES": "2"})
    assert srv.grpc_url, "the traccc server reported no gRPC address"
    try:
        yield srv
    finally:
        _stop_server(proc, srv)
        assert not (tmp / "ready.json").exists()


def test_served_reconstruction_meets_the_physics_targets_at_mu_20(server, events):
    evs = traccc_client.read_event_dir(events, None)
    report, outputs = traccc_client.run(
        server.grpc_url,
        "traccc",
        evs,
        concurrency=2,
        repeat=1,
        pitch=traccc_client.pitch_table(events / "meta.json"),
    )
    p = report.physics
    assert p.selected > 500
    assert p.efficiency >= 0.90, p
    assert p.fake_rate <= 0.05, p
    assert p.duplicate_rate <= 0.05, p
    for out in outputs:  # the layout of the real service: one 0-separator between tracks
        t = out["TRK_PARAMS"].shape[0]
        assert out["TRK_PARAMS"].shape[1] == 8 and out["MEASUREMENTS"].shape[1] == 6
        assert int((out["GEOMETRY_IDS"] == 0).sum()) == t - 1


def test_served_results_equal_direct_in_process_calls(server, events, tmp_path):
    """The service adds nothing and loses nothing: the same counts as the C++ driver."""
    direct = tmp_path / "direct.json"
    subprocess.run(
        [str(RECO), "--dir", str(events), "--events", str(N_EVENTS), "--quiet", "--json", str(direct)],
        check=True,
    )
    d = json.loads(direct.read_text())
    evs = traccc_client.read_event_dir(events, None)
    report, _ = traccc_client.run(
        server.grpc_url, "traccc", evs, 1, 1, traccc_client.pitch_table(events / "meta.json")
    )
    assert (report.physics.found, report.physics.selected, report.physics.tracks) == (
        d["found"],
        d["selected"],
        d["tracks"],
    )


def test_system_shared_memory_gives_the_same_tracks_as_the_request_body(server, events):
    """The client's cells in a system shared-memory region: the native model reads them in
    place (host pointers into the region) and finds exactly what it finds from the body."""
    evs = traccc_client.read_event_dir(events, None)
    pitch = traccc_client.pitch_table(events / "meta.json")
    _, body = traccc_client.run(server.grpc_url, "traccc", evs, 1, 1, pitch)
    report, shared = traccc_client.run(server.grpc_url, "traccc", evs, 2, 1, pitch, shared_memory="system")
    assert report.events == len(evs)
    for a, b in zip(body, shared, strict=True):
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


def test_http_client_gets_the_same_tracks_as_grpc(server, events):
    """--protocol http (tritonclient.http, binary tensors, one connection per worker thread):
    the outputs of every event equal gRPC's, so the physics does too."""
    evs = traccc_client.read_event_dir(events, 3)
    pitch = traccc_client.pitch_table(events / "meta.json")
    grpc_report, by_grpc = traccc_client.run(server.grpc_url, "traccc", evs, 1, 1, pitch)
    report, by_http = traccc_client.run(server.http_url, "traccc", evs, 2, 2, pitch, protocol="http")
    assert report.events == 2 * len(evs)
    assert report.request_bytes == grpc_report.request_bytes
    assert asdict(report.physics) == asdict(grpc_report.physics)
    for a, b in zip(by_grpc, by_http, strict=True):
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


def test_http_client_with_system_shared_memory_gets_the_same_tracks(server, events):
    evs = traccc_client.read_event_dir(events, 2)
    pitch = traccc_client.pitch_table(events / "meta.json")
    _, body = traccc_client.run(server.http_hostport, "traccc", evs, 1, 1, pitch, protocol="http")
    _, shared = traccc_client.run(
        server.http_hostport, "traccc", evs, 2, 1, pitch, shared_memory="system", protocol="http"
    )
    for a, b in zip(body, shared, strict=True):
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


def test_http_client_command_line_reports_the_same_physics(server, events, tmp_path):
    """The command line: --protocol http with --url, --limit and --json."""
    out = tmp_path / "http.json"
    subprocess.run(
        [sys.executable, str(EXAMPLE / "client.py"), "--protocol", "http", "--url", server.http_hostport,
         "--events", str(events), "--limit", "3", "--concurrency", "2", "--json", str(out)],
        cwd=REPO, check=True, timeout=120, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    got = json.loads(out.read_text())
    evs = traccc_client.read_event_dir(events, 3)
    report, _ = traccc_client.run(
        server.grpc_url, "traccc", evs, 1, 1, traccc_client.pitch_table(events / "meta.json")
    )
    assert got["events"] == 3 and got["concurrency"] == 2
    for k in ("found", "selected", "tracks", "fakes", "duplicates"):
        assert got["physics"][k] == getattr(report.physics, k), k


def test_cuda_shared_memory_over_http_is_refused_clearly(server, events):
    evs = traccc_client.read_event_dir(events, 1)
    with pytest.raises(ValueError, match="gRPC only"):
        traccc_client.run(server.http_hostport, "traccc", evs, 1, 1, {}, shared_memory="cuda", protocol="http")


def test_typescript_client_reports_the_same_physics(server, events, tmp_path):
    out = tmp_path / "ts.json"
    subprocess.run(
        ["node", "--import", "tsx", "examples/traccc/client.ts", "--url", server.grpc_url,
         "--events", str(events), "--concurrency", "3", "--json", str(out)],
        cwd=REPO, check=True, timeout=120,
    )  # fmt: skip
    ts = json.loads(out.read_text())
    evs = traccc_client.read_event_dir(events, None)
    report, _ = traccc_client.run(
        server.grpc_url, "traccc", evs, 1, 1, traccc_client.pitch_table(events / "meta.json")
    )
    assert (ts["found"], ts["selected"], ts["tracks"]) == (
        report.physics.found,
        report.physics.selected,
        report.physics.tracks,
    )
    assert ts["efficiency"] >= 0.90 and ts["fakeRate"] <= 0.05


def _infer(url: str, pos: np.ndarray, prop: np.ndarray):
    c = grpcclient.InferenceServerClient(url)
    a = grpcclient.InferInput("CELL_POSITIONS", list(pos.shape), "INT64")
    a.set_data_from_numpy(pos)
    b = grpcclient.InferInput("CELL_PROPERTIES", list(prop.shape), "FP32")
    b.set_data_from_numpy(prop)
    return c.infer("traccc", [a, b])


def test_bad_cells_are_refused_and_the_server_keeps_serving(server, events):
    pos = np.load(events / "event000000000-cell_positions.npy")
    prop = np.load(events / "event000000000-cell_properties.npy")
    bad = pos.copy()
    bad[5, 0] = 42
    with pytest.raises(InferenceServerException) as e:
        _infer(server.grpc_url, bad, prop)
    assert "INVALID_ARGUMENT" in str(e.value.status()) and "row 5: geometry id 42" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        _infer(server.grpc_url, pos, prop[:-1])
    assert "INVALID_ARGUMENT" in str(e.value.status()) and "CELL_PROPERTIES" in e.value.message()
    res = _infer(server.grpc_url, pos, prop)
    assert res.as_numpy("TRK_PARAMS").shape[0] > 50


def test_an_empty_event_gives_no_tracks(server):
    res = _infer(server.grpc_url, np.zeros((0, 4), np.int64), np.zeros((0, 2), np.float32))
    assert res.as_numpy("TRK_PARAMS").shape == (0, 8)
    assert res.as_numpy("MEASUREMENTS").shape == (0, 6)
    assert res.as_numpy("GEOMETRY_IDS").shape == (0,)


def test_a_gpu_service_without_cuda_fails_to_start_with_a_clear_error(tmp_path):
    cache = (
        (BUILD / "CMakeCache.txt").read_text(errors="replace") if (BUILD / "CMakeCache.txt").exists() else ""
    )
    if "TENSORBIND_HAS_CUDA:INTERNAL=ON" in cache:
        pytest.skip("this build has CUDA (bench/gpu/traccc.sh covers the GPU service)")
    log = tmp_path / "server.log"
    ports = ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"]
    serve = ["node", "bin/tensorbind.js", "serve", *MODELS, *ports]
    with open(log, "wb") as out:
        proc = subprocess.run(
            serve,
            check=False,
            cwd=REPO, env={**os.environ, "TRACCC_DEVICE": "cuda"}, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
    assert proc.returncode != 0
    assert "built without CUDA" in log.read_text(errors="replace")
