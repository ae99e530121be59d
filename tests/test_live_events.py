"""``routebench live --store-crash`` (and ``--store-recover``): the session store killed
(SIGKILL) under load, on real processes.

Needs HAProxy and redis-server (Debian packages ``haproxy``, ``redis-server``); the
server tests skip naming them when absent, unless ROUTEBENCH_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _servers import require

from routebench._errors import RoutebenchError
from routebench.cli import main
from routebench.harness.live.runner import LiveScenario, run_live


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# -- refused before anything starts ------------------------------------------------------
@pytest.mark.parametrize("kw, words", [
    ({"store": "local", "store_crash": 1.0}, "--store local"),
    ({"store": "dynamodb", "store_endpoint": "https://dynamodb.eu-west-1.amazonaws.com",
      "store_crash": 1.0}, "only a store it started"),
    ({"store": "redis", "store_recover": 2.0}, "give --store-crash"),
    ({"store": "redis", "store_crash": 2.0, "store_recover": 1.0}, "after --store-crash"),
])
def test_store_crash_refusals_are_one_line(kw: dict, words: str) -> None:
    with pytest.raises(RoutebenchError, match=words) as err:
        LiveScenario(**kw)
    assert "\n" not in str(err.value)


def test_cli_store_crash_with_local_state_is_one_line(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["live", "-q", "--store-crash", "1s", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--store-crash" in err and "local" in err


# -- on real processes ---------------------------------------------------------------------
def _pids(out: Path) -> list[int]:
    return [r["pid"] for r in json.loads((out / "processes.json").read_text())]


@pytest.mark.servers
def test_store_crash_fails_requests_and_loses_sessions_then_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require("haproxy", "redis-server")
    from routebench.harness.live import runner

    seen: list[int] = []  # every pid the run started, read from its manifest as it goes
    manifest = runner._Run._manifest

    def spy(self: runner._Run) -> None:
        manifest(self)
        seen.extend(_pids(self.out))

    monkeypatch.setattr(runner._Run, "_manifest", spy)
    sc = LiveScenario(requests=3000, duration=8.0, rate=600, clients=200, store="redis",
                      store_crash=1.5)
    r = run_live(sc, "cookie-sticky", seed=2, out_dir=tmp_path)
    m = r.metrics
    # the run ended by itself, bounded: the requests after the crash were answered (503)
    assert m["wall_s"] < 8.0 + 20
    assert m["completed"] + m["failed"] == m["requests"]
    assert m["failed"] > 0 and r.errors.get("HTTP 503", 0) > 0
    assert m["completed"] > 0  # before the crash
    assert m["lost_store"] > 0 and m["sessions_lost"] >= m["lost_store"]
    assert m["crash_pinned"] == 0 and m["lost_crash"] == 0  # no backend crashed
    [ev] = r.events
    assert ev["event"] == "store_crash" and ev["backend"] == "redis" and ev["at"] >= 1.5
    assert seen and not [p for p in set(seen) if _alive(p)]


@pytest.mark.servers
def test_store_recover_comes_back_empty(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    require("haproxy", "redis-server")
    code = main(["live", "-q", "--store", "redis", "--balancer", "p2c", "--requests", "3000",
                 "--duration", "8s", "--rate", "600", "--clients", "200",
                 "--store-crash", "1.5s", "--store-recover", "2.5s", "--out",
                 str(tmp_path / "o"), "--json", str(tmp_path / "r.json")])
    assert code == 0
    [rec] = json.loads((tmp_path / "r.json").read_text())["results"]
    m = rec["metrics"]
    store = [e for e in rec["events"] if e["event"].startswith("store")]  # the preset crashes
    assert [e["event"] for e in store] == ["store_crash", "store_recover"]  # backend-1 too
    assert m["completed"] + m["failed"] == m["requests"]
    # requests fail only while the store is down: most of the run after it was served
    assert 0 < m["failed"] < m["completed"]
    assert m["lost_store"] > 0
    # requests served after the restart: the store came back and the backends reconnected
    back = store[1]["at"]
    assert m["measured_time"] > back + 1
    assert not (tmp_path / "o" / "processes.json").exists()


# -- --trace: a recorded trace replayed ------------------------------------------------------
def _access_log(tmp_path: Path, n: int = 500) -> Path:
    path = tmp_path / "f.log"
    assert main(["trace", "generate", "access-log:rate=100", "-n", str(n), "-q",
                 "-o", str(path)]) == 0
    return path


def test_trace_plan_keeps_clients_sessions_and_times(tmp_path: Path) -> None:
    from routebench.harness.live._loadgen import trace_plan

    plan = trace_plan(str(_access_log(tmp_path)), 400)
    assert plan.requests == 400
    assert (plan.t[0] == 0) and (plan.t[1:] >= plan.t[:-1]).all() and plan.t[-1] > 2
    # one address a trace client; users behind one client (a NAT) share it
    by_client: dict[int, set[str]] = {}
    for u, c in enumerate(plan.user_client.tolist()):
        by_client.setdefault(c, set()).add(plan.addrs[u])
    assert all(len(a) == 1 for a in by_client.values())
    assert len({next(iter(a)) for a in by_client.values()}) == len(by_client)
    assert len(by_client) < len(plan.addrs)  # some users share a client address
    assert all(a.startswith("127.") for a in plan.addrs)
    with pytest.raises(RoutebenchError, match="missing.log: no such file"):
        trace_plan(str(tmp_path / "missing.log"))


def test_cli_trace_refuses_synthetic_session_options(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["live", "-q", "--trace", str(tmp_path / "f.log"), "--clients", "50",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--trace and --clients" in err


@pytest.mark.servers
def test_trace_replay_through_haproxy_keeps_each_client_address(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require("haproxy")
    from routebench.harness.live._loadgen import LoadGen, trace_plan

    seen: list[tuple[int, str, int]] = []  # (user, source address, tally index)
    gens: list[LoadGen] = []
    request = LoadGen._request

    async def spy(self: LoadGen, s: Any, conn: Any, key: int | None = None) -> Any:
        if not gens:
            gens.append(self)
        out = await request(self, s, conn, key)
        # its answer was the last appended: nothing ran between that and this return
        seen.append((s.client, s.addr, len(self.tally.backend) - 1))
        return out

    monkeypatch.setattr(LoadGen, "_request", spy)
    log = str(_access_log(tmp_path))
    plan = trace_plan(log, 500)
    sc = LiveScenario(trace=log, requests=500, duration=30.0)
    r = run_live(sc, "ip-hash-sticky", out_dir=tmp_path / "o")
    m = r.metrics
    assert m["requests"] == 500 and m["completed"] + m["failed"] == 500
    assert m["failed"] == 0  # nothing crashed: every request answered
    assert m["sessions"] == len(set(plan.session.tolist()))
    assert m["wall_s"] >= plan.t[-1]  # at the recorded times, not as fast as possible
    assert len(seen) == 500
    # the same trace user always from its client's address, one address a trace client
    assert all(plan.addrs[u] == a for u, a, _ in seen)
    assert len({a for _, a, _ in seen}) == len(set(plan.user_client[[u for u, _, _ in seen]]
                                                   .tolist()))
    # HAProxy saw those addresses: under balance source one address, one backend
    backend = gens[0].tally.backend
    on: dict[str, set[int]] = {}
    for _, a, i in seen:
        on.setdefault(a, set()).add(backend[i])
    assert all(len(b) == 1 for b in on.values())
    assert len(set().union(*on.values())) > 1  # and the addresses spread over backends
    assert not (tmp_path / "o" / "processes.json").exists()
