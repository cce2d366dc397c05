"""A model's calls to other models of the server (Triton's BLS ``InferenceRequest.exec()``).

The call's inputs are written into the worker's output arena and its outputs come back in the
server's input arena, as for a batch: only their locations travel over the worker's data socket.
The worker is inside a call of its own, so it waits for the answer right here, handling the
server's other messages (slot releases, segment confirmations) as they come.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tensorbind._proxy.codec import decode_call, encode_outputs

if TYPE_CHECKING:
    import zmq

    from tensorbind._proxy.data_socket import DataSocket
    from tensorbind._proxy.main import Worker


class BlsClient:
    def __init__(self, worker: Worker, sock: zmq.Socket[Any] | DataSocket) -> None:
        self.worker = worker
        self.sock = sock
        self.next_id = 0

    def exec(self, request: Any) -> Any:
        return self._response(self._wait(self._send(request, decoupled=False)))

    def exec_stream(self, request: Any) -> Any:
        """``exec(decoupled=True)``: the responses as the called model sends them, the last final."""
        return ResponseIterator(self, self._send(request, decoupled=True))

    def _send(self, request: Any, *, decoupled: bool) -> int:
        self.next_id += 1
        rid = self.next_id
        inputs = {t.name(): t.as_numpy() for t in request.inputs()}
        location = encode_outputs(inputs, None, None, self.worker.outputs)
        segments = self.worker.outputs.announce
        self.worker.outputs.announce = []
        version = request.model_version()
        parameters = json.loads(request.parameters() or "{}")
        self.sock.send_json(
            {
                "type": "bls",
                "id": rid,
                "model": request.model_name(),
                "version": str(version) if isinstance(version, int) and version > 0 else "",
                "requested": list(request.requested_output_names()),
                "parameters": parameters,
                "inputs": location,
                "segments": segments,
                **({"decoupled": True} if decoupled else {}),
            }
        )
        return rid

    def _wait(self, rid: int) -> dict[str, Any]:
        """The next answer to call `rid`, handling the server's other messages meanwhile."""
        while True:
            msg = self.sock.recv_json()
            if isinstance(msg, dict) and msg.get("type") == "bls_result" and msg.get("id") == rid:
                return msg
            if isinstance(msg, dict):
                self.worker.handle(msg)

    def _response(self, msg: dict[str, Any]) -> Any:
        from tensorbind.triton import python_backend_utils as pb

        if not msg["ok"]:
            return pb.InferenceResponse(error=pb.TritonError(str(msg["error"])))
        self.worker.map_segments(msg.get("segments", []))
        arrays = decode_call(self.worker.inputs, msg["outputs"])
        return pb.InferenceResponse([pb.Tensor(name, value) for name, value in arrays.items()])

    async def async_exec(self, request: Any, decoupled: bool = False) -> Any:
        # One call at a time per worker: the worker process is single-threaded.
        return list(self.exec_stream(request)) if decoupled else self.exec(request)

    def install(self) -> None:
        """Connects pb_utils.InferenceRequest.exec() to this worker, when a Triton model is loaded."""
        import sys

        pb = sys.modules.get("tensorbind.triton.python_backend_utils")
        if pb is not None:
            pb._bls_exec = self.exec  # type: ignore[attr-defined]
            pb._bls_async_exec = self.async_exec  # type: ignore[attr-defined]
            pb._bls_exec_stream = self.exec_stream  # type: ignore[attr-defined]


class ResponseIterator:
    """Triton's BLS response iterator: each response of the called model, until its final one
    (which may be empty: the final flag alone). ``cancel()`` stops reading; later responses are
    dropped when they come."""

    def __init__(self, client: BlsClient, rid: int) -> None:
        self.client = client
        self.rid = rid
        self.done = False

    def __iter__(self) -> ResponseIterator:
        return self

    def __next__(self) -> Any:
        if self.done:
            raise StopIteration
        msg = self.client._wait(self.rid)
        self.done = bool(msg.get("final", True))
        return self.client._response(msg)

    def cancel(self) -> None:
        self.done = True
