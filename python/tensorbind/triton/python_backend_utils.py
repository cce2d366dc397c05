"""Triton's ``triton_python_backend_utils`` for models served by tensorbind.

A ``model.py`` written for Triton's Python backend does ``import triton_python_backend_utils as
pb_utils``; the worker that runs it registers this module under that name first, so the model
runs unchanged. Names, signatures and behaviour follow Triton's python_backend
(``src/resources/triton_python_backend_utils.py`` and ``pb_stub.cc``).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

TRITONSERVER_RESPONSE_COMPLETE_FINAL = 1
TRITONSERVER_REQUEST_FLAG_SEQUENCE_START = 1
TRITONSERVER_REQUEST_FLAG_SEQUENCE_END = 2
TRITONSERVER_REQUEST_RELEASE_ALL = 1
TRITONSERVER_REQUEST_RELEASE_RESCHEDULE = 2

_TYPE_TO_NUMPY: dict[str, Any] = {
    "TYPE_BOOL": np.bool_,
    "TYPE_UINT8": np.uint8,
    "TYPE_UINT16": np.uint16,
    "TYPE_UINT32": np.uint32,
    "TYPE_UINT64": np.uint64,
    "TYPE_INT8": np.int8,
    "TYPE_INT16": np.int16,
    "TYPE_INT32": np.int32,
    "TYPE_INT64": np.int64,
    "TYPE_FP16": np.float16,
    "TYPE_FP32": np.float32,
    "TYPE_FP64": np.float64,
    "TYPE_STRING": np.object_,
    "TYPE_BF16": np.uint16,
}

# Triton's TRITONSERVER_DataType numbering, for triton_to_numpy_type / numpy_to_triton_type.
_TRITON_CODES = {
    1: np.bool_, 2: np.uint8, 3: np.uint16, 4: np.uint32, 5: np.uint64, 6: np.int8, 7: np.int16,
    8: np.int32, 9: np.int64, 10: np.float16, 11: np.float32, 12: np.float64, 13: np.object_,
}  # fmt: skip


def triton_string_to_numpy(triton_type_string: str) -> Any:
    """``"TYPE_FP32"`` → ``numpy.float32`` (``TYPE_STRING`` → ``numpy.object_``)."""
    return _TYPE_TO_NUMPY[triton_type_string]


def triton_to_numpy_type(data_type: int) -> Any:
    return _TRITON_CODES[data_type]


def numpy_to_triton_type(data_type: Any) -> int | None:
    for code, t in _TRITON_CODES.items():
        if np.dtype(t) == np.dtype(data_type) or (t is np.object_ and data_type in (np.bytes_, np.str_)):
            return code
    return None


class TritonError(Exception):
    """An error a model puts in an ``InferenceResponse`` (or raises)."""

    UNKNOWN = 0
    INTERNAL = 1
    NOT_FOUND = 2
    INVALID_ARG = 3
    UNAVAILABLE = 4
    UNSUPPORTED = 5
    ALREADY_EXISTS = 6
    CANCELLED = 7

    def __init__(self, message: str, code: int = INTERNAL) -> None:
        super().__init__(message)
        self._message = message
        self._code = code

    def message(self) -> str:
        return self._message

    def code(self) -> int:
        return self._code


class TritonModelException(Exception):
    """What ``exec()`` raises when the called model fails (and what a model may raise itself)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self._message = message

    def message(self) -> str:
        return self._message


class Tensor:
    """A named tensor; the data is a NumPy array (a view of shared memory for inputs)."""

    def __init__(self, name: str, data: Any) -> None:
        if not isinstance(data, np.ndarray):
            # Triton requires NumPy arrays; torch tensors go through from_dlpack.
            raise TritonModelException(f"Tensor '{name}': expected a numpy array, got {type(data).__name__}")
        if data.dtype.kind in ("U", "S"):
            data = data.astype(np.object_)
        self._name = name
        self._data = data

    def name(self) -> str:
        return self._name

    def as_numpy(self) -> np.ndarray:
        return self._data

    def shape(self) -> list[int]:
        return list(self._data.shape)

    def is_cpu(self) -> bool:
        return True

    def to_dlpack(self) -> Any:
        if self._data.dtype == np.object_:
            raise TritonModelException(f"Tensor '{self._name}': BYTES tensors cannot be exported as DLPack")
        return self._data.__dlpack__()

    @staticmethod
    def from_dlpack(name: str, dlpack_tensor: Any) -> Tensor:
        if hasattr(dlpack_tensor, "__dlpack__"):  # a torch/cupy tensor rather than a capsule
            device = getattr(dlpack_tensor, "device", None)
            if device is not None and getattr(device, "type", "cpu") != "cpu":
                dlpack_tensor = dlpack_tensor.cpu()  # outputs come back through host shared memory
            return Tensor(name, np.from_dlpack(dlpack_tensor))
        import torch  # a bare capsule: let torch read it (NumPy takes only objects with __dlpack__)

        return Tensor(name, torch.utils.dlpack.from_dlpack(dlpack_tensor).cpu().numpy())


def _parameters_json(parameters: Mapping[str, Any] | str | None) -> str:
    """Parameters as the JSON text Triton's ``parameters()`` returns (no encoder call when empty)."""
    if isinstance(parameters, str):
        return parameters
    return json.dumps(dict(parameters)) if parameters else "{}"


class InferenceResponse:
    def __init__(
        self,
        output_tensors: Sequence[Tensor] | None = None,
        error: TritonError | str | None = None,
        parameters: Mapping[str, Any] | str | None = None,
    ) -> None:
        if isinstance(error, str):
            error = TritonError(error)
        self._tensors = list(output_tensors or [])
        self._error = error
        self._parameters = _parameters_json(parameters)

    def output_tensors(self) -> list[Tensor]:
        return self._tensors

    def has_error(self) -> bool:
        return self._error is not None

    def error(self) -> TritonError | None:
        return self._error

    def parameters(self) -> str:
        return self._parameters


# How InferenceRequest.exec()/async_exec() and the response sender reach the server; the
# worker installs them (BLS and decoupled models).
_bls_exec: Callable[[InferenceRequest], InferenceResponse] | None = None
_bls_async_exec: Callable[..., Any] | None = None
_bls_exec_stream: Callable[[InferenceRequest], Any] | None = None


class InferenceRequest:
    """A request: as ``execute()`` receives it, or built by a model to call another (BLS)."""

    def __init__(
        self,
        model_name: str = "",
        inputs: Sequence[Tensor] | None = None,
        requested_output_names: Sequence[str] | None = None,
        model_version: int = -1,
        flags: int = 0,
        correlation_id: int | str = 0,
        request_id: str = "",
        parameters: Mapping[str, Any] | str | None = None,
        timeout: int = 0,
        preferred_memory: Any = None,
        trace: Any = None,
    ) -> None:
        self._model_name = model_name
        self._inputs = list(inputs or [])
        self._requested = list(requested_output_names or [])
        self._model_version = model_version
        self._flags = flags
        self._correlation_id = correlation_id
        self._request_id = request_id
        self._parameters = _parameters_json(parameters)
        self._timeout = timeout
        self._sender: InferenceResponseSender | None = None

    def inputs(self) -> list[Tensor]:
        return self._inputs

    def model_name(self) -> str:
        return self._model_name

    def model_version(self) -> int:
        return self._model_version

    def request_id(self) -> str:
        return self._request_id

    def correlation_id(self) -> int | str:
        return self._correlation_id

    def flags(self) -> int:
        return self._flags

    def timeout(self) -> int:
        return self._timeout

    def parameters(self) -> str:
        return self._parameters

    def requested_output_names(self) -> list[str]:
        return self._requested

    def is_cancelled(self) -> bool:
        return self._sender.is_cancelled() if self._sender is not None else False

    def get_response_sender(self) -> InferenceResponseSender:
        if self._sender is None:
            raise TritonModelException(
                "get_response_sender() is only available to decoupled models "
                "(model_transaction_policy { decoupled: true })"
            )
        return self._sender

    def exec(self, decoupled: bool = False) -> Any:
        """Runs this request on another model of the server (BLS) and returns its response."""
        if _bls_exec is None:
            raise TritonModelException("InferenceRequest.exec() is not available in this worker")
        if decoupled and _bls_exec_stream is not None:  # an iterator of the called model's responses
            return _bls_exec_stream(self)
        return _bls_exec(self) if not decoupled else iter([_bls_exec(self)])

    async def async_exec(self, decoupled: bool = False) -> Any:
        if _bls_async_exec is None:
            raise TritonModelException("InferenceRequest.async_exec() is not available in this worker")
        if decoupled:
            return iter(await _bls_async_exec(self, decoupled=True))
        return await _bls_async_exec(self)


class InferenceResponseSender:
    """A decoupled model's way to answer a request with any number of responses, from any thread.

    Checks and messages are Triton's (``response_sender.cc``): flags are 0 or
    ``TRITONSERVER_RESPONSE_COMPLETE_FINAL``, flags 0 need a response, nothing goes after FINAL.
    """

    def __init__(self, outbox: Any, stream: int, requested: Sequence[str] = ()) -> None:
        self._outbox = outbox
        self._stream = stream
        self._requested = list(requested)
        self._closed = False
        self._lock = threading.Lock()

    def send(self, response: InferenceResponse | None = None, flags: int = 0) -> None:
        if flags not in (0, TRITONSERVER_RESPONSE_COMPLETE_FINAL):
            raise TritonModelException("Unable to send response. Unsupported flag provided.")
        if flags == 0 and response is None:
            raise TritonModelException(
                "Inference Response object must be provided when the response flags is set to zero."
            )
        with self._lock:
            if self._closed:
                raise TritonModelException("Unable to send response. Response sender has been closed.")
            if flags == TRITONSERVER_RESPONSE_COMPLETE_FINAL:
                self._closed = True
            self._outbox.submit(self._stream, response, flags, self._requested)

    def is_cancelled(self) -> bool:
        return self._stream in self._outbox.cancelled

    def _close(self) -> None:
        with self._lock:
            self._closed = True

    def __del__(self) -> None:
        # Dropped without FINAL, the request would stay open and its client wait forever (Triton's
        # behaviour); tensorbind ends it with an error response instead.
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):  # e.g. at interpreter exit
            error = TritonError(DROPPED_SENDER, TritonError.INTERNAL)
            self._outbox.defer(
                self._stream, InferenceResponse(error=error), TRITONSERVER_RESPONSE_COMPLETE_FINAL
            )


DROPPED_SENDER = "the model dropped the request's response sender without sending FINAL"


def using_decoupled_model_transaction_policy(model_config: Mapping[str, Any]) -> bool:
    """Whether the config says ``model_transaction_policy { decoupled: true }``."""
    return bool((model_config.get("model_transaction_policy") or {}).get("decoupled", False))


def get_input_tensor_by_name(request: InferenceRequest, name: str) -> Tensor | None:
    for t in request.inputs():
        if t.name() == name:
            return t
    return None


def get_output_tensor_by_name(response: InferenceResponse, name: str) -> Tensor | None:
    for t in response.output_tensors():
        if t.name() == name:
            return t
    return None


def get_input_config_by_name(model_config: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    for c in model_config.get("input", []):
        if c["name"] == name:
            return dict(c)
    return None


def get_output_config_by_name(model_config: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    for c in model_config.get("output", []):
        if c["name"] == name:
            return dict(c)
    return None


class ModelConfig:
    """What ``auto_complete_config`` receives: the config so far, and setters that complete it."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    def as_dict(self) -> dict[str, Any]:
        return self._config

    def set_max_batch_size(self, max_batch_size: int) -> None:
        self._config["max_batch_size"] = int(max_batch_size)

    def set_dynamic_batching(self) -> None:
        self._config.setdefault("dynamic_batching", {})

    def set_model_transaction_policy(self, policy: Mapping[str, Any]) -> None:
        self._config["model_transaction_policy"] = dict(policy)

    def _add(self, kind: str, spec: Mapping[str, Any]) -> None:
        for key in ("name", "data_type", "dims"):
            if key not in spec:
                raise TritonModelException(f"add_{kind}: '{key}' is missing in {dict(spec)}")
        items = self._config.setdefault(kind, [])
        for existing in items:
            if existing["name"] == spec["name"]:
                if existing.get("data_type") != spec["data_type"] or list(existing.get("dims", [])) != list(
                    spec["dims"]
                ):
                    raise TritonModelException(
                        f"add_{kind}: '{spec['name']}' is already in the config with another type or dims"
                    )
                return
        items.append({**spec, "dims": list(spec["dims"])})

    def add_input(self, input: Mapping[str, Any]) -> None:
        self._add("input", input)

    def add_output(self, output: Mapping[str, Any]) -> None:
        self._add("output", output)
