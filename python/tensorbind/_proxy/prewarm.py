"""A worker started ahead of its model: ``python -m tensorbind._proxy.prewarm``.

``tensorbind serve`` starts one while it loads its own modules and the model file: the interpreter
and the worker's imports (NumPy, pyzmq: most of a worker's start-up) are done by the time the
model's first worker is needed. The server then writes one line of JSON on stdin, the worker's
arguments and environment, and this process goes on as ``python -m tensorbind.worker ARGS``
would. End of input instead (the server needed no such worker, or is gone): it exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys


def main() -> None:
    # A failing import fails again, the same way, where the worker itself imports it.
    with contextlib.suppress(BaseException):
        import tensorbind._proxy.main

    line = sys.stdin.readline()
    if not line:
        return
    job = json.loads(line)
    # As a spawned worker: stdin is /dev/null, the environment the server computed for it.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.environ.clear()
    os.environ.update(job["env"])
    import tensorbind.worker

    sys.argv = [tensorbind.worker.__file__, *job["argv"]]
    tensorbind.worker.main(job["argv"])


if __name__ == "__main__":
    main()
