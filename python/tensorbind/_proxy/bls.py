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
        from tensorbind.triton import python_backend_utils as pb

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
            }
        )
        while True:
            msg = self.sock.recv_json()
            if isinstance(msg, dict) and msg.get("type") == "bls_result" and msg.get("id") == rid:
                break
            if isinstance(msg, dict):
                self.worker.handle(msg)
        if not msg["ok"]:
            return pb.InferenceResponse(error=pb.TritonError(str(msg["error"])))
        self.worker.map_segments(msg.get("segments", []))
        arrays = decode_call(self.worker.inputs, msg["outputs"])
        return pb.InferenceResponse([pb.Tensor(name, value) for name, value in arrays.items()])

    async def async_exec(self, request: Any) -> Any:
        # One call at a time per worker: the worker process is single-threaded.
        return self.exec(request)

    def install(self) -> None:
        """Connects pb_utils.InferenceRequest.exec() to this worker, when a Triton model is loaded."""
        import sys

        pb = sys.modules.get("tensorbind.triton.python_backend_utils")
        if pb is not None:
            pb._bls_exec = self.exec  # type: ignore[attr-defined]
            pb._bls_async_exec = self.async_exec  # type: ignore[attr-defined]
