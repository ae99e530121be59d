"""``routebench live --store dynamodb`` and ``--store-rtt``: the session store on real software.

The DynamoDB store runs in dynalite (npm package ``dynalite``, a DynamoDB-compatible
server) unless ``--store-endpoint`` names another endpoint; these tests use dynalite
both ways: started by routebench, and started here and named as a user's endpoint.
Tests that need a server skip naming its package, or fail with
ROUTEBENCH_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from _servers import require

from routebench.cli import main
from routebench.harness.live._procs import LOOPBACK, ServerProcess, find_binary, free_ports
from routebench.harness.live._stores import LOCAL_CREDENTIALS, dynalite_argv, prepare_table
from routebench.harness.live.runner import LiveScenario, run_live
from routebench.harness.sim._simdist import Event


@pytest.fixture
def dynalite(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A dynalite of this test's own on a free port (a user's endpoint), with credentials
    in the environment as a user would have them."""
    require("dynalite")
    for k, v in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    port = free_ports(1)[0]
    with ServerProcess(dynalite_argv(find_binary("dynalite") or "", port, LOOPBACK), [port],
                       name="dynalite") as proc:
        yield f"http://{LOOPBACK}:{port}", proc


def _backend_module() -> Any:
    path = Path(__file__).parents[1] / "src/routebench/harness/live/_backend.py"
    spec = importlib.util.spec_from_file_location("_rb_backend", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# -- the crash story with the state in DynamoDB ---------------------------------------
@pytest.mark.servers
@pytest.mark.parametrize("client", ["http", "boto3"])
def test_crash_with_dynamodb_store_loses_no_session(client: str, tmp_path: Path) -> None:
    require("haproxy", "dynalite")
    sc = LiveScenario(requests=1500, rate=800, store="dynamodb", clients=300,
                      store_client=client, events=(Event("crash", "backend-1", 1.0),))
    r = run_live(sc, "cookie-sticky", seed=1, out_dir=tmp_path)
    m = r.metrics
    assert m["crash_pinned"] >= 5  # sessions pinned to the killed backend came back...
    assert m["crash_lost"] == 0 and m["sessions_lost"] == 0  # ...and found their state
    # only the requests in flight on the killed backend fail: at most one a session that
    # was on it (those that came back are crash_pinned), however slow the machine
    # only the requests in flight on the killed backend fail (there may be none: timing)
    assert m["failed"] <= m["crash_pinned"] + 10
    assert m["completed"] + m["failed"] == m["requests"]
    assert r.cpu_s.get("dynalite", 0) > 0 and r.store == "dynamodb"


@pytest.mark.servers
def test_dynamodb_item_past_its_ttl_is_lost_and_rewritten(tmp_path: Path) -> None:
    """dynalite never deletes expired items (AWS does so lazily): the backends read
    ``expires``; the re-login write is conditional on the old item having expired."""
    require("haproxy", "dynalite")
    sc = LiveScenario(requests=60, rate=40, store="dynamodb", clients=20, ttl=1.0,
                      session_length="fixed:value=3", think="fixed:value=2.2",
                      duration=15)
    m = run_live(sc, "cookie-sticky", seed=3, out_dir=tmp_path).metrics
    assert m["failed"] == 0  # every conditional write went through
    assert m["lost_ttl"] >= 3 and m["lost_ttl"] == m["sessions_lost"]
    assert m["state_losses"] >= m["lost_ttl"]


# -- the store itself: conditional writes ---------------------------------------------
@pytest.mark.servers
@pytest.mark.parametrize("client", ["DynamoHttpStore", "DynamoStore"])
def test_dynamodb_writes_are_conditional(client: str, dynalite: Any) -> None:
    endpoint, _ = dynalite
    assert prepare_table(endpoint, "t-cond", local=True).startswith("table t-cond created")
    store = getattr(_backend_module(), client)(endpoint, "t-cond", ttl=60)

    async def scenario() -> list[Any]:
        await store.start(2)
        out: list[Any] = [await store.get(b"rb:1")]
        await store.set(b"rb:1", b"0", None)  # a new session
        out.append(await store.get(b"rb:1"))
        for value, prev in ((b"9", None), (b"9", b"5")):  # blind create, stale version
            try:
                await store.set(b"rb:1", value, prev)
                out.append("written")
            except OSError as exc:
                out.append(str(exc))
        await store.set(b"rb:1", b"1", b"0")  # the version it read
        out.append(await store.get(b"rb:1"))
        return out

    assert asyncio.run(scenario()) == [None, b"0", "dynamodb: conditional write failed",
                                       "dynamodb: conditional write failed", b"1"]


def test_signed_request_matches_botocores_sigv4(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backends' own DynamoDB requests carry the signature botocore computes."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token/with+chars")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    store = _backend_module().DynamoHttpStore("https://dynamodb.eu-west-1.amazonaws.com",
                                              "t", ttl=60)
    body = b'{"TableName": "t", "Key": {"id": {"S": "rb:1"}}}'
    now = 1_790_000_000.0
    raw = store.request("GetItem", body, now=now)
    head = dict(ln.split(": ", 1) for ln in raw.split(b"\r\n\r\n")[0].decode().split("\r\n")[1:])
    assert raw.endswith(b"\r\n\r\n" + body)
    req = AWSRequest("POST", "https://dynamodb.eu-west-1.amazonaws.com/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.GetItem"})
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                   "token/with+chars"), "dynamodb", "eu-west-1")
    import datetime
    from unittest import mock

    fixed = datetime.datetime.fromtimestamp(now, datetime.UTC).replace(tzinfo=None)
    import botocore.auth

    if hasattr(botocore.auth, "get_current_datetime"):  # botocore >= 1.35
        clock = mock.patch("botocore.auth.get_current_datetime", return_value=fixed)
    else:
        clock = mock.patch("botocore.auth.datetime.datetime", **{"utcnow.return_value": fixed})
    with clock:
        signer.add_auth(req)
    assert head["x-amz-date"] == req.headers["X-Amz-Date"]
    assert head["authorization"] == req.headers["Authorization"]


# -- a user's endpoint -------------------------------------------------------------------
@pytest.mark.servers
def test_store_endpoint_uses_an_existing_table_and_starts_no_dynalite(
        dynalite: Any, tmp_path: Path) -> None:
    require("haproxy")
    endpoint, server = dynalite
    sc = LiveScenario(requests=300, rate=500, store="dynamodb", clients=50,
                      store_endpoint=endpoint, store_table="mine")
    with pytest.raises(Exception, match=r"--store-table mine: no such table at http://"):
        run_live(sc, "round-robin", out_dir=tmp_path)
    assert server.running()
    prepare_table(endpoint, "mine", local=True)  # the user made it
    r = run_live(sc, "round-robin", out_dir=tmp_path)
    assert r.metrics["failed"] == 0 and r.metrics["sessions_lost"] == 0
    assert "dynalite" not in r.cpu_s  # routebench started none: the table is the user's
    import boto3

    items = boto3.client("dynamodb", endpoint_url=endpoint).scan(TableName="mine")["Count"]
    assert items == r.metrics["sessions"]


# -- a round trip added to every store call ----------------------------------------------
@pytest.mark.servers
def test_store_rtt_delays_every_store_call(tmp_path: Path) -> None:
    require("haproxy", "memcached")
    sc = LiveScenario(requests=300, rate=300, store="memcached", clients=50,
                      service="fixed:value=0.001", store_rtt=0.025)
    m = run_live(sc, "round-robin", out_dir=tmp_path).metrics
    # a first request writes (one call), every later one reads and writes (two)
    assert m["failed"] == 0 and m["latency_p50"] >= 2 * 0.025
    assert m["latency_mean"] >= 0.025 + 0.001


# -- bad input: one line, exit 2 ---------------------------------------------------------
@pytest.mark.parametrize("args, says", [
    (["--store-rtt", "5ms"], "--store-rtt: --store local keeps state in the backend's memory"),
    (["--store", "redis", "--store-endpoint", "http://x:1"],
     "--store-endpoint is for --store dynamodb, not redis"),
    (["--store", "dynamodb", "--store-endpoint", "dynamodb.eu-west-1"],
     "--store-endpoint 'dynamodb.eu-west-1': expected a URL http(s)://HOST[:PORT]"),
    (["--store", "dynamodb", "--store-table", "a b"], "--store-table 'a b': a DynamoDB table"),
    (["--store", "redis", "--store-rtt", "-1"], "--store-rtt '-1'"),
])
def test_store_options_bad_input(args: list[str], says: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["live", *args, "--no-json", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err


def test_missing_dynalite_names_the_npm_package(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import routebench.harness.live.runner as runner

    monkeypatch.setattr(runner, "find_binary", lambda name: "/usr/sbin/haproxy"
                        if name == "haproxy" else None)
    assert main(["live", "--store", "dynamodb", "--no-json", "-q"]) == 2
    assert capsys.readouterr().err.strip() == (
        "routebench live: error: dynalite not found on PATH: install the npm package dynalite "
        "(npm install -g dynalite), or give --store-endpoint URL")
