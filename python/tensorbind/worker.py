"""Entry point of a worker process: ``python -m tensorbind.worker --module m.py --function infer ...``

(or ``--list m.py``, which prints the models the file declares as JSON).

Started by the server, never by hand; the plumbing lives in :mod:`tensorbind._proxy`.
"""

from tensorbind._proxy.main import main

if __name__ == "__main__":
    main()
