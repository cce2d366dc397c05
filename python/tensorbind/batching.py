"""Batch-aware decorators with PyTriton's names and semantics (``pytriton.decorators``).

A function decorated with :func:`batch`, :func:`sample`, :func:`group_by_keys`,
:func:`fill_optionals` or :func:`batch_aware` takes a *list of requests* (each a dict of input
name -> array, with ``.parameters``) and returns one dict of outputs per request; the worker
then hands it each batch the server's dynamic batcher formed. A function without them is
called once per request with the inputs as keyword arguments.

:func:`group_by_values`, :func:`pad_batch` and :func:`first_value` (in its keyword form) work
on the merged inputs that :func:`batch` passes on, so they go below it::

    @tensorbind.batch
    @tensorbind.first_value("temperature")
    def infer(x, temperature):
        ...

The requests of a batch are views of one array per input in shared memory; when they reach
:func:`batch` unchanged, it passes that array on instead of concatenating (no copy).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import operator
import sys
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from tensorbind._proxy import context
from tensorbind.errors import InvalidArgument

REQUESTS_ATTRIBUTE = "__tensorbind_requests__"

F = TypeVar("F", bound=Callable[..., Any])


class Request(dict):  # type: ignore[type-arg]
    """One request: its inputs by name (as PyTriton's request dicts), plus its ``parameters``."""

    __slots__ = ("_index", "_origin", "parameters")

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        *,
        origin: _BatchOrigin | None = None,
        index: int = 0,
    ) -> None:
        super().__init__(data or {})
        self.parameters: dict[str, Any] = dict(parameters or {})
        self._origin = origin
        self._index = index


class _BatchOrigin:
    """The merged arrays a batch's requests are row slices of, so :func:`batch` can reuse them."""

    __slots__ = ("arrays", "slices", "starts")

    def __init__(self, arrays: Mapping[str, Any], sizes: Sequence[int]) -> None:
        self.arrays = dict(arrays)
        self.starts = [0, *itertools.accumulate(sizes)]
        self.slices: list[dict[str, Any]] = []


def make_requests(
    arrays: Mapping[str, Any],
    sizes: Sequence[int] | None,
    parameters: Sequence[Mapping[str, Any]] | None = None,
) -> list[Request]:
    """Splits a call's merged inputs into requests of ``sizes`` rows each (views, no copy)."""
    params = list(parameters or [])
    if not sizes:
        return [Request(arrays, params[0] if params else None)]
    origin = _BatchOrigin(arrays, sizes)
    requests: list[Request] = []
    for i, n in enumerate(sizes):
        start = origin.starts[i]
        data = {name: a[start : start + n] for name, a in arrays.items()}
        origin.slices.append(dict(data))
        requests.append(Request(data, params[i] if i < len(params) else None, origin=origin, index=i))
    return requests


def takes_requests(fn: object) -> bool:
    """Whether the worker should call ``fn`` with a list of requests (see the module docstring)."""
    return bool(getattr(fn, REQUESTS_ATTRIBUTE, False))


def batch_aware(fn: F) -> F:
    """Marks a hand-written function of a list of requests (returning one dict per request)."""
    setattr(fn, REQUESTS_ATTRIBUTE, True)
    return fn


def _then(value: Any, f: Callable[[Any], Any]) -> Any:
    """Applies ``f`` to a result, awaiting it first when the wrapped function is ``async``."""
    if inspect.isawaitable(value):

        async def later() -> Any:
            return f(await value)

        return later()
    return f(value)


def _each(calls: Sequence[Callable[[], Any]], combine: Callable[[list[Any]], Any]) -> Any:
    """Runs calls in order (awaiting any that are ``async``) and combines their results."""
    results: list[Any] = []
    for k, call in enumerate(calls):
        r = call()
        if inspect.isawaitable(r):

            async def rest(first: Awaitable[Any] = r, start: int = k) -> Any:
                results.append(await first)
                for c in calls[start + 1 :]:
                    v = c()
                    results.append(await v if inspect.isawaitable(v) else v)
                return combine(results)

            return rest()
        results.append(r)
    return combine(results)


def _batch_size(request: Mapping[str, Any]) -> int:
    first = next(iter(request.values()))
    return int(first.shape[0])


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _concat(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    if _is_torch(parts[0]):
        return sys.modules["torch"].cat(parts)
    return np.concatenate(parts)


def _merged_inputs(requests: Sequence[Request], names: Sequence[str]) -> dict[str, Any]:
    """The requests' inputs along the batch dimension: the batch's own arrays when unchanged."""
    origin = getattr(requests[0], "_origin", None)
    if origin is not None and set(names) == set(origin.arrays):
        first = requests[0]._index
        if all(
            getattr(r, "_origin", None) is origin
            and r._index == first + k
            and all(r[n] is origin.slices[r._index][n] for n in names)
            for k, r in enumerate(requests)
        ):
            start, end = origin.starts[first], origin.starts[first + len(requests)]
            whole = start == 0 and end == origin.starts[-1]
            return {n: origin.arrays[n] if whole else origin.arrays[n][start:end] for n in names}
    return {n: _concat([r[n] for r in requests]) for n in names}


def convert_output(outputs: Any) -> dict[str, Any]:
    """A dict of outputs as is; a list or tuple mapped onto the model's outputs in order (as PyTriton)."""
    if isinstance(outputs, dict):
        return outputs
    if isinstance(outputs, (list, tuple)):
        names = list(context.current().outputs)
        if len(outputs) != len(names):
            raise ValueError(
                f"the model returned {len(outputs)} outputs, but it declares {len(names)}: {names}"
            )
        return dict(zip(names, outputs))
    raise TypeError(f"the model function must return a dict of outputs, got {type(outputs).__name__}")


def batch(fn: F) -> F:
    """Turns a function of merged inputs into one of a list of requests (PyTriton's ``@batch``).

    The requests' inputs are concatenated along the first dimension and passed as keyword
    arguments; each output is split back by rows, so every request gets its own. All requests
    must have the same inputs (use :func:`group_by_keys` or :func:`fill_optionals` first).
    Called with keyword arguments instead (``infer(x=x)`` in a test), it calls the function as is.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not args:  # called with merged inputs, as a test would call the plain function
            return fn(**kwargs)
        requests: list[Request] = args[0]
        args = args[1:]
        if not requests:
            return []
        names = list(requests[0].keys())
        for r in requests[1:]:
            if r.keys() != requests[0].keys():
                raise InvalidArgument("Cannot batch requests with different set of inputs keys")
        sizes = [_batch_size(r) for r in requests]
        inputs = _merged_inputs(requests, names)

        def split(result: Any) -> list[dict[str, Any]]:
            outputs = convert_output(result)
            total = sum(sizes)
            wrong = {
                k: tuple(v.shape) for k, v in outputs.items() if len(v.shape) == 0 or v.shape[0] != total
            }
            if wrong:
                raise ValueError(
                    "Received output tensors with different batch sizes: "
                    f"{', '.join(f'{k}: {s}' for k, s in wrong.items())}. Expected batch size: {total}."
                )
            out: list[dict[str, Any]] = []
            start = 0
            for n in sizes:
                out.append({k: v[start : start + n] for k, v in outputs.items()})
                start += n
            return out

        return _then(fn(*args, **{**kwargs, **inputs}), split)

    return batch_aware(wrapper)  # type: ignore[return-value]


def sample(fn: F) -> F:
    """Calls a function of one request's inputs (keyword arguments) for each request (PyTriton's ``@sample``).

    PyTriton's version is meant for one-request lists; here every request of the list is served.
    """

    @functools.wraps(fn)
    def wrapper(requests: list[Request], *args: Any, **kwargs: Any) -> Any:
        calls = [
            functools.partial(lambda r: _then(fn(*args, **{**kwargs, **r}), convert_output), r)
            for r in requests
        ]
        return _each(calls, list)

    return batch_aware(wrapper)  # type: ignore[return-value]


def group_by_keys(fn: F) -> F:
    """Calls a function of requests once per group of requests with the same inputs (PyTriton's).

    Results come back in request order. Use it before :func:`batch` when inputs are optional.
    """

    @functools.wraps(fn)
    def wrapper(requests: list[Request], *args: Any, **kwargs: Any) -> Any:
        keyed = sorted(
            ((i, tuple(sorted(r.keys())), r) for i, r in enumerate(requests)), key=operator.itemgetter(1)
        )
        groups = [list(g) for _, g in itertools.groupby(keyed, key=operator.itemgetter(1))]
        if len(groups) <= 1:
            return fn(requests, *args, **kwargs)
        calls = [functools.partial(lambda g: fn([r for _, _, r in g], *args, **kwargs), g) for g in groups]

        def combine(results: list[Any]) -> list[Any]:
            placed: list[tuple[int, Any]] = []
            for g, out in zip(groups, results):
                placed.extend(zip((i for i, _, _ in g), out))
            placed.sort(key=operator.itemgetter(0))
            return [r for _, r in placed]

        return _each(calls, combine)

    return batch_aware(wrapper)  # type: ignore[return-value]


def _value_key(value: Any) -> Any:
    if _is_torch(value):
        value = value.cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.dtype == np.object_:
            return tuple(
                bytes(v) if isinstance(v, (bytes, bytearray)) else str(v).encode() for v in value.reshape(-1)
            )
        return value.tobytes()
    return value


def group_by_values(
    *keys: str, pad_fn: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
) -> Callable[[F], F]:
    """Splits a batch into sub-batches whose rows agree on the given inputs (PyTriton's ``@group_by_values``).

    The wrapped function is called once per sub-batch; the outputs are merged back in row
    order (with ``pad_fn``, e.g. :class:`ConstantPadder`, when their shapes differ). Use it
    below :func:`batch`.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **inputs: Any) -> Any:
            batch_size = _batch_size(inputs)
            rows = sorted(
                (
                    (i, tuple(_value_key(inputs[k][i]) for k in keys if k in inputs))
                    for i in range(batch_size)
                ),
                key=operator.itemgetter(1),
            )
            groups = [[i for i, _ in g] for _, g in itertools.groupby(rows, key=operator.itemgetter(1))]
            if len(groups) <= 1:
                return fn(*args, **inputs)
            calls = [
                functools.partial(lambda idx: fn(*args, **{k: v[idx] for k, v in inputs.items()}), g)
                for g in groups
            ]

            def merge(results: list[Any]) -> dict[str, Any]:
                outs = [convert_output(r) for r in results]
                if pad_fn is not None:
                    outs = pad_fn(outs)
                merged: dict[str, Any] = {}
                for name, data in outs[0].items():
                    shape = (batch_size, *tuple(data.shape[1:]))
                    merged[name] = (
                        data.new_zeros(shape) if _is_torch(data) else np.zeros(shape, dtype=data.dtype)
                    )
                for idx, out in zip(groups, outs):
                    for name, data in out.items():
                        merged[name][idx] = data
                return merged

            return _each(calls, merge)

        return wrapper  # type: ignore[return-value]

    return decorate


class ConstantPadder:
    """A ``pad_fn`` for :func:`group_by_values`: pads each output to the largest shape with a constant."""

    def __init__(self, pad_value: Any = 0) -> None:
        self.pad_value = pad_value

    def __call__(self, batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names = list(dict.fromkeys(n for b in batches for n in b))
        out: list[dict[str, Any]] = [dict(b) for b in batches]
        for name in names:
            arrays = [np.asarray(b[name]) for b in batches if name in b]
            kinds = {a.dtype.kind for a in arrays}
            if len(kinds) != 1:
                raise ValueError(f"All input arrays for {name!r} must have the same dtype.")
            target = tuple(np.max([a.shape[1:] for a in arrays], axis=0))
            dtype = arrays[0].dtype
            if dtype.kind in "SU":
                dtype = np.dtype(f"{dtype.str[:2]}{max(int(a.dtype.str[2:]) for a in arrays)}")
            for b in out:
                if name in b:
                    a = np.asarray(b[name])
                    pad = [(0, 0)] + [(0, t - s) for s, t in zip(a.shape[1:], target)]
                    value = self.pad_value if dtype.kind not in "SUO" else b""
                    b[name] = np.pad(a, pad, mode="constant", constant_values=value).astype(dtype)
        return out


def pad_batch(fn: F) -> F:
    """Pads merged inputs to the next preferred batch size or ``max_batch_size`` (PyTriton's ``@pad_batch``).

    The last row is repeated, for models built for fixed batch sizes. Unlike PyTriton, the
    padding rows are cut from the outputs again, so :func:`batch` above gets one row per input row.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **inputs: Any) -> Any:
        config = context.current()
        n = _batch_size(inputs)
        sizes = sorted({*config.preferred_batch_sizes, config.max_batch_size})
        at = bisect_left(sizes, n)
        if at == len(sizes) or sizes[at] == n:
            return fn(*args, **inputs)
        target = sizes[at]
        index = list(range(n)) + [n - 1] * (target - n)
        padded = {k: v[index] for k, v in inputs.items()}

        def trim(result: Any) -> dict[str, Any]:
            outputs = convert_output(result)
            return {k: v[:n] if len(v.shape) > 0 and v.shape[0] == target else v for k, v in outputs.items()}

        return _then(fn(*args, **padded), trim)

    return wrapper  # type: ignore[return-value]


def first_value(*keys: str, squeeze_single_values: bool = True, strict: bool = True) -> Callable[[F], F]:
    """Replaces the given inputs by their first row (PyTriton's ``@first_value``).

    For parameters sent with every row that the model needs once. Works below :func:`batch`
    (keyword form) or on a function of requests. With ``strict``, rows that differ are an
    error; with ``squeeze_single_values``, a one-element value becomes a scalar. The model must batch.
    """

    def replace(values: Any, name: str) -> Any:
        if strict and len(values) > 1 and not bool((values == values[:1]).all()):
            raise InvalidArgument(
                f"The values on the {name!r} input are not equal. To proceed, either disable strict mode in "
                f"@first_value wrapper or ensure that the values always are consistent. "
                f"The current values of {name!r} are {values!r}."
            )
        first = values[0]
        if squeeze_single_values and not np.isscalar(first) and all(d == 1 for d in first.shape):
            return first.reshape(()).item() if _is_torch(first) else np.squeeze(first)[()]
        return first

    def apply(request: dict[str, Any]) -> dict[str, Any]:
        for name in keys:
            if name in request:
                request[name] = replace(request[name], name)
        return request

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not context.current().batching:
                raise RuntimeError(
                    "The @first_value decorator can only be used with models that support batching."
                )
            if kwargs:
                return fn(*args, **apply(kwargs))
            requests, *rest = args
            return fn([apply(r) for r in requests], *rest)

        return wrapper  # type: ignore[return-value]

    return decorate


def fill_optionals(**defaults: Any) -> Callable[[F], F]:
    """Fills inputs missing from a request with defaults (PyTriton's ``@fill_optionals``).

    Defaults are NumPy arrays without the batch dimension, repeated for each of the request's
    rows. Put it first, so the decorators after it see complete requests.
    """
    from tensorbind._proxy.datatypes import NUMPY_DTYPES

    def verify(config: context.ModelConfig) -> None:
        unknown = sorted(set(defaults) - set(config.inputs))
        if unknown and config.inputs:
            raise ValueError(f"Could not find {', '.join(unknown)} inputs")
        not_arrays = [k for k, v in defaults.items() if not isinstance(v, np.ndarray)]
        if not_arrays:
            raise ValueError(f"Could not use {', '.join(not_arrays)} defaults as they are not NumPy arrays")
        for name, value in defaults.items():
            if name not in config.inputs:
                continue
            datatype, shape = config.inputs[name]
            expected = NUMPY_DTYPES.get(datatype)
            if expected is not None and value.dtype != expected:
                raise ValueError(
                    f"The default of {name!r} has dtype {value.dtype}, the input expects {expected}"
                )
            if len(shape) != value.ndim or any(e != -1 and e != h for h, e in zip(value.shape, shape)):
                raise ValueError(
                    f"The default of {name!r} has shape {value.shape}, the input expects {shape}"
                )

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(requests: list[Request], *args: Any, **kwargs: Any) -> Any:
            config = context.current()
            verify(config)
            for request in requests:
                for name, value in defaults.items():
                    if name in request:
                        continue
                    if config.batching:
                        value = np.tile(value, (_batch_size(request),) + (1,) * value.ndim)
                    request[name] = value
            return fn(requests, *args, **kwargs)

        return batch_aware(wrapper)  # type: ignore[return-value]

    return decorate
