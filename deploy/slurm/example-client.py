"""Sends requests to a tensorbind service through its load balancer with NVIDIA's tritonclient.

    python example-client.py [--requests N] [--model simple]

Reads TENSORBIND_HTTP_URL and TENSORBIND_GRPC_URL (set by tensorbind.sbatch for its CLIENT step),
calls the quickstart `simple` model over HTTP and gRPC, checks every answer and prints a summary.
"""

import argparse
import os
import sys
import time

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient


def request(module, a, b):
    inputs = [module.InferInput("INPUT0", [1, 16], "INT32"), module.InferInput("INPUT1", [1, 16], "INT32")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    return inputs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--model", default="simple")
    args = parser.parse_args()
    http_url = os.environ["TENSORBIND_HTTP_URL"].removeprefix("http://")
    grpc_url = os.environ["TENSORBIND_GRPC_URL"]
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    b = np.ones((1, 16), dtype=np.int32)
    failures = 0
    started = time.perf_counter()
    for name, module, client in (
        ("http", httpclient, httpclient.InferenceServerClient(http_url)),
        ("grpc", grpcclient, grpcclient.InferenceServerClient(grpc_url)),
    ):
        assert client.is_server_ready(), f"{name}: the service is not ready"
        for _ in range(args.requests):
            result = client.infer(args.model, request(module, a, b))
            if not np.array_equal(result.as_numpy("OUTPUT0"), a + b):
                failures += 1
    elapsed = time.perf_counter() - started
    print(f"client: {2 * args.requests} requests over HTTP and gRPC in {elapsed:.2f} s, {failures} wrong")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
