"""Fixtures for the real-client conformance suite.

One tensorbind server (examples/quickstart/models.ts and the Python model of
examples/python-numpy/models.ts) is started for the whole session,
on ports the OS picks, and every test drives it with NVIDIA's own clients
(tritonclient.http, tritonclient.http.aio, perf_analyzer). See docs/CONFORMANCE.md.

Environment:
  TENSORBIND_URL       test an already running server at this http URL instead of
                       starting one (teardown checks are skipped)
  TENSORBIND_METRICS_URL  with TENSORBIND_URL: that server's metrics URL (http://host:8002/metrics)
  TENSORBIND_ROOT      directory to start the server in (default: this repository); it
                       needs bin/, dist/ and examples/
  TENSORBIND_PYTHON    interpreter of the Python model's workers (default: this pytest's own)
  PERF_ANALYZER        perf_analyzer executable (default: <repo>/.venv/bin/perf_analyzer,
                       then PATH)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
import tritonclient.http as httpclient

REPO = Path(__file__).resolve().parents[2]
SERVER_ROOT = Path(os.environ.get("TENSORBIND_ROOT", REPO)).resolve()
MODELS = ("examples/quickstart/models.ts", "examples/python-numpy/models.ts")
READY_TIMEOUT_S = 60.0  # the Python workers import numpy and pyarrow
STOP_TIMEOUT_S = 15.0
THROUGHPUT = re.compile(r"Throughput:\s*([0-9.]+)\s*infer/sec")


def pytest_report_header(config):
    from importlib.metadata import version

    lines = [f"tensorbind conformance: tritonclient {version('tritonclient')}, server {' '.join(MODELS)}"]
    if SERVER_ROOT != REPO:
        lines.append(f"server started in {SERVER_ROOT}")
    main_js = SERVER_ROOT / "dist" / "cli" / "main.js"
    if main_js.exists() and (SERVER_ROOT / "src").exists():
        built = main_js.stat().st_mtime
        newer = [p for p in (SERVER_ROOT / "src").rglob("*.ts") if p.stat().st_mtime > built]
        if newer:
            lines.append(
                f"WARNING: {len(newer)} file(s) in src/ are newer than dist/ "
                f"(e.g. {newer[0].relative_to(SERVER_ROOT)}): run `npm run build`"
            )
    return lines


@dataclass(frozen=True)
class Server:
    http_url: str  # "http://127.0.0.1:PORT"
    grpc_url: str | None  # "127.0.0.1:PORT"
    pid: int | None
    log_path: Path | None
    metrics_url: str | None = None  # "http://127.0.0.1:PORT/metrics"

    @property
    def http_hostport(self) -> str:
        """host:port, the form tritonclient.http and perf_analyzer -u take."""
        return urlparse(self.http_url).netloc

    def log_tail(self, n: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no server log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])


def _start_server(
    tmp: Path,
    models: tuple[str, ...] = MODELS,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen, Server]:
    if not (SERVER_ROOT / "dist" / "cli" / "main.js").exists():
        # pytest.fail, not pytest.exit: a fixture that cannot start its server must count as an
        # error of the tests that need it, not end the session with a report of "0 failed".
        pytest.fail("dist/ is missing: run `npm run build` first")
    ready = tmp / "ready.json"
    log_path = tmp / "server.log"
    cmd = [
        "node",
        "bin/tensorbind.js",
        "serve",
        *models,
        "--http-port",
        "0",
        "--grpc-port",
        "0",
        "--metrics-port",
        "0",
        "--ready-file",
        str(ready),
        *extra_args,
    ]
    env = {
        **(os.environ if env is None else env),
        "TENSORBIND_PYTHON": os.environ.get("TENSORBIND_PYTHON", sys.executable),
    }
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            cmd, cwd=SERVER_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + READY_TIMEOUT_S
    info = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if ready.exists():
            try:
                info = json.loads(ready.read_text())
                break
            except json.JSONDecodeError:
                pass  # partially written; a correct server writes it atomically
        time.sleep(0.02)
    if info is None:
        proc.kill()
        proc.wait()
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        pytest.fail(
            f"tensorbind did not write {ready} within {READY_TIMEOUT_S}s "
            f"(exit code {proc.returncode}); log:\n{tail}"
        )
    assert isinstance(info.get("http"), str) and info["http"].startswith("http://"), info
    assert info.get("pid") == proc.pid, f"ready file pid {info.get('pid')} != spawned pid {proc.pid}"
    return proc, Server(info["http"], info.get("grpc"), info.get("pid"), log_path, info.get("metrics"))


def _stop_server(proc: subprocess.Popen, srv: Server) -> None:
    """SIGTERM, then the server must exit 0 within STOP_TIMEOUT_S."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"server did not exit within {STOP_TIMEOUT_S}s of SIGTERM; log:\n{srv.log_tail()}")
    assert proc.returncode == 0, f"server exited with {proc.returncode} after SIGTERM; log:\n{srv.log_tail()}"


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    external = os.environ.get("TENSORBIND_URL")
    if external:
        yield Server(external.rstrip("/"), None, None, None, os.environ.get("TENSORBIND_METRICS_URL"))
        return
    proc, srv = _start_server(tmp_path_factory.mktemp("tensorbind"))
    try:
        yield srv
    finally:
        _stop_server(proc, srv)


@pytest.fixture(scope="session")
def url(server: Server) -> str:
    return server.http_hostport


@pytest.fixture(scope="session")
def client(url: str):
    c = httpclient.InferenceServerClient(url=url, concurrency=4)
    yield c
    c.close()


@pytest.fixture(scope="session")
def perf_analyzer() -> str:
    candidates = [os.environ.get("PERF_ANALYZER"), str(REPO / ".venv" / "bin" / "perf_analyzer"), shutil.which("perf_analyzer")]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            out = subprocess.run([c, "--version"], check=False, capture_output=True, text=True, timeout=30)
            if "Perf Analyzer Version" in out.stdout + out.stderr:
                return c
    pytest.fail("perf_analyzer not found or not working: run scripts/setup-python.sh")


def run_pa(perf_analyzer: str, args: list[str], timeout: float = 120) -> tuple[str, list[float]]:
    """Runs perf_analyzer to completion: exit 0 and a positive throughput for every measurement.

    Returns its output (stdout and stderr) and the throughputs it reported, in order.
    """
    cmd = [perf_analyzer, *args]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)}\nexit {proc.returncode}\n{output[-4000:]}"
    throughputs = [float(x) for x in THROUGHPUT.findall(output)]
    assert throughputs, f"no 'Throughput:' in perf_analyzer output:\n{output[-4000:]}"
    assert all(t > 0 for t in throughputs), output[-4000:]
    return output, throughputs
