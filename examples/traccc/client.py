"""Python client of the traccc service, on NVIDIA's official tritonclient (gRPC or HTTP).

Sends one event per request (CELL_POSITIONS, CELL_PROPERTIES), like the traccc-as-a-service
client, at a chosen concurrency; then scores the returned tracks against the generator's truth
and prints efficiency, fake rate, duplicate rate and events/s.

    python examples/traccc/client.py --events events/mu20 [--url localhost:8001] [--concurrency 4]
    python examples/traccc/client.py --events events/mu20 --protocol http [--url localhost:8000]
    traccc-gen --mu 20 --events 50 --stream | python examples/traccc/client.py --events -

Definitions (the same as the C++ driver's, see README.md): a measurement belongs to the nearest
truth hit of its module within 3 pitches; a track belongs to the particle holding >= 50% of its
measurements, else it is fake; particles with pT > 1 GeV and >= 5 hits are found when a track
belongs to them; duplicates are tracks beyond the first of a particle.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

import numpy as np
import tritonclient.grpc as grpcclient

ARRAYS = ("cell_positions", "cell_properties", "hit_ids", "hit_local", "particles")
OUTPUTS = ("TRK_PARAMS", "MEASUREMENTS", "GEOMETRY_IDS")
# Pitch (mm) per geometry-id volume, for truth matching; meta.json's layers override it.
DEFAULT_PITCH = {17: (0.05, 0.05), 24: (0.08, 1.0)}
P_ID, P_PT, P_NHITS = 0, 2, 6  # particle table columns
PROTOCOLS = ("grpc", "http")
DEFAULT_URL = {"grpc": "localhost:8001", "http": "localhost:8000"}


def client_module(protocol: str) -> ModuleType:
    """tritonclient.grpc or tritonclient.http: the two share InferInput, InferRequestedOutput,
    InferenceServerClient.infer and the shared-memory calls, so the rest of this client is the
    same for both. The HTTP one is imported on first use (it needs gevent and geventhttpclient)."""
    if protocol == "grpc":
        return grpcclient
    if protocol == "http":
        import tritonclient.http as httpclient

        return httpclient
    raise ValueError(f"protocol must be grpc or http, got {protocol!r}")


def connect(protocol: str, url: str, timeout_s: float = 600.0) -> Any:
    """A client of `protocol` at `url` (host:port; for HTTP an http:// prefix, as in the server's
    ready file, is dropped). Not shared between threads: the HTTP one runs on its thread's gevent
    hub, so every worker makes its own, in its own thread."""
    if protocol == "http":
        hostport = url.split("://", 1)[-1].rstrip("/")
        return client_module(protocol).InferenceServerClient(
            hostport, connection_timeout=timeout_s, network_timeout=timeout_s
        )
    return client_module(protocol).InferenceServerClient(url)


def tensor_options(protocol: str) -> dict[str, Any]:
    """HTTP: tensors as binary data after the JSON header (not JSON numbers); gRPC: always binary."""
    return {"binary_data": True} if protocol == "http" else {}


def infer_options(protocol: str, timeout_s: float) -> dict[str, Any]:
    """gRPC takes the deadline per call; HTTP's is the client's network_timeout, set in connect()."""
    return {"client_timeout": timeout_s} if protocol == "grpc" else {}


@dataclass
class Event:
    index: int
    arrays: dict[str, np.ndarray]

    @property
    def n_cells(self) -> int:
        return int(self.arrays["cell_positions"].shape[0])


@dataclass
class Physics:
    selected: int = 0
    found: int = 0
    tracks: int = 0
    fakes: int = 0
    duplicates: int = 0

    def add(self, o: Physics) -> None:
        for k in asdict(self):
            setattr(self, k, getattr(self, k) + getattr(o, k))

    @property
    def efficiency(self) -> float:
        return self.found / self.selected if self.selected else 0.0

    @property
    def fake_rate(self) -> float:
        return self.fakes / self.tracks if self.tracks else 0.0

    @property
    def duplicate_rate(self) -> float:
        return self.duplicates / self.tracks if self.tracks else 0.0


@dataclass
class Report:
    events: int
    concurrency: int
    seconds: float
    events_per_s: float
    request_bytes: float
    response_bytes: float
    latency_ms_p50: float
    latency_ms_p99: float
    physics: Physics = field(default_factory=Physics)


def read_event_dir(path: Path, limit: int | None) -> list[Event]:
    meta = json.loads((path / "meta.json").read_text())
    first, n = int(meta["first"]), int(meta["events"])
    if limit is not None:
        n = min(n, limit)
    return [
        Event(i, {a: np.load(path / f"event{i:09d}-{a}.npy") for a in ARRAYS})
        for i in range(first, first + n)
    ]


def read_event_stream(f: BinaryIO, limit: int | None) -> list[Event]:
    events: list[Event] = []
    while limit is None or len(events) < limit:
        try:
            first = read_npy(f)
        except EOFError:  # the stream ended between events
            break
        arrays = {ARRAYS[0]: first} | {a: read_npy(f) for a in ARRAYS[1:]}
        events.append(Event(len(events), arrays))
    return events


def read_npy(f: BinaryIO) -> np.ndarray:
    """One .npy array from a pipe (np.load needs a seekable file)."""
    if not f.peek(1) if hasattr(f, "peek") else False:
        raise EOFError
    version = np.lib.format.read_magic(f)
    read_header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran, dtype = read_header(f)
    if fortran:
        raise ValueError("Fortran-ordered arrays are not supported")
    count = int(np.prod(shape, dtype=np.int64))
    data = f.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError("truncated .npy array")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def pitch_table(meta_path: Path | None) -> dict[int, tuple[float, float]]:
    table = dict(DEFAULT_PITCH)
    if meta_path is not None and meta_path.exists():
        for layer in json.loads(meta_path.read_text())["layers"]:
            table[int(layer["volume"])] = (
                float(layer["pitch0"]),
                float(layer["pitch1"]),
            )
    return table


def split_tracks(geometry_ids: np.ndarray) -> np.ndarray:
    """Track index of every output row (-1 for the 0-separators between tracks)."""
    sep = geometry_ids == 0
    track = np.cumsum(sep)
    track[sep] = -1
    return track


def evaluate(
    ev: Event,
    outputs: dict[str, np.ndarray],
    pitch: dict[int, tuple[float, float]],
    pt_min: float = 1.0,
    min_hits: int = 5,
) -> Physics:
    """Scores one event's tracks against its truth (vectorised)."""
    gids = outputs["GEOMETRY_IDS"].astype(np.int64)
    meas = outputs["MEASUREMENTS"]
    n_tracks = int(outputs["TRK_PARAMS"].shape[0])
    pc = Physics(tracks=n_tracks)
    parts = ev.arrays["particles"]
    sel = (parts[:, P_PT] > pt_min) & (parts[:, P_NHITS] >= min_hits)
    pc.selected = int(sel.sum())
    if n_tracks == 0:
        return pc
    track = split_tracks(gids)
    rows = np.nonzero(track >= 0)[0]
    row_gid, row_track = gids[rows], track[rows]
    vol = (row_gid >> 56).astype(np.int64)
    p0 = np.array([pitch.get(int(v), (1.0, 1.0))[0] for v in range(256)])[vol]
    p1 = np.array([pitch.get(int(v), (1.0, 1.0))[1] for v in range(256)])[vol]

    hit_ids, hit_local = ev.arrays["hit_ids"], ev.arrays["hit_local"]
    order = np.argsort(hit_ids[:, 0], kind="stable")
    t_gid = hit_ids[order, 0]
    lo = np.searchsorted(t_gid, row_gid, "left")
    cnt = np.searchsorted(t_gid, row_gid, "right") - lo
    rep = np.repeat(np.arange(rows.size), cnt)
    starts = np.cumsum(cnt) - cnt
    cand = order[np.arange(cnt.sum()) - np.repeat(starts, cnt) + np.repeat(lo, cnt)]
    du = (hit_local[cand, 0] - meas[rows[rep], 0]) / p0[rep]
    dv = (hit_local[cand, 1] - meas[rows[rep], 1]) / p1[rep]
    d2 = du * du + dv * dv
    pid = np.full(rows.size, -1, dtype=np.int64)
    if cand.size:
        best = np.lexsort((d2, rep))
        first = best[np.r_[True, rep[best][1:] != rep[best][:-1]]]
        ok = d2[first] < 9.0
        pid[rep[first[ok]]] = hit_ids[cand[first[ok]], 1]

    # Majority particle of each track.
    n_rows = np.bincount(row_track, minlength=n_tracks)
    real = pid > 0
    keys, counts = np.unique(
        np.stack([row_track[real], pid[real]]), axis=1, return_counts=True
    )
    owner = np.zeros(n_tracks, dtype=np.int64)
    most = np.zeros(n_tracks, dtype=np.int64)
    for (t, p), c in zip(
        keys.T, counts, strict=True
    ):  # ties: the smaller particle id, as in C++
        if c > most[t] or (c == most[t] and p < owner[t]):
            most[t], owner[t] = c, p
    matched = (owner > 0) & (2 * most >= n_rows)
    pc.fakes = int(n_tracks - matched.sum())
    owners, per_particle = np.unique(owner[matched], return_counts=True)
    pc.duplicates = int((per_particle - 1).sum())
    pc.found = int(np.isin(parts[sel, P_ID].astype(np.int64), owners).sum())
    return pc


def make_inputs(ev: Event, protocol: str = "grpc") -> list[Any]:
    m, opts = client_module(protocol), tensor_options(protocol)
    pos = np.ascontiguousarray(ev.arrays["cell_positions"], dtype=np.int64)
    prop = np.ascontiguousarray(ev.arrays["cell_properties"], dtype=np.float32)
    a = m.InferInput("CELL_POSITIONS", list(pos.shape), "INT64")
    a.set_data_from_numpy(pos, **opts)
    b = m.InferInput("CELL_PROPERTIES", list(prop.shape), "FP32")
    b.set_data_from_numpy(prop, **opts)
    return [a, b]


def shm_inputs(
    url: str, events: list[Event], protocol: str = "grpc"
) -> tuple[list[list[Any]], Callable[[], None]]:
    """The events laid out once in one system shared-memory region (tritonclient's utilities),
    registered with the server: requests then name offsets instead of carrying the cells."""
    from tritonclient.utils import shared_memory as shm

    arrays = [
        (np.ascontiguousarray(ev.arrays["cell_positions"], dtype=np.int64),
         np.ascontiguousarray(ev.arrays["cell_properties"], dtype=np.float32))
        for ev in events
    ]  # fmt: skip
    spans, size = [], 0
    for pos, prop in arrays:
        spans.append((size, size + pos.nbytes))
        size += pos.nbytes + prop.nbytes
        size += -size % 64
    name = f"traccc-{os.getpid()}"
    handle = shm.create_shared_memory_region(name, f"/{name}", size)
    for (pos, prop), (a, b) in zip(arrays, spans, strict=True):
        shm.set_shared_memory_region(handle, [pos], offset=a)
        shm.set_shared_memory_region(handle, [prop], offset=b)
    m = client_module(protocol)
    control = connect(protocol, url)
    control.register_system_shared_memory(name, f"/{name}", size)
    inputs = []
    for (pos, prop), (a, b) in zip(arrays, spans, strict=True):
        i = m.InferInput("CELL_POSITIONS", list(pos.shape), "INT64")
        i.set_shared_memory(name, pos.nbytes, offset=a)
        j = m.InferInput("CELL_PROPERTIES", list(prop.shape), "FP32")
        j.set_shared_memory(name, prop.nbytes, offset=b)
        inputs.append([i, j])

    def cleanup() -> None:
        control.unregister_system_shared_memory(name)
        control.close()
        shm.destroy_shared_memory_region(handle)

    return inputs, cleanup


def cuda_shm_inputs(
    url: str, events: list[Event]
) -> tuple[list[list[grpcclient.InferInput]], Callable[[], None]]:
    """The events laid out once in GPU memory (cuda:0, a torch allocation) and registered as a
    CUDA shared-memory region by its IPC handle: the server's GPU model reads the cells there.
    torch stands in for tritonclient's cuda_shared_memory (which needs cuda-python). gRPC only."""
    import base64

    import torch

    arrays = [
        (np.ascontiguousarray(ev.arrays["cell_positions"], dtype=np.int64),
         np.ascontiguousarray(ev.arrays["cell_properties"], dtype=np.float32))
        for ev in events
    ]  # fmt: skip
    spans, size = [], 0
    for pos, prop in arrays:
        spans.append((size, size + pos.nbytes))
        size += pos.nbytes + prop.nbytes
        size += -size % 256
    region = torch.empty(size, dtype=torch.uint8, device="cuda:0")
    for (pos, prop), (a, b) in zip(arrays, spans, strict=True):
        region[a : a + pos.nbytes].copy_(torch.from_numpy(pos.view(np.uint8).reshape(-1)))
        region[b : b + prop.nbytes].copy_(torch.from_numpy(prop.view(np.uint8).reshape(-1)))
    torch.cuda.synchronize()
    shared = region.untyped_storage()._share_cuda_()
    handle, base = bytes(shared[1]), int(shared[3])
    # PyTorch puts a handle type (2.x) and a format version (2.11) before cudaIpcMemHandle_t.
    handle = handle[-64:]
    name = f"traccc-cuda-{os.getpid()}"
    control = grpcclient.InferenceServerClient(url)
    control.register_cuda_shared_memory(name, base64.b64encode(handle), 0, base + size)
    inputs = []
    for (pos, prop), (a, b) in zip(arrays, spans, strict=True):
        i = grpcclient.InferInput("CELL_POSITIONS", list(pos.shape), "INT64")
        i.set_shared_memory(name, pos.nbytes, offset=base + a)
        j = grpcclient.InferInput("CELL_PROPERTIES", list(prop.shape), "FP32")
        j.set_shared_memory(name, prop.nbytes, offset=base + b)
        inputs.append([i, j])

    def cleanup() -> None:
        control.unregister_cuda_shared_memory(name)
        control.close()

    cleanup.region = region  # type: ignore[attr-defined]  # kept alive while registered
    return inputs, cleanup


def run(
    url: str,
    model: str,
    events: list[Event],
    concurrency: int,
    repeat: int,
    pitch: dict[int, tuple[float, float]],
    timeout_s: float = 600.0,
    duration_s: float | None = None,
    shared_memory: str = "none",
    protocol: str = "grpc",
) -> tuple[Report, list[dict[str, np.ndarray]]]:
    """Sends every event `repeat` times (or round-robin for `duration_s` seconds) with
    `concurrency` requests in flight, one client (gRPC channel or HTTP connection) per worker
    thread; returns the report and the outputs of each event's first request.
    `shared_memory="system"` / `"cuda"`: the cells go through the system / CUDA shared-memory
    extension instead of the request (docs/SHARED_MEMORY.md); CUDA with gRPC only."""
    m = client_module(protocol)
    requested = [m.InferRequestedOutput(o, **tensor_options(protocol)) for o in OUTPUTS]
    call = infer_options(protocol, timeout_s)
    if shared_memory == "system":
        inputs, cleanup = shm_inputs(url, events, protocol)
    elif shared_memory == "cuda":
        if protocol != "grpc":
            raise ValueError("CUDA shared memory is gRPC only here: use --protocol grpc")
        inputs, cleanup = cuda_shm_inputs(url, events)
    elif shared_memory == "none":
        inputs, cleanup = [make_inputs(ev, protocol) for ev in events], (lambda: None)
    else:
        raise ValueError(f"shared_memory must be none, system or cuda, got {shared_memory!r}")
    total = None if duration_s else len(events) * repeat
    counter = itertools.count()
    outputs: list[dict[str, np.ndarray] | None] = [None] * len(events)
    latencies: list[float] = []
    errors: list[BaseException] = []
    deadline = [0.0]

    def worker() -> None:
        c = connect(protocol, url, timeout_s)  # in this thread (HTTP: its own gevent hub)
        try:
            while True:
                i = next(counter)
                if (total is not None and i >= total) or (
                    total is None and time.perf_counter() >= deadline[0]
                ):
                    return
                t0 = time.perf_counter()
                res = c.infer(model, inputs[i % len(events)], outputs=requested, **call)
                latencies.append(time.perf_counter() - t0)
                if i < len(events):
                    outputs[i] = {o: res.as_numpy(o) for o in OUTPUTS}
        except BaseException as e:  # noqa: BLE001 (reported after the join)
            errors.append(e)
        finally:
            c.close()

    warm = connect(protocol, url, timeout_s)
    warm.infer(model, inputs[0], outputs=requested, **call)
    warm.close()
    t0 = time.perf_counter()
    deadline[0] = t0 + (duration_s or 0.0)
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    cleanup()
    if errors:
        raise errors[0]
    lat_ms = np.array(latencies) * 1e3
    physics = Physics()
    for ev, out in zip(events, outputs, strict=True):
        if out is not None:
            physics.add(evaluate(ev, out, pitch))
    done = [o for o in outputs if o is not None]
    req = float(
        np.mean(
            [
                ev.arrays["cell_positions"].nbytes + ev.arrays["cell_properties"].nbytes
                for ev in events
            ]
        )
    )
    resp = float(np.mean([sum(v.nbytes for v in out.values()) for out in done]))
    report = Report(
        events=len(latencies),
        concurrency=concurrency,
        seconds=seconds,
        events_per_s=len(latencies) / seconds,
        request_bytes=req,
        response_bytes=resp,
        latency_ms_p50=float(np.percentile(lat_ms, 50)),
        latency_ms_p99=float(np.percentile(lat_ms, 99)),
        physics=physics,
    )
    return report, [o if o is not None else {} for o in outputs]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--url",
        default=None,
        help="the server's host:port (default localhost:8001 for gRPC, localhost:8000 for HTTP)",
    )
    ap.add_argument(
        "--protocol",
        default="grpc",
        choices=PROTOCOLS,
        help="gRPC (default) or HTTP with binary tensors (tritonclient.http)",
    )
    ap.add_argument("--model", default="traccc")
    ap.add_argument(
        "--events",
        required=True,
        help="event directory (traccc-gen --out), or - for a stream on stdin",
    )
    ap.add_argument(
        "--limit", type=int, default=None, help="use at most this many events"
    )
    ap.add_argument(
        "--concurrency", type=int, default=1, help="requests in flight (default 1)"
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="send each event this many times (throughput runs)",
    )
    ap.add_argument(
        "--duration",
        type=float,
        default=None,
        help="send events round-robin for this many seconds",
    )
    ap.add_argument(
        "--json", type=Path, default=None, help="write the report as JSON here"
    )
    ap.add_argument(
        "--shared-memory",
        default="none",
        choices=["none", "system"],
        help="send the cells through a system shared-memory region (same node only)",
    )
    args = ap.parse_args(argv)
    url = args.url if args.url is not None else DEFAULT_URL[args.protocol]

    if args.events == "-":
        events, meta = read_event_stream(sys.stdin.buffer, args.limit), None
    else:
        events, meta = (
            read_event_dir(Path(args.events), args.limit),
            Path(args.events) / "meta.json",
        )
    if not events:
        print("no events", file=sys.stderr)
        return 2
    report, _ = run(
        url,
        args.model,
        events,
        max(1, args.concurrency),
        max(1, args.repeat),
        pitch_table(meta),
        shared_memory=args.shared_memory,
        protocol=args.protocol,
    )
    p = report.physics
    print(
        f"{report.events} events at concurrency {report.concurrency}: {report.events_per_s:.2f} events/s, "
        f"latency p50 {report.latency_ms_p50:.1f} ms p99 {report.latency_ms_p99:.1f} ms, "
        f"request {report.request_bytes / 1e6:.2f} MB, response {report.response_bytes / 1e6:.3f} MB\n"
        f"efficiency {p.efficiency:.4f} ({p.found}/{p.selected}), fake rate {p.fake_rate:.4f} "
        f"({p.fakes}/{p.tracks}), duplicate rate {p.duplicate_rate:.4f}"
    )
    if args.json is not None:
        out = asdict(report)
        out["physics"].update(
            efficiency=p.efficiency,
            fake_rate=p.fake_rate,
            duplicate_rate=p.duplicate_rate,
        )
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
