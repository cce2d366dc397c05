"""Runs a model of a Triton model repository in a tensorbind worker.

The server starts the worker with ``--module tensorbind.triton.runner --function execute`` and
describes the model in the ``TENSORBIND_TRITON`` environment variable (JSON: kind, model file,
config, repository, version, the GPU of each instance). Importing this module loads the model,
so a broken ``model.py`` fails the load with its traceback (file and line) rather than the
first request. ``execute`` takes the list of requests the server's batcher formed.
"""

from __future__ import annotations

import atexit
import copy
import inspect
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from tensorbind.batching import Request, batch_aware
from tensorbind.triton import python_backend_utils as pb_utils

_spec: dict[str, Any] = json.loads(os.environ["TENSORBIND_TRITON"])
_config: dict[str, Any] = _spec["config"]
_instance = int(os.environ.get("TENSORBIND_INSTANCE", "0"))
_gpus: list[int] = list(_spec.get("gpus") or [])
# A worker pinned to one GPU (CUDA_VISIBLE_DEVICES) sees it as device 0; Triton's
# model_instance_device_id still names the real index (TENSORBIND_GPU).
_pinned = os.environ.get("TENSORBIND_GPU")
_device_id = int(_pinned) if _pinned is not None else (_gpus[_instance] if _instance < len(_gpus) else -1)
_local_device = 0 if _pinned is not None else _device_id
_batching = int(_config.get("max_batch_size", 0)) > 0
_decoupled = bool((_config.get("model_transaction_policy") or {}).get("decoupled", False))


def _reshape(arr: np.ndarray, shape: list[int] | None, rows: int | None) -> np.ndarray:
    if shape is None:
        return arr
    return arr.reshape(([rows] if rows is not None else []) + [int(d) for d in shape])


def _rows(arrays: Mapping[str, np.ndarray]) -> int | None:
    if not _batching:
        return None
    for a in arrays.values():
        return int(a.shape[0])
    return 0


def _input_shapes() -> dict[str, list[int] | None]:
    return {c["name"]: (c.get("reshape") or {}).get("shape") for c in _config.get("input", [])}


def _output_dims() -> dict[str, list[int] | None]:
    # An output with `reshape` is produced in the reshape shape and answered in `dims`.
    return {c["name"]: (c["dims"] if "reshape" in c else None) for c in _config.get("output", [])}


_IN_SHAPES = _input_shapes()
_OUT_DIMS = _output_dims()


def _model_inputs(request: Request) -> dict[str, np.ndarray]:
    rows = _rows(request)
    return {k: _reshape(v, _IN_SHAPES.get(k), rows) for k, v in request.items()}


def _client_outputs(outputs: Mapping[str, np.ndarray], rows: int | None) -> dict[str, np.ndarray]:
    return {k: _reshape(v, _OUT_DIMS.get(k), rows) for k, v in outputs.items()}


class ModelSyntaxError(Exception):
    """model.py does not parse."""


class PythonBackendModel:
    """``model.py`` with ``class TritonPythonModel``: Triton's Python-backend contract."""

    def __init__(self) -> None:
        sys.modules.setdefault("triton_python_backend_utils", pb_utils)
        from tensorbind._proxy.loader import import_module

        try:
            module = import_module(_spec["modelFile"])
        except SyntaxError as exc:  # name the file by its full path, line and column
            raise ModelSyntaxError(f"{exc.filename}:{exc.lineno}:{exc.offset}: {exc.msg}") from None
        cls = getattr(module, "TritonPythonModel", None)
        if cls is None:
            raise AttributeError(f"{_spec['modelFile']} defines no class TritonPythonModel")
        args = {
            "model_config": json.dumps(_config),
            "model_instance_kind": "GPU" if _device_id >= 0 else "CPU",
            "model_instance_name": f"{_config['name']}_0_{_instance}",
            "model_instance_device_id": str(max(_device_id, 0)),
            "model_repository": _spec["repository"],
            "model_version": str(_spec["version"]),
            "model_name": _config["name"],
        }
        if hasattr(cls, "auto_complete_config"):
            completed = cls.auto_complete_config(pb_utils.ModelConfig(copy.deepcopy(_config)))
            if completed is not None:
                _config.update(completed.as_dict())
            _declare()
        self.model = cls()
        self.loop: Any = None
        if hasattr(self.model, "initialize"):
            self.model.initialize(args)
        if hasattr(self.model, "finalize"):
            atexit.register(self.model.finalize)

    def run(self, wrapped: list[Any]) -> Any:
        responses = self.model.execute(wrapped)
        if inspect.isawaitable(responses):  # `async def execute` (BLS with async_exec)
            if self.loop is None:
                import asyncio

                self.loop = asyncio.new_event_loop()
            responses = self.loop.run_until_complete(responses)
        return responses

    def execute(self, requests: list[Request]) -> list[Any]:
        wrapped = [
            pb_utils.InferenceRequest(
                model_name=_config["name"],
                # A decoupled model may read its inputs after execute() returned (from a thread),
                # when the server has reused their shared memory: it gets copies.
                inputs=[
                    pb_utils.Tensor(k, np.array(v) if _decoupled else v) for k, v in _model_inputs(r).items()
                ],
                requested_output_names=[c["name"] for c in _config.get("output", [])],
                parameters=dict(r.parameters),
            )
            for r in requests
        ]
        if _decoupled:
            return decoupled_execute(self, wrapped)
        responses = self.run(wrapped)
        if responses is None or len(responses) != len(requests):
            got = "None" if responses is None else f"{len(responses)} responses"
            raise pb_utils.TritonModelException(
                f"execute() must return one InferenceResponse per request: got {got} for {len(requests)}"
            )
        out: list[Any] = []
        for req, resp in zip(requests, responses):
            if resp.has_error():
                out.append(RuntimeError(resp.error().message()))  # type: ignore[union-attr]
            else:
                tensors = {t.name(): t.as_numpy() for t in resp.output_tensors()}
                out.append(_client_outputs(tensors, _rows(req)))
        return out


def decoupled_execute(model: PythonBackendModel, wrapped: list[Any]) -> list[None]:
    """Triton's decoupled mode: each request answers through its response sender, execute() returns None.

    When execute() raises (or returns something), every request gets the error as its final
    response, worded as Triton's, and its sender closes.
    """
    from tensorbind._proxy import responses

    streams = responses.current_streams() or []
    outbox = responses.OUTBOX
    if outbox is None or len(streams) != len(wrapped):
        raise pb_utils.TritonModelException("decoupled model: the server sent no response streams")
    senders = [
        pb_utils.InferenceResponseSender(outbox, sid, w.requested_output_names())
        for w, sid in zip(wrapped, streams)
    ]
    for w, sender in zip(wrapped, senders):
        w._sender = sender
    try:
        returned = model.run(wrapped)
        if returned is not None:
            raise pb_utils.TritonModelException(
                f"Python model '{_config['name']}' is using the decoupled mode "
                "and the execute function must return None."
            )
    except Exception as exc:
        for sender in senders:
            sender._close()
        message = exc.message() if isinstance(exc, pb_utils.TritonModelException) else str(exc)
        failure = pb_utils.TritonModelException(
            f"Failed to process the request(s) for model '{_config['name']}', message: {message}"
        )
        failure.verbatim = True  # type: ignore[attr-defined]
        raise failure from exc
    return [None] * len(wrapped)


def _split(outputs: Mapping[str, np.ndarray], sizes: list[int]) -> list[dict[str, np.ndarray]]:
    starts = np.cumsum([0, *sizes])
    return [{k: v[starts[i] : starts[i + 1]] for k, v in outputs.items()} for i in range(len(sizes))]


def _merge(requests: list[Request]) -> tuple[dict[str, np.ndarray], list[int]]:
    """The batch's requests as one array per input (Triton's framework backends run one batch)."""
    if len(requests) == 1:
        return _model_inputs(requests[0]), [_rows(requests[0]) or 0]
    parts = [_model_inputs(r) for r in requests]
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return merged, [_rows(r) or 0 for r in requests]


def _positional(names: list[str]) -> list[str]:
    """Orders names by Triton's `<name>__<index>` convention when every name follows it."""
    try:
        indexed = sorted((int(n.rsplit("__", 1)[1]), n) for n in names)
    except (IndexError, ValueError):
        return names
    return [n for _, n in indexed]


class TorchScriptModel:
    """``model.pt`` run with ``torch.jit.load`` (Triton's ``pytorch_libtorch`` platform)."""

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(f"cuda:{_local_device}" if _device_id >= 0 else "cpu")
        self.module = torch.jit.load(_spec["modelFile"], map_location=self.device)
        self.module.eval()
        self.inputs = _positional([c["name"] for c in _config.get("input", [])])
        self.outputs = _positional([c["name"] for c in _config.get("output", [])])

    def execute(self, requests: list[Request]) -> list[Any]:
        arrays, sizes = _merge(requests)
        torch = self.torch
        with torch.inference_mode():
            args = [torch.from_numpy(np.array(arrays[n])).to(self.device) for n in self.inputs]
            result = self.module(*args)
        if isinstance(result, torch.Tensor):
            result = (result,)
        elif isinstance(result, dict):
            result = tuple(result[n] for n in self.outputs)
        if len(result) < len(self.outputs):
            raise pb_utils.TritonModelException(
                f"the TorchScript model returned {len(result)} outputs; "
                f"the config declares {len(self.outputs)}"
            )
        outputs = {n: result[i].detach().cpu().numpy() for i, n in enumerate(self.outputs)}
        return self._answer(outputs, requests, sizes)

    @staticmethod
    def _answer(outputs: dict[str, np.ndarray], requests: list[Request], sizes: list[int]) -> list[Any]:
        if not _batching:
            return [_client_outputs(outputs, None)]
        return [_client_outputs(o, _rows(r)) for o, r in zip(_split(outputs, sizes), requests)]


class OnnxModel:
    """``model.onnx`` through onnxruntime (Triton's ``onnxruntime_onnx`` platform)."""

    def __init__(self) -> None:
        import onnxruntime as ort

        providers: list[Any] = ["CPUExecutionProvider"]
        if _device_id >= 0:
            providers = [("CUDAExecutionProvider", {"device_id": _local_device}), "CPUExecutionProvider"]
        self.session = ort.InferenceSession(_spec["modelFile"], providers=providers)
        self.outputs = [c["name"] for c in _config.get("output", [])] or [
            o.name for o in self.session.get_outputs()
        ]

    def execute(self, requests: list[Request]) -> list[Any]:
        arrays, sizes = _merge(requests)
        values = self.session.run(self.outputs, {k: np.ascontiguousarray(v) for k, v in arrays.items()})
        return TorchScriptModel._answer(dict(zip(self.outputs, values)), requests, sizes)


def _declare() -> None:
    """Declares the config's tensors to the server (what auto_complete_config completed)."""
    from tensorbind.decorators import MODEL_ATTRIBUTE, ModelInfo, TensorSpec

    def specs(kind: str) -> dict[str, TensorSpec] | None:
        out = {}
        for c in _config.get(kind, []):
            dt = str(c["data_type"]).removeprefix("TYPE_")
            dims = tuple(int(d) for d in c.get("dims", []))
            out[c["name"]] = TensorSpec(
                "BYTES" if dt == "STRING" else dt, dims, bool(c.get("optional", False))
            )
        return out or None

    info = ModelInfo(
        inputs=specs("input"), outputs=specs("output"), max_batch_size=int(_config.get("max_batch_size", 0))
    )
    setattr(execute, MODEL_ATTRIBUTE, info)


_KINDS = {"python": PythonBackendModel, "pytorch": TorchScriptModel, "onnx": OnnxModel}


@batch_aware
def execute(requests: list[Request]) -> list[Any]:
    return _model.execute(requests)


_model = _KINDS[_spec["kind"]]()
