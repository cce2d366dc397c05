"""The served model's configuration, as the batching decorators need it (PyTriton's model config).

The worker sets it from the server's ``configure`` message once the model's spec is final;
tests set it with :func:`use`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelConfig:
    """What ``pad_batch``, ``first_value``, ``fill_optionals`` and list outputs need to know."""

    name: str = ""
    max_batch_size: int = 0
    preferred_batch_sizes: tuple[int, ...] = ()
    #: input name -> (KServe datatype, shape without the batch dimension)
    inputs: Mapping[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    #: output name -> (KServe datatype, shape), in the model's order
    outputs: Mapping[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)

    @property
    def batching(self) -> bool:
        return self.max_batch_size > 0

    @staticmethod
    def from_json(msg: Mapping[str, Any]) -> ModelConfig:
        def specs(s: Any) -> dict[str, tuple[str, tuple[int, ...]]]:
            return {
                str(k): (str(v["datatype"]), tuple(int(d) for d in v["shape"])) for k, v in (s or {}).items()
            }

        return ModelConfig(
            name=str(msg.get("name", "")),
            max_batch_size=int(msg.get("maxBatchSize", 0)),
            preferred_batch_sizes=tuple(int(s) for s in msg.get("preferredBatchSizes", [])),
            inputs=specs(msg.get("inputs")),
            outputs=specs(msg.get("outputs")),
        )


_current = ModelConfig()


def current() -> ModelConfig:
    return _current


def set_current(config: ModelConfig) -> None:
    global _current
    _current = config


@contextlib.contextmanager
def use(config: ModelConfig) -> Iterator[ModelConfig]:
    """Makes ``config`` current for the duration of a ``with`` block (for tests)."""
    previous = _current
    set_current(config)
    try:
        yield config
    finally:
        set_current(previous)
