"""Runs the tritonserver that PyPI's nvidia-pytriton ships, on a model repository, as PyTriton
itself prepares it: a copy of its tritonserver tree with the Python-backend stub of this
interpreter's version, its bundled libraries on LD_LIBRARY_PATH, this interpreter's
site-packages for the models (numpy).

    python tritonserver.py MODEL_REPOSITORY HTTP_PORT GRPC_PORT METRICS_PORT
"""

from __future__ import annotations

import os
import shutil
import site
import sys
import sysconfig
import tempfile

from pytriton.utils.distribution import (
    get_libs_path,
    get_root_module_path,
    get_stub_path,
)

repository, http, grpc, metrics = sys.argv[1:5]
work = tempfile.mkdtemp(prefix="tb-triton-")
dist = get_root_module_path() / "tritonserver"
server = os.path.join(work, "tritonserver")
shutil.copytree(dist, server, ignore=shutil.ignore_patterns("python_backend_stubs"))
version = f"{sys.version_info[0]}.{sys.version_info[1]}"
shutil.copy(get_stub_path(version), os.path.join(server, "backends/python/triton_python_backend_stub"))
env = dict(os.environ)
libs = [str(get_libs_path()), sysconfig.get_config_var("LIBDIR") or "", env.get("LD_LIBRARY_PATH", "")]
env["LD_LIBRARY_PATH"] = ":".join(p for p in libs if p)
env["PYTHONPATH"] = ":".join([*site.getsitepackages(), env.get("PYTHONPATH", "")])
argv = [
    os.path.join(server, "bin/tritonserver"),
    f"--model-repository={repository}",
    f"--backend-directory={os.path.join(server, 'backends')}",
    f"--cache-directory={os.path.join(server, 'caches')}",
    f"--http-port={http}",
    f"--grpc-port={grpc}",
    f"--metrics-port={metrics}",
    "--log-verbose=0",
]
os.execve(argv[0], argv, env)
