"""``python -m tensorbind.worker --list model.py``: the models a file declares, as JSON.

``tensorbind serve model.py`` runs this once to learn which functions to serve and how.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

from tensorbind._proxy.loader import import_module
from tensorbind.decorators import model_info


def list_models(path_or_name: str) -> list[dict[str, Any]]:
    """Every ``@tensorbind.model`` function defined in the module (not merely imported into it)."""
    module = import_module(path_or_name)
    seen: set[int] = set()
    models: list[dict[str, Any]] = []
    for attr, value in vars(module).items():
        info = model_info(value)
        if info is None or id(value) in seen or getattr(value, "__module__", None) != module.__name__:
            continue
        seen.add(id(value))
        models.append(
            {
                "function": attr,
                "name": info.name or attr,
                "declaration": info.to_json(),
                **{k: v for k, v in info.serving().items() if v is not None},
            }
        )
    names = [m["name"] for m in models]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path_or_name} declares more than one model named {', '.join(duplicates)}")
    return models


def main(path_or_name: str) -> None:
    """Prints ``{"models": [...]}`` on stdout; anything the module prints goes to stderr."""
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        models = list_models(path_or_name)
    out.write(json.dumps({"models": models}) + "\n")
    out.flush()
