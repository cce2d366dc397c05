"""The decorators and specs a model author writes (the only public Python API)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union

DATATYPES: frozenset[str] = frozenset(
    {
        "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
        "FP16", "BF16", "FP32", "FP64", "BYTES",
    }
)  # fmt: skip

MODEL_ATTRIBUTE = "__tensorbind_model__"


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: a KServe datatype and a shape (-1 is "any"; no batch dimension when batching)."""

    datatype: str
    shape: tuple[int, ...]
    optional: bool = False

    def __post_init__(self) -> None:
        if self.datatype not in DATATYPES:
            raise ValueError(f"unknown datatype {self.datatype!r}; use one of {sorted(DATATYPES)}")
        for d in self.shape:
            if not isinstance(d, int) or isinstance(d, bool) or d < -1:
                raise ValueError(f"invalid dimension {d!r} in shape {list(self.shape)}")

    def to_json(self) -> dict[str, Any]:
        return {"datatype": self.datatype, "shape": list(self.shape), "optional": self.optional}


def tensor(datatype: str, shape: Sequence[int], *, optional: bool = False) -> TensorSpec:
    """Declares an input or output, e.g. ``tensor("FP32", [-1, 3])``."""
    return TensorSpec(datatype, tuple(shape), optional)


SpecLike = Union[TensorSpec, tuple[str, Sequence[int]]]


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
        return out

    def serving(self) -> dict[str, Any]:
        """How ``tensorbind serve model.py`` runs the function (``bind()`` in TypeScript ignores these)."""
        return {"instances": self.instances, "framework": self.framework, "device": self.device}


def _specs(kind: str, specs: Mapping[str, SpecLike] | None) -> dict[str, TensorSpec] | None:
    if specs is None:
        return None
    if not isinstance(specs, Mapping) or not specs:
        raise ValueError(f"{kind}s must be a non-empty dict of name -> tensor(datatype, shape)")
    out: dict[str, TensorSpec] = {}
    for name, spec in specs.items():
        if isinstance(spec, TensorSpec):
            out[name] = spec
        elif isinstance(spec, tuple) and len(spec) == 2:
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
) -> Callable[[F], F]:
    """Declares a function's inputs, outputs and batching, so ``bind()`` may leave them out.

    The function receives its inputs as keyword arguments (read-only NumPy arrays, or torch
    tensors with ``framework="torch"``) and returns a dict of outputs. ``async def`` works too.
    With ``max_batch_size > 0`` the arrays carry the batch as their first dimension.

    ``name`` (default: the function's name), ``instances``, ``framework`` ("numpy" or "torch")
    and ``device`` ("cpu", "cuda:0") say how ``tensorbind serve model.py`` serves the function;
    a TypeScript ``bind()`` takes them from its own ``python()`` options instead.
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
        raise ValueError("device needs framework='torch'")
    info = ModelInfo(
        _specs("input", inputs), _specs("output", outputs), max_batch_size, name, instances, framework, device
    )

    def decorate(fn: F) -> F:
        setattr(fn, MODEL_ATTRIBUTE, info)
        return fn

    return decorate


def model_info(fn: object) -> ModelInfo | None:
    info = getattr(fn, MODEL_ATTRIBUTE, None)
    return info if isinstance(info, ModelInfo) else None
