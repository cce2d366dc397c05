"""The system shared-memory extension driven by NVIDIA's own clients: tritonclient's
shared_memory utilities over HTTP and gRPC, and perf_analyzer --shared-memory system, against
JS, Python and native models (test/conformance/models/shm.ts, examples/native-cpu)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as shm
from conftest import REPO, Server, _start_server, _stop_server, run_pa
from tritonclient.utils import InferenceServerException

MODELS = (
    "test/conformance/models/shm.ts",
    "examples/native-cpu/models.ts",
    "examples/python-torch/models.ts",
)
ADDON = "examples/native-cpu/build/Release/vector_ops.node"


@pytest.fixture(scope="module")
def shm_server(tmp_path_factory) -> Server:
    if not (REPO / ADDON).exists():
        pytest.fail(f"{ADDON} not built: run `npm run build:native-models`")
    proc, srv = _start_server(
        tmp_path_factory.mktemp("tensorbind-shm"), MODELS, ("--shm-extension", "system")
    )
    try:
        yield srv
    finally:
        _stop_server(proc, srv)


@pytest.fixture(scope="module")
def http(shm_server: Server):
    c = httpclient.InferenceServerClient(url=shm_server.http_hostport)
    yield c
    c.close()


@pytest.fixture(scope="module")
def grpc(shm_server: Server):
    c = grpcclient.InferenceServerClient(url=shm_server.grpc_url)
    yield c
    c.close()


class Regions:
    """Client regions made with tritonclient's utilities; destroyed and unregistered at the end."""

    def __init__(self, client) -> None:
        self.client = client
        self.handles: list = []

    def make(self, name: str, byte_size: int, data: np.ndarray | None = None):
        key = f"/tbtest-{uuid.uuid4().hex[:12]}"
        h = shm.create_shared_memory_region(name, key, byte_size)
        self.handles.append(h)
        if data is not None:
            shm.set_shared_memory_region(h, [data])
        self.client.register_system_shared_memory(name, key, byte_size)
        return h

    def close(self) -> None:
        self.client.unregister_system_shared_memory()
        for h in self.handles:
            shm.destroy_shared_memory_region(h)


@pytest.fixture
def regions(http):
    r = Regions(http)
    yield r
    r.close()


def _io(
    mod,
    name: str,
    region: str,
    x: np.ndarray,
    out_region: str | None,
    out: str = "OUTPUT0",
):
    i = mod.InferInput(name, list(x.shape), "FP32")
    i.set_shared_memory(region, x.nbytes)
    o = mod.InferRequestedOutput(out)
    if out_region is not None:
        o.set_shared_memory(out_region, x.nbytes)
    return i, o


@pytest.mark.parametrize("proto", ["http", "grpc"])
@pytest.mark.parametrize("model", ["shm_js", "shm_py"])
def test_identity_through_regions(proto, model, http, grpc, regions):
    client, mod = (http, httpclient) if proto == "http" else (grpc, grpcclient)
    x = np.random.default_rng(1).standard_normal(100_000).astype(np.float32)
    regions.make("in", x.nbytes, x)
    out = regions.make("out", x.nbytes)
    i, o = _io(mod, "INPUT0", "in", x, "out")
    result = client.infer(model, [i], outputs=[o])
    assert result.get_output("OUTPUT0") is not None  # described, its data in the region
    np.testing.assert_array_equal(
        shm.get_contents_as_numpy(out, np.float32, x.shape), x
    )


@pytest.mark.parametrize("model", ["shm_js", "shm_py"])
def test_region_input_with_body_output(model, http, regions):
    x = np.arange(64, dtype=np.float32)
    regions.make("in", x.nbytes, x)
    i, o = _io(httpclient, "INPUT0", "in", x, None)
    np.testing.assert_array_equal(
        http.infer(model, [i], outputs=[o]).as_numpy("OUTPUT0"), x
    )


@pytest.mark.parametrize("proto", ["http", "grpc"])
def test_native_model_mixed_region_and_body_inputs(proto, http, grpc, regions):
    client, mod = (http, httpclient) if proto == "http" else (grpc, grpcclient)
    a = np.random.default_rng(2).standard_normal(4096).astype(np.float32)
    b = np.random.default_rng(3).standard_normal(4096).astype(np.float32)
    regions.make("a", a.nbytes, a)
    out = regions.make("sum", a.nbytes)
    ia = mod.InferInput("A", [4096], "FP32")
    ia.set_shared_memory("a", a.nbytes)
    ib = mod.InferInput("B", [4096], "FP32")
    ib.set_data_from_numpy(b)
    o = mod.InferRequestedOutput("SUM")
    o.set_shared_memory("sum", a.nbytes)
    client.infer("vector_add", [ia, ib], outputs=[o])
    np.testing.assert_allclose(
        shm.get_contents_as_numpy(out, np.float32, [4096]), a + b, rtol=1e-6
    )


def test_torch_model_through_regions_equals_the_body_path(http, regions):
    """framework="torch": the worker's tensor is made from the array over the client's region."""
    x = np.random.default_rng(4).standard_normal((4, 8)).astype(np.float32)
    regions.make("tin", x.nbytes, x)
    out = regions.make("tout", 4 * 2 * 4)
    i = httpclient.InferInput("x", [4, 8], "FP32")
    i.set_shared_memory("tin", x.nbytes)
    o = httpclient.InferRequestedOutput("y")
    o.set_shared_memory("tout", 32)
    http.infer("mlp", [i], outputs=[o])
    body = httpclient.InferInput("x", [4, 8], "FP32")
    body.set_data_from_numpy(x)
    expected = http.infer("mlp", [body]).as_numpy("y")
    np.testing.assert_allclose(
        shm.get_contents_as_numpy(out, np.float32, [4, 2]), expected, rtol=1e-6
    )


def test_python_worker_maps_the_clients_region(http, regions):
    """The worker's input array is a view of the client's segment itself, not of an arena."""
    x = np.linspace(0, 1, 50_000, dtype=np.float32)
    h = regions.make("in", x.nbytes, x)
    out = regions.make("out", x.nbytes)
    i, o = _io(httpclient, "INPUT0", "in", x, "out")
    mapping = httpclient.InferRequestedOutput("MAPPING", binary_data=False)
    result = http.infer("shm_py_where", [i], outputs=[o, mapping])
    assert str(result.as_numpy("MAPPING")[0]) == f"/dev/shm/{h._shm_key.lstrip('/')}"
    np.testing.assert_array_equal(
        shm.get_contents_as_numpy(out, np.float32, x.shape), x * 2
    )


@pytest.mark.parametrize("proto", ["http", "grpc"])
def test_register_status_unregister(proto, http, grpc):
    client = http if proto == "http" else grpc
    key = f"/tbtest-{uuid.uuid4().hex[:12]}"
    h = shm.create_shared_memory_region("r", key, 64)
    try:
        client.register_system_shared_memory("r", key, 32, offset=16)
        status = client.get_system_shared_memory_status(
            region_name="r", **({} if proto == "http" else {"as_json": True})
        )
        entry = status[0] if proto == "http" else status["regions"]["r"]
        assert (
            entry["name"] == "r"
            and int(entry["offset"]) == 16
            and int(entry["byte_size"]) == 32
        )
        assert entry.get("key", "") == ""  # keys are not shown unless --shm-status-keys
        with pytest.raises(InferenceServerException, match="already in manager"):
            client.register_system_shared_memory("r", key, 32)
        client.unregister_system_shared_memory("r")
        empty = client.get_system_shared_memory_status(
            **({} if proto == "http" else {"as_json": True})
        )
        assert (empty if proto == "http" else empty.get("regions", {})) in ([], {})
    finally:
        shm.destroy_shared_memory_region(h)


@pytest.mark.parametrize("proto", ["http", "grpc"])
def test_bad_registrations_and_references_are_invalid_argument(
    proto, http, grpc, regions
):
    client, mod = (http, httpclient) if proto == "http" else (grpc, grpcclient)
    code = "400" if proto == "http" else "StatusCode.INVALID_ARGUMENT"
    regions.make("ok", 64, np.zeros(16, np.float32))
    for key, size, offset in [
        ("/../x", 8, 0),
        ("/a/b", 8, 0),
        ("/tbtest-missing", 8, 0),
        (regions.handles[0]._shm_key, 128, 0),
        (regions.handles[0]._shm_key, 8, 60),
    ]:
        with pytest.raises(InferenceServerException) as err:
            client.register_system_shared_memory("bad", key, size, offset=offset)
        assert code in str(err.value.status()) or code in str(err.value)
    for region, size, offset in [("nope", 64, 0), ("ok", 64, 4), ("ok", 2**62, 2**62)]:
        i = mod.InferInput("INPUT0", [16], "FP32")
        i.set_shared_memory(region, size, offset=offset)
        with pytest.raises(InferenceServerException) as err:
            client.infer("shm_js", [i])
        assert code in str(err.value.status()) or code in str(err.value)
    assert client.is_server_live()


@pytest.mark.parametrize("model", ["shm_js", "shm_py"])
def test_perf_analyzer_system_shared_memory(perf_analyzer, shm_server, model):
    run_pa(
        perf_analyzer,
        [
            "-m", model, "-u", shm_server.http_hostport, "-i", "http", "--shared-memory", "system",
            "--shape", "INPUT0:4096", "--output-shared-memory-size", "16384",
            "--concurrency-range", "1:1", "--request-count", "100",
        ],
    )  # fmt: skip


def test_perf_analyzer_system_shared_memory_grpc_native(perf_analyzer, shm_server):
    run_pa(
        perf_analyzer,
        [
            "-m", "vector_add", "-u", shm_server.grpc_url, "-i", "grpc", "--shared-memory", "system",
            "--shape", "A:1024", "--shape", "B:1024", "--output-shared-memory-size", "4096",
            "--concurrency-range", "1:1", "--request-count", "100",
        ],
    )  # fmt: skip


def _workers_mapping(server: Server, key: str) -> list[int]:
    """Child processes of the server (the Python workers) that have segment `key` mapped."""
    children = (
        (Path("/proc") / str(server.pid) / "task" / str(server.pid) / "children")
        .read_text()
        .split()
    )
    hits = []
    for pid in children:
        try:
            if (
                f"/dev/shm/{key.lstrip('/')}"
                in (Path("/proc") / pid / "maps").read_text()
            ):
                hits.append(int(pid))
        except FileNotFoundError:
            pass
    return hits


def test_python_worker_unmaps_on_unregister(shm_server, http):
    """Workers keep a client's region mapped between requests, and drop it when it is unregistered."""
    x = np.ones(4096, dtype=np.float32)
    key = f"/tbtest-{uuid.uuid4().hex[:12]}"
    h = shm.create_shared_memory_region("keep", key, x.nbytes)
    try:
        shm.set_shared_memory_region(h, [x])
        http.register_system_shared_memory("keep", key, x.nbytes)
        i = httpclient.InferInput("INPUT0", [4096], "FP32")
        i.set_shared_memory("keep", x.nbytes)
        np.testing.assert_array_equal(http.infer("shm_py", [i]).as_numpy("OUTPUT0"), x)
        assert _workers_mapping(shm_server, key), (
            "the worker should keep the region mapped"
        )
        http.unregister_system_shared_memory("keep")
        deadline = time.monotonic() + 10
        while _workers_mapping(shm_server, key) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _workers_mapping(shm_server, key)
    finally:
        shm.destroy_shared_memory_region(h)
