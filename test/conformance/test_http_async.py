"""Asynchronous inference: tritonclient.http's async_infer (gevent) and tritonclient.http.aio."""

from __future__ import annotations

import asyncio

import numpy as np
import tritonclient.http as httpclient
import tritonclient.http.aio as aioclient


def make_inputs(seed: int):
    a = np.full((1, 16), seed, dtype=np.int32)
    b = np.arange(16, dtype=np.int32).reshape(1, 16)
    inputs = [httpclient.InferInput("INPUT0", [1, 16], "INT32"), httpclient.InferInput("INPUT1", [1, 16], "INT32")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    return a, b, inputs


def test_async_infer_many_in_flight(url):
    client = httpclient.InferenceServerClient(url=url, concurrency=8)
    try:
        pending = []
        for i in range(32):
            a, b, inputs = make_inputs(i)
            pending.append((a, b, client.async_infer("simple", inputs, request_id=str(i))))
        for i, (a, b, req) in enumerate(pending):
            result = req.get_result(timeout=10)
            assert result.get_response()["id"] == str(i)
            np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
            np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)
    finally:
        client.close()


def test_aio_client_health_metadata_and_infer(url):
    async def run():
        client = aioclient.InferenceServerClient(url=url)
        try:
            assert await client.is_server_live()
            assert await client.is_server_ready()
            assert await client.is_model_ready("simple")
            md = await client.get_model_metadata("simple")
            assert md["name"] == "simple"
            cfg = await client.get_model_config("simple")
            assert cfg["max_batch_size"] == 8
            a, b, inputs = make_inputs(7)
            result = await client.infer("simple", inputs)
            np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
            np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)
        finally:
            await client.close()

    asyncio.run(run())


def test_aio_client_concurrent_infers(url):
    async def run():
        client = aioclient.InferenceServerClient(url=url)
        try:
            cases = [make_inputs(i) for i in range(24)]
            results = await asyncio.gather(
                *(client.infer("simple", inputs, request_id=f"aio-{i}") for i, (_, _, inputs) in enumerate(cases))
            )
            for i, ((a, b, _), result) in enumerate(zip(cases, results)):
                assert result.get_response()["id"] == f"aio-{i}"
                np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
        finally:
            await client.close()

    asyncio.run(run())
