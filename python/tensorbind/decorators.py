"""The decorators and specs a model author writes (the only public Python API)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar, Union

DATATYPES: frozenset[str] = frozenset(
    {
        "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
        "FP16", "BF16", "FP32", "FP64", "BYTES",
    }
)  # fmt: skip

MODEL_ATTRIBUTE = "__tensorbind_model__"

_NUMPY_KINDS: dict[tuple[str, int], str] = {
    ("b", 1): "BOOL", ("u", 1): "UINT8", ("u", 2): "UINT16", ("u", 4): "UINT32", ("u", 8): "UINT64",
    ("i", 1): "INT8", ("i", 2): "INT16", ("i", 4): "INT32", ("i", 8): "INT64",
    ("f", 2): "FP16", ("f", 4): "FP32", ("f", 8): "FP64",
}  # fmt: skip


def datatype_name(datatype: Any) -> Any:
    """A KServe datatype name for ``"FP32"`` or, as PyTriton takes them, NumPy dtypes (``np.float32``,
    ``np.dtype("int64")``, ``bytes``/``np.bytes_``/``object`` for BYTES); anything else unchanged."""
    if isinstance(datatype, str) and datatype in DATATYPES:
        return datatype
    if datatype in (bytes, str, object):
        return "BYTES"
    import numpy as np  # only for NumPy-style specs

    try:
        dt = np.dtype(datatype)
    except TypeError:
        return datatype
    if dt.kind in ("O", "S", "U"):
        return "BYTES"
    if dt.name == "bfloat16":  # ml_dtypes
        return "BF16"
    return _NUMPY_KINDS.get((dt.kind, dt.itemsize), datatype)


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: a KServe datatype and a shape (-1 is "any"; no batch dimension when batching)."""

    datatype: str
    shape: tuple[int, ...]
    optional: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "datatype", datatype_name(self.datatype))
        if self.datatype not in DATATYPES:
            raise ValueError(f"unknown datatype {self.datatype!r}; use one of {sorted(DATATYPES)}")
        for d in self.shape:
            if not isinstance(d, int) or isinstance(d, bool) or d < -1:
                raise ValueError(f"invalid dimension {d!r} in shape {list(self.shape)}")

    def to_json(self) -> dict[str, Any]:
        return {"datatype": self.datatype, "shape": list(self.shape), "optional": self.optional}


def tensor(datatype: str | Any, shape: Sequence[int], *, optional: bool = False) -> TensorSpec:
    """Declares an input or output, e.g. ``tensor("FP32", [-1, 3])`` or ``tensor(np.float32, [-1, 3])``."""
    return TensorSpec(datatype, tuple(shape), optional)


SpecLike = Union[TensorSpec, tuple[Any, Sequence[int]]]


class TimeoutAction(str, Enum):
    """What a queue timeout does (Triton's ModelQueuePolicy.TimeoutAction)."""

    REJECT = "REJECT"
    DELAY = "DELAY"


@dataclass(frozen=True)
class QueuePolicy:
    """A queue policy, with PyTriton's (and Triton's) field names; times in microseconds."""

    timeout_action: TimeoutAction | str = TimeoutAction.REJECT
    default_timeout_microseconds: int = 0
    allow_timeout_override: bool = True
    max_queue_size: int = 0

    def to_json(self) -> dict[str, Any]:
        action = TimeoutAction(str(getattr(self.timeout_action, "value", self.timeout_action)).upper())
        return {
            "timeoutAction": action.value.lower(),
            "timeoutUs": self.default_timeout_microseconds,
            "allowTimeoutOverride": self.allow_timeout_override,
            "maxSize": self.max_queue_size,
        }


@dataclass(frozen=True)
class DynamicBatcher:
    """Dynamic batching and queue settings, with PyTriton's (and Triton's) field names.

    Example: ``@tensorbind.model(..., max_batch_size=64, batcher=tensorbind.DynamicBatcher(
    max_queue_delay_microseconds=2000, preferred_batch_size=[16, 32]))``.
    """

    max_queue_delay_microseconds: int = 0
    preferred_batch_size: Sequence[int] | None = None
    preserve_ordering: bool = False
    priority_levels: int = 0
    default_priority_level: int = 0
    default_queue_policy: QueuePolicy | None = None
    priority_queue_policy: Mapping[int, QueuePolicy] | None = None

    def to_json(self) -> dict[str, Any]:
        batching: dict[str, Any] = {
            "maxQueueDelayUs": self.max_queue_delay_microseconds,
            "preserveOrdering": self.preserve_ordering,
        }
        if self.preferred_batch_size:
            batching["preferredBatchSizes"] = [int(s) for s in self.preferred_batch_size]
        queue: dict[str, Any] = dict(self.default_queue_policy.to_json()) if self.default_queue_policy else {}
        if self.priority_levels:
            queue["priorityLevels"] = self.priority_levels
            if self.default_priority_level:
                queue["defaultPriorityLevel"] = self.default_priority_level
        if self.priority_queue_policy:
            queue["priorities"] = {str(k): v.to_json() for k, v in self.priority_queue_policy.items()}
        return {"batching": batching, **({"queue": queue} if queue else {})}


@dataclass(frozen=True)
class ModelInfo:
    """What ``@tensorbind.model`` records on a function."""

    inputs: dict[str, TensorSpec] | None = None
    outputs: dict[str, TensorSpec] | None = None
    max_batch_size: int | None = None
    name: str | None = None
    instances: int | None = None
    framework: str | None = None
    device: str | None = None
    # With gpus, ``instances`` workers on each listed GPU (Triton's instance_group)
    gpus: tuple[int, ...] | None = None
    # False: no dynamic batching even for a batched function (see ``model``)
    batcher: DynamicBatcher | bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.inputs is not None:
            out["inputs"] = {k: v.to_json() for k, v in self.inputs.items()}
        if self.outputs is not None:
            out["outputs"] = {k: v.to_json() for k, v in self.outputs.items()}
        if self.max_batch_size is not None:
            out["maxBatchSize"] = self.max_batch_size
        if self.name is not None:
            out["name"] = self.name
        if isinstance(self.batcher, DynamicBatcher):
            out.update(self.batcher.to_json())
        elif self.batcher is False:
            out["batching"] = False
        return out

    def serving(self) -> dict[str, Any]:
        """How ``tensorbind serve model.py`` runs the function (``bind()`` in TypeScript ignores these)."""
        return {
            "instances": self.instances,
            "framework": self.framework,
            "device": self.device,
            "gpus": list(self.gpus) if self.gpus is not None else None,
        }


def _specs(kind: str, specs: Mapping[str, SpecLike] | None) -> dict[str, TensorSpec] | None:
    if specs is None:
        return None
    if not isinstance(specs, Mapping) or not specs:
        raise ValueError(f"{kind}s must be a non-empty dict of name -> tensor(datatype, shape)")
    out: dict[str, TensorSpec] = {}
    for name, spec in specs.items():
        if isinstance(spec, TensorSpec):
            out[name] = spec
        elif isinstance(spec, tuple) and len(spec) == 2:  # ("FP32", [-1]) or (np.float32, [-1])
            out[name] = tensor(spec[0], spec[1])
        else:
            raise ValueError(f"{kind} {name!r} must be tensorbind.tensor(datatype, shape), got {spec!r}")
    return out


F = TypeVar("F", bound=Callable[..., Any])


def model(
    *,
    inputs: Mapping[str, SpecLike] | None = None,
    outputs: Mapping[str, SpecLike] | None = None,
    max_batch_size: int | None = None,
    name: str | None = None,
    instances: int | None = None,
    framework: str | None = None,
    device: str | None = None,
    batcher: DynamicBatcher | bool | None = None,
    gpus: Sequence[int] | None = None,
) -> Callable[[F], F]:
    """Declares a function's inputs, outputs and batching, so ``bind()`` may leave them out.

    The function receives its inputs as keyword arguments (read-only NumPy arrays, or torch
    tensors with ``framework="torch"``) and returns a dict of outputs. ``async def`` works too.
    With ``max_batch_size > 0`` the arrays carry the batch as their first dimension.

    ``name`` (default: the function's name), ``instances``, ``framework`` ("numpy" or "torch")
    and ``device`` ("cpu", "cuda:0") say how ``tensorbind serve model.py`` serves the function;
    ``gpus=[0, 1]`` starts ``instances`` workers on each listed GPU, each pinned to its GPU
    (Triton's instance_group); a TypeScript ``bind()`` takes them from its own ``python()``
    options instead.

    ``batcher`` turns on dynamic batching (``True``, or a :class:`DynamicBatcher` with delays,
    preferred sizes and queue policies); ``bind()``'s ``batching`` and ``queue`` options win.
    As in PyTriton, a function that takes whole batches (:func:`tensorbind.batch`) with
    ``max_batch_size > 0`` gets dynamic batching by default; ``batcher=False`` turns it off.
    To receive whole batches, the function also needs :func:`tensorbind.batch` (or another
    decorator that takes a list of requests); without one it is called once per request.
    """
    if max_batch_size is not None and (not isinstance(max_batch_size, int) or max_batch_size < 0):
        raise ValueError(f"max_batch_size must be a non-negative integer, got {max_batch_size!r}")
    if name is not None and (not isinstance(name, str) or not name or "/" in name):
        raise ValueError(f"name must be a non-empty string without '/', got {name!r}")
    if instances is not None and (type(instances) is not int or instances < 1):
        raise ValueError(f"instances must be a positive integer, got {instances!r}")
    if framework not in (None, "numpy", "torch"):
        raise ValueError(f"framework must be 'numpy' or 'torch', got {framework!r}")
    if device is not None and device != "cpu" and framework != "torch":
        raise ValueError(
            f"device={device!r} needs framework='torch' (only PyTorch models run on a GPU): "
            f"@tensorbind.model(..., framework='torch', device={device!r})"
        )
    if gpus is not None and (
        isinstance(gpus, (str, bytes))
        or len(gpus) == 0
        or any(type(g) is not int or g < 0 for g in gpus)
        or len(set(gpus)) != len(gpus)
    ):
        raise ValueError(f"gpus must be a non-empty list of distinct CUDA device indices, got {gpus!r}")
    if gpus is not None and device is not None and device.startswith("cuda:"):
        raise ValueError("give the GPUs in gpus= or in device=, not both")
    if batcher is not None and not isinstance(batcher, (bool, DynamicBatcher)):
        raise ValueError(f"batcher must be True or tensorbind.DynamicBatcher(...), got {batcher!r}")
    resolved = DynamicBatcher() if batcher is True else batcher
    info = ModelInfo(
        _specs("input", inputs),
        _specs("output", outputs),
        max_batch_size,
        name,
        instances,
        framework,
        device,
        tuple(gpus) if gpus is not None else None,
        resolved,
    )

    def decorate(fn: F) -> F:
        setattr(fn, MODEL_ATTRIBUTE, info)
        return fn

    return decorate


def model_info(fn: object) -> ModelInfo | None:
    info = getattr(fn, MODEL_ATTRIBUTE, None)
    return info if isinstance(info, ModelInfo) else None


# The batch-aware decorators live in tensorbind.batching; import them from here as from PyTriton's decorators.
from tensorbind.batching import (  # noqa: E402
    ConstantPadder,
    Request,
    batch,
    batch_aware,
    fill_optionals,
    first_value,
    group_by_keys,
    group_by_values,
    pad_batch,
    sample,
)

__all__ = [
    "DATATYPES",
    "ConstantPadder",
    "DynamicBatcher",
    "ModelInfo",
    "QueuePolicy",
    "Request",
    "TensorSpec",
    "TimeoutAction",
    "batch",
    "batch_aware",
    "fill_optionals",
    "first_value",
    "group_by_keys",
    "group_by_values",
    "model",
    "model_info",
    "pad_batch",
    "sample",
    "tensor",
]
