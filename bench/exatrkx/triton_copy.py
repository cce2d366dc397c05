"""The Triton-servable copy of a model repository that bench/exatrkx/vs-triton.py serves.

nvidia-pytriton's tritonserver has the Python backend and no libtorch backend: each TorchScript
model (platform "pytorch_libtorch") becomes a Python-backend model whose model.py
`torch.jit.load`s the same model.pt and runs it as tensorbind's TorchScript runner does
(python/tensorbind/triton/runner.py); the other files are copied as they are. Every model.py of
the copy also gets PRELUDE (site-packages from BENCH_SITE, for Triton's stub) and POSTLUDE (each
execute()'s wall and CPU time to BENCH_TIMING), both no-ops when those variables are unset.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

# Triton's stub starts Python without PYTHONPATH: the models append the site-packages that
# BENCH_SITE names (NumPy, torch, SciPy). Unset under tensorbind: a no-op there.
PRELUDE = """import os as _os, sys as _sys
_sys.path.extend(p for p in _os.environ.get("BENCH_SITE", "").split(":") if p and p not in _sys.path)
"""

# Appended to every converted model.py: each execute() call's own wall and CPU time (the model's
# work, no transport; torch runs on the calling thread with OMP_NUM_THREADS=1) goes to
# BENCH_TIMING/<pid>.txt, so a server's CPU per event splits into the models' and the serving's.
POSTLUDE = """

def _bench_timed(execute):
    import time

    model = _os.path.basename(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))))
    folder = _os.environ.get("BENCH_TIMING")

    def timed(self, requests):
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return execute(self, requests)
        finally:
            if folder:
                t1, c1 = time.perf_counter(), time.thread_time()
                with open(_os.path.join(folder, f"{_os.getpid()}.txt"), "a") as f:
                    f.write(f"{model} {len(requests)} {time.time():.6f} {t1 - t0:.6f} {c1 - c0:.6f}\\n")

    return timed


TritonPythonModel.execute = _bench_timed(TritonPythonModel.execute)
"""

# A TorchScript stage as a Python-backend model: what tensorbind's runner does for
# platform "pytorch_libtorch" (python/tensorbind/triton/runner.py, TorchScriptModel).
TORCHSCRIPT_MODEL = (
    PRELUDE
    + '''
import json
import os

import numpy as np
import torch
import triton_python_backend_utils as pb_utils


def _positional(names):
    """Triton's `<name>__<index>` order."""
    try:
        return [n for _, n in sorted((int(n.rsplit("__", 1)[1]), n) for n in names)]
    except (IndexError, ValueError):
        return names


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.pt")
        self.module = torch.jit.load(path, map_location="cpu")
        self.module.eval()
        self.inputs = _positional([c["name"] for c in config["input"]])
        self.outputs = _positional([c["name"] for c in config["output"]])

    def execute(self, requests):
        responses = []
        for request in requests:
            with torch.inference_mode():
                args = [
                    torch.from_numpy(np.array(pb_utils.get_input_tensor_by_name(request, n).as_numpy()))
                    for n in self.inputs
                ]
                result = self.module(*args)
            if isinstance(result, torch.Tensor):
                result = (result,)
            tensors = [pb_utils.Tensor(n, np.array(result[i].numpy())) for i, n in enumerate(self.outputs)]
            responses.append(pb_utils.InferenceResponse(tensors))
        return responses
'''
)


def with_prelude(code: str) -> str:
    """PRELUDE after the module's `from __future__` imports (which must come first)."""
    lines = code.splitlines(keepends=True)
    at = max((i + 1 for i, line in enumerate(lines) if line.startswith("from __future__ ")), default=0)
    return "".join(lines[:at]) + PRELUDE + "".join(lines[at:])


def convert(source: Path, dest: Path) -> list[str]:
    """Writes the Triton-servable copy; returns the models turned into Python-backend models."""
    shutil.copytree(source, dest)
    converted = []
    for config in sorted(dest.glob("*/config.pbtxt")):
        text = config.read_text()
        model = config.parent
        if re.search(r'^\s*platform:\s*"pytorch_libtorch"', text, re.M):
            config.write_text(
                re.sub(r'^(\s*)platform:\s*"pytorch_libtorch"', r'\1backend: "python"', text, flags=re.M)
            )
            for version in model.iterdir():
                if version.is_dir() and (version / "model.pt").exists():
                    (version / "model.py").write_text(TORCHSCRIPT_MODEL + POSTLUDE)
            converted.append(model.name)
        elif re.search(r'^\s*backend:\s*"python"', text, re.M):
            for py in model.glob("*/model.py"):
                py.write_text(with_prelude(py.read_text()) + POSTLUDE)
    return converted
