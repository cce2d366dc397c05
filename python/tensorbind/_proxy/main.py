"""The worker's main loop: handshake, then one batch (a list of calls) at a time."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import inspect
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import zmq

from tensorbind._proxy import arena, listing
from tensorbind._proxy.codec import Segment, decode_call, encode_outputs
from tensorbind._proxy.frameworks import Framework, make_framework
from tensorbind._proxy.lifecycle import die_with_parent, exit_on_sigterm
from tensorbind._proxy.loader import load_function
from tensorbind.decorators import ModelInfo

log = logging.getLogger("tensorbind.worker")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tensorbind.worker")
    p.add_argument("--list", metavar="MODULE", help="print the module's @tensorbind.model functions as JSON")
    p.add_argument("--module")
    p.add_argument("--function")
    p.add_argument("--endpoint")
    p.add_argument("--framework", default="numpy")
    p.add_argument("--device", default="cpu")
    p.add_argument("--parent-pid", type=int, default=0)
    args = p.parse_args(argv)
    if args.list is None and not (args.module and args.function and args.endpoint):
        p.error("--module, --function and --endpoint are required (or --list MODULE)")
    return args


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Worker:
    def __init__(self, fn: Callable[..., Any], info: ModelInfo | None, framework: Framework) -> None:
        self.fn = fn
        self.info = info
        self.framework = framework
        self.inputs: dict[int, Segment] = {}
        self.outputs = arena.OutputArena()
        self.loop: asyncio.AbstractEventLoop | None = None

    def call(self, inputs: dict[str, Any]) -> Any:
        result = self.fn(**self.framework.inputs(inputs))
        if inspect.isawaitable(result):
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
            result = self.loop.run_until_complete(result)
        return result

    def map_segments(self, segments: list[dict[str, Any]]) -> None:
        for s in segments:
            self.inputs[int(s["id"])] = Segment(arena.open_segment(str(s["name"])))
            arena.unlink(str(s["name"]))  # both sides have it mapped now

    def run_call(self, call: dict[str, Any]) -> dict[str, Any]:
        seg = self.inputs[int(call["segment"])]
        arrays = decode_call(
            seg, int(call["offset"]), int(call["length"]), writable=self.framework.writable_inputs
        )
        try:
            outputs = self.call(arrays)
            if isinstance(outputs, dict):
                outputs = {k: self.framework.output(v) for k, v in outputs.items()}
            specs = self.info.outputs if self.info else None
            loc = encode_outputs(outputs, call.get("requested") or None, specs, self.outputs)
            return {"ok": True, **loc}
        except Exception as exc:
            log.error("model function failed:\n%s", traceback.format_exc().rstrip())
            return {"ok": False, "error": error_text(exc)}
        finally:
            del arrays  # no view of the input slot outlives the call

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
        if kind == "mapped":  # the server mapped and unlinked our new segments
            self.outputs.unconfirmed.difference_update(msg.get("names", []))
        return None

    def close(self) -> None:
        self.outputs.close()
        for seg in self.inputs.values():
            seg.release()
        self.inputs.clear()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.list is not None:
        listing.main(args.list)
        return
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    exit_on_sigterm()
    if args.parent_pid:
        die_with_parent(args.parent_pid)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PAIR)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.connect(args.endpoint)
    try:
        framework = make_framework(args.framework, args.device)
        fn, info = load_function(args.module, args.function)
    except BaseException as exc:
        sock.send_json({"type": "fatal", "error": error_text(exc), "traceback": traceback.format_exc()})
        sock.close()
        sys.exit(1)
    worker = Worker(fn, info, framework)
    atexit.register(worker.close)
    declaration = info.to_json() if info else None
    sock.send_json(
        {"type": "hello", "pid": os.getpid(), "declaration": declaration, "python": sys.version.split()[0]}
    )
    try:
        while True:
            msg = sock.recv_json()
            if not isinstance(msg, dict) or msg.get("type") == "stop":
                break
            reply = worker.handle(msg)
            if reply is not None:
                sock.send_json(reply)
    finally:
        worker.close()
        sock.close(linger=0)
