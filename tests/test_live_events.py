"""``routebench live --store-crash`` (and ``--store-recover``): the session store killed
(SIGKILL) under load, on real processes.

Needs HAProxy and redis-server (Debian packages ``haproxy``, ``redis-server``); the
server tests skip naming them when absent, unless ROUTEBENCH_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from routebench._errors import RoutebenchError
from routebench.cli import main
from routebench.harness.live._procs import find_binary
from routebench.harness.live.runner import LiveScenario, run_live

PACKAGES = {"haproxy": "haproxy", "redis-server": "redis-server"}


def require(*binaries: str) -> None:
    missing = [b for b in binaries if find_binary(b) is None]
    if not missing:
        return
    msg = "; ".join(f"{b} is not installed (Debian package {PACKAGES[b]})" for b in missing)
    if os.environ.get("ROUTEBENCH_REQUIRE_SERVERS") == "1":
        pytest.fail(msg + "; ROUTEBENCH_REQUIRE_SERVERS=1 requires it")
    pytest.skip(msg)


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
