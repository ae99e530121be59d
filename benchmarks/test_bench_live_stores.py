"""``routebench live --store dynamodb``: what a DynamoDB call costs a backend, by client.

The backends call DynamoDB either with their own SigV4-signed HTTP requests in the
event loop (``--store-client http``, the default) or through boto3 in threads
(``--store-client boto3``). This measures one ``GetItem`` (ConsistentRead) and one
conditional ``PutItem`` against a local dynalite, wall time and the backend's own CPU
per call, so the README can say what each client costs.

    pytest benchmarks/test_bench_live_stores.py -s

Opt-in; needs dynalite (npm install -g dynalite): skips without it, fails with
ROUTEBENCH_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import resource
import time
from pathlib import Path
from typing import Any

import pytest

from routebench.harness.live._procs import LOOPBACK, ServerProcess, find_binary, free_ports
from routebench.harness.live._stores import LOCAL_CREDENTIALS, dynalite_argv, prepare_table

pytestmark = pytest.mark.servers
CALLS = 2000


def _backend() -> Any:
    path = Path(__file__).parents[1] / "src/routebench/harness/live/_backend.py"
    spec = importlib.util.spec_from_file_location("_rb_backend_bench", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def endpoint() -> Any:
    binary = find_binary("dynalite")
    if binary is None:
        msg = "dynalite is not installed (npm install -g dynalite)"
        if os.environ.get("ROUTEBENCH_REQUIRE_SERVERS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    old = {k: os.environ.get(k) for k in LOCAL_CREDENTIALS}
    os.environ.update(LOCAL_CREDENTIALS)
    port = free_ports(1)[0]
    try:
        with ServerProcess(dynalite_argv(binary, port, LOOPBACK), [port], name="dynalite"):
            url = f"http://{LOOPBACK}:{port}"
            prepare_table(url, "bench", local=True)
            yield url
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@pytest.mark.parametrize("client", ["DynamoHttpStore", "DynamoStore"])
def test_dynamodb_call_cost(client: str, endpoint: str, benchmark: Any) -> None:
    store = getattr(_backend(), client)(endpoint, "bench", ttl=600)

    async def calls() -> tuple[float, float]:
        await store.start(1)
        await store.set(b"rb:bench", b"0", None)
        prev = b"0"
        t0, c0 = time.perf_counter(), _cpu()
        for i in range(1, CALLS // 2 + 1):
            got = await store.get(b"rb:bench")
            assert got == prev
            prev = b"%d" % i
            await store.set(b"rb:bench", prev, got)
        return (time.perf_counter() - t0) / CALLS, (_cpu() - c0) / CALLS

    # the key starts fresh each round: the first write is a create
    wall, cpu = benchmark.pedantic(lambda: asyncio.run(calls()), rounds=1, iterations=1,
                                   setup=lambda: _reset(endpoint))
    benchmark.extra_info.update(wall_ms_per_call=wall * 1e3, cpu_ms_per_call=cpu * 1e3)
    print(f"\n{client}: {wall * 1e3:.3f} ms a call, {cpu * 1e3:.3f} ms of the backend's CPU "
          f"(the rest is dynalite), load {os.getloadavg()[0]:.1f}")
    assert cpu > 0


def _reset(endpoint: str) -> None:
    import boto3

    boto3.client("dynamodb", endpoint_url=endpoint).delete_item(
        TableName="bench", Key={"id": {"S": "rb:bench"}})
