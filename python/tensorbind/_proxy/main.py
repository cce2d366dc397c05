"""The worker's main loop: handshake, then one batch (a list of calls) at a time."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import inspect
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq

if TYPE_CHECKING:
    import asyncio

from tensorbind._proxy import arena, client_regions, context, listing, responses
from tensorbind._proxy.bls import BlsClient
from tensorbind._proxy.codec import decode_call, encode_outputs
from tensorbind._proxy.data_socket import DataSocket, PeerClosed
from tensorbind._proxy.frameworks import Framework, make_framework
from tensorbind._proxy.lifecycle import die_with_parent, exit_on_sigterm, parent_gone
from tensorbind._proxy.loader import load_function
from tensorbind.batching import make_requests, takes_requests
from tensorbind.decorators import ModelInfo
from tensorbind.errors import InvalidArgument

log = logging.getLogger("tensorbind.worker")

SHRINK_DELAY_MS = 2000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tensorbind.worker")
    p.add_argument("--list", metavar="MODULE", help="print the module's @tensorbind.model functions as JSON")
    p.add_argument("--module")
    p.add_argument("--function")
    p.add_argument("--endpoint")
    p.add_argument("--data-socket", help="the server's Unix socket for request messages (else ZeroMQ)")
    p.add_argument("--framework", default="numpy")
    p.add_argument("--device", default="cpu")
    p.add_argument("--parent-pid", type=int, default=0)
    p.add_argument("--shm-prefix", default="/tb-", help="name prefix of the output segments (the server's)")
    p.add_argument("--shm-limit", type=float, default=float("inf"), help="cap on the output arena, in bytes")
    args = p.parse_args(argv)
    if args.list is None and not (args.module and args.function and args.endpoint):
        p.error("--module, --function and --endpoint are required (or --list MODULE)")
    return args


def error_text(exc: BaseException) -> str:
    if getattr(exc, "verbatim", False):  # worded for the client already (Triton's messages)
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Worker:
    def __init__(
        self,
        fn: Callable[..., Any],
        info: ModelInfo | None,
        framework: Framework,
        outputs: arena.OutputArena | None = None,
    ) -> None:
        self.fn = fn
        self.info = info
        self.framework = framework
        # A function of a list of requests (tensorbind.batch and friends) gets whole batches.
        self.takes_requests = takes_requests(fn)
        self.inputs = arena.Segments()  # id -> mmap of the server's; name -> another worker's
        self.outputs = outputs or arena.OutputArena()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.outbox: responses.ResponseOutbox | None = None  # a decoupled model's responses
        if info is not None:  # until the server sends the final config
            context.set_current(
                context.ModelConfig(
                    name=info.name or "",
                    max_batch_size=info.max_batch_size or 0,
                    inputs={k: (v.datatype, v.shape) for k, v in (info.inputs or {}).items()},
                    outputs={k: (v.datatype, v.shape) for k, v in (info.outputs or {}).items()},
                )
            )

    def declaration(self) -> dict[str, Any] | None:
        declared = self.info.to_json() if self.info else None
        if not self.takes_requests:
            return declared
        return {**(declared or {}), "takesRequests": True}

    def resolve(self, result: Any) -> Any:
        if inspect.isawaitable(result):
            if self.loop is None:
                import asyncio  # ~60 ms of start-up that only async functions need

                self.loop = asyncio.new_event_loop()
            result = self.loop.run_until_complete(result)
        return result

    def call(self, inputs: dict[str, Any]) -> Any:
        return self.resolve(self.fn(**self.framework.inputs(inputs)))

    def outputs_of(self, outputs: Any) -> Any:
        if isinstance(outputs, dict):
            return {k: self.framework.output(v) for k, v in outputs.items()}
        return outputs

    def call_requests(self, arrays: dict[str, Any], call: dict[str, Any]) -> list[Any]:
        """Calls a function of requests with the call's requests (views of its merged inputs)."""
        requests = make_requests(self.framework.inputs(arrays), call.get("splits"), call.get("parameters"))
        results = self.resolve(self.fn(requests))
        if not isinstance(results, (list, tuple)) or len(results) != len(requests):
            got = f"{len(results)} results" if isinstance(results, (list, tuple)) else type(results).__name__
            raise TypeError(
                f"a function of requests must return one dict of outputs per request: "
                f"got {got} for {len(requests)} requests"
            )
        return list(results)

    def call_requests_streamed(self, arrays: dict[str, Any], call: dict[str, Any]) -> list[Any]:
        """call_requests, with the stream id of each request where the model is decoupled."""
        if self.outbox is None or not call.get("streams"):
            return self.call_requests(arrays, call)
        self.outbox.active = True
        self.outbox.streams = [int(s) for s in call["streams"]]
        try:
            return self.call_requests(arrays, call)
        finally:
            self.outbox.streams = None

    def map_segments(self, segments: list[dict[str, Any]]) -> None:
        for s in segments:
            # FileNotFoundError: dropped by the server meanwhile, so no call refers to it
            with contextlib.suppress(FileNotFoundError):
                self.inputs[int(s["id"])] = arena.open_segment(str(s["name"]))

    def unmap_segments(self, keys: list[int | str]) -> None:
        for k in keys:
            m = self.inputs.pop(k if isinstance(k, str) else int(k), None)
            if m is not None:
                with contextlib.suppress(BufferError):  # the user kept a view: unmapped at exit
                    m.close()

    def run_call(self, call: dict[str, Any]) -> dict[str, Any]:
        arrays = decode_call(self.inputs, call["inputs"], writable=self.framework.writable_inputs)
        if call.get("external"):
            fw = self.framework
            arrays.update(client_regions.map_inputs(call["external"], fw.writable_inputs, fw.open_cuda))
        try:
            specs = self.info.outputs if self.info else None
            requested = call.get("requested") or None
            if self.takes_requests:
                results = self.call_requests_streamed(arrays, call)
                # Each request's outputs are written into the arena on their own: the one copy.
                parts: list[dict[str, Any]] = []
                try:
                    for r in results:
                        if isinstance(r, Exception):  # this request failed; the others are answered
                            parts.append({"error": error_text(r)})
                            continue
                        if r is None and call.get("streams"):  # answered through its response sender
                            parts.append({"slot": None, "outputs": []})
                            continue
                        parts.append(encode_outputs(self.outputs_of(r), requested, specs, self.outputs))
                except BaseException:
                    for p in parts:  # the server never sees these slots: free them here
                        if p.get("slot") is not None:
                            self.outputs.free(*p["slot"])
                    raise
                return {"ok": True, "parts": parts}
            outputs = self.outputs_of(self.call(arrays))
            outputs, in_region = client_regions.write_outputs(outputs, call.get("outputRegions"), specs)
            if in_region and requested:
                requested = [n for n in requested if n not in in_region]
            loc = encode_outputs(outputs, requested, specs, self.outputs)
            return {"ok": True, **loc, **({"inRegion": in_region} if in_region else {})}
        except arena.SharedMemoryExhausted as exc:  # this call fails; the worker goes on
            log.warning("%s", exc)
            return {"ok": False, "error": str(exc), "exhausted": True}
        except InvalidArgument as exc:  # the client's mistake: no traceback in the server log
            log.info("request refused by the model function: %s", error_text(exc))
            return {"ok": False, "error": error_text(exc), "invalid": True}
        except Exception as exc:
            log.error("model function failed:\n%s", traceback.format_exc().rstrip())
            return {"ok": False, "error": error_text(exc)}
        finally:
            # Drops this function's views of the input slot, which the next call reuses; a model
            # that keeps an input past the call (a global, a cache) must copy it (docs/PYTHON.md).
            del arrays

    def handle(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        for seg, off in msg.get("release", []):
            self.outputs.free(int(seg), int(off))
        kind = msg.get("type")
        if kind == "infer":
            self.map_segments(msg.get("segments", []))
            results = [self.run_call(c) for c in msg["calls"]]
            segments = self.outputs.announce
            self.outputs.announce = []
            return {"type": "result", "id": msg["id"], "segments": segments, "results": results}
        if kind == "unmap":  # the server dropped these segments of its arena
            self.unmap_segments(msg.get("segments", []))
        elif kind == "unmap_shared":  # other workers' output segments, dropped by their workers
            self.unmap_segments(msg.get("names", []))
        elif kind == "mapped":  # the server mapped our new segments (it unlinks them when dropped)
            self.outputs.unconfirmed.difference_update(msg.get("names", []))
        elif kind == "cancel" and self.outbox is not None:  # clients gone: is_cancelled() says so
            self.outbox.cancelled.update(int(s) for s in msg.get("streams", []))
        elif kind == "forget":  # the server unmapped these clients' regions
            client_regions.forget(msg.get("keys", []))
        elif kind == "configure":  # the model's final config, for the batching decorators
            context.set_current(context.ModelConfig.from_json(msg))
        return None

    def close(self) -> None:
        self.outputs.close()
        self.unmap_segments(list(self.inputs))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.list is not None:
        listing.main(args.list)
        return
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    exit_on_sigterm()
    server_prefix = arena.server_prefix(args.parent_pid)
    if args.parent_pid:
        # A dead server cannot unlink its arenas: its workers do, on their way out.
        die_with_parent(args.parent_pid, lambda: arena.sweep(server_prefix))
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PAIR)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.connect(args.endpoint)
    try:
        framework = make_framework(args.framework, args.device)
        fn, info = load_function(args.module, args.function)
        # Request messages take the data socket when the server offers one; ZeroMQ keeps the
        # start-up (hello, fatal). Connected before hello: the server waits for both.
        data: Any = DataSocket(args.data_socket) if args.data_socket else sock
    except BaseException as exc:
        sock.send_json({"type": "fatal", "error": error_text(exc), "traceback": traceback.format_exc()})
        sock.close()
        sys.exit(1)
    worker = Worker(fn, info, framework, arena.OutputArena(args.shm_prefix, args.shm_limit))
    BlsClient(worker, data).install()
    worker.outbox = responses.ResponseOutbox(worker, data)
    responses.install(worker.outbox)

    close = worker.close
    atexit.register(close)
    declaration = worker.declaration()
    sock.send_json(
        {"type": "hello", "pid": os.getpid(), "declaration": declaration, "python": sys.version.split()[0]}
    )
    try:
        while True:
            # Idle for SHRINK_DELAY with empty output segments: drop them (the arena shrinks).
            if worker.outbox.active:  # a decoupled model: other threads' responses go out meanwhile
                if not worker.outbox.wait(SHRINK_DELAY_MS if worker.outputs.droppable() else None):
                    if worker.outputs.droppable():
                        data.send_json({"type": "dropped", "segments": worker.outputs.drop_empty()})
                    continue
            elif worker.outputs.droppable() and not data.poll(SHRINK_DELAY_MS):
                data.send_json({"type": "dropped", "segments": worker.outputs.drop_empty()})
                continue
            msg = data.recv_json()
            if not isinstance(msg, dict) or msg.get("type") == "stop":
                break
            reply = worker.handle(msg)
            if reply is not None:
                worker.outbox.flush()  # a decoupled model's responses before its call's result
                data.send_json(reply)
    except PeerClosed:  # the server is gone or stopping: nothing more will come
        # Killed, it closed this socket before the parent-death signal came: sweep for it here.
        if args.parent_pid and parent_gone(args.parent_pid):
            arena.sweep(server_prefix)
    finally:
        close()
        if data is not sock:
            data.close()
        sock.close(linger=0)
