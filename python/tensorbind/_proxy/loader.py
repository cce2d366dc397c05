"""Imports the user's module from a file path (or a module name) and finds the function."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from tensorbind.decorators import ModelInfo, model_info


def import_module(path_or_name: str) -> ModuleType:
    if path_or_name.endswith(".py") or os.sep in path_or_name:
        path = os.path.abspath(path_or_name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"model module {path} does not exist")
        name = os.path.splitext(os.path.basename(path))[0]
        sys.path.insert(0, os.path.dirname(path))  # sibling imports work as in `python model.py`
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(path_or_name)


def load_function(path_or_name: str, function: str) -> tuple[Callable[..., Any], ModelInfo | None]:
    module = import_module(path_or_name)
    fn = getattr(module, function, None)
    if fn is None:
        raise AttributeError(f"module {path_or_name} has no function {function!r}")
    if not callable(fn):
        raise TypeError(f"{path_or_name}:{function} is not callable")
    return fn, model_info(fn)
