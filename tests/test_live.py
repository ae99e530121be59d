"""``routebench live``: the failure story on real processes (HAProxy, backends, Redis,
memcached), small runs.

What the tests show: a crash with local state loses every session pinned to the
crashed backend; with Redis or memcached none, only requests in flight fail; 50
users behind one NAT address land on one backend under ``balance source`` and
spread under cookie stickiness; nothing is left running after a normal exit, an
error, SIGINT or SIGTERM; bad input is one line and exit 2.

Tests that start servers skip when one is missing (naming its Debian package),
or fail instead with ROUTEBENCH_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _servers import require
from hypothesis import given, settings
from hypothesis import strategies as st

from routebench._errors import RoutebenchError
from routebench.cli import main
from routebench.harness.live._haproxy import balance_lines, haproxy_config
from routebench.harness.live._loadgen import client_addresses
from routebench.harness.live._procs import free_ports
from routebench.harness.live.runner import LiveScenario, run_live
from routebench.harness.sim._simdist import Event
from routebench.records import RECORD_KINDS, LiveRecord, record_from_json


# -- configuration, no servers ----------------------------------------------------------
@pytest.mark.parametrize("spec, lines", [
    ("round-robin", ["balance roundrobin"]),
    ("least-connections", ["balance leastconn"]),
    ("p2c", ["balance random(2)"]),
    ("p2c:d=3", ["balance random(3)"]),
    ("cookie-sticky", ["balance roundrobin", "cookie LB_ROUTE insert indirect nocache"]),
    ("cookie-sticky:base=p2c", ["balance random(2)", "cookie LB_ROUTE insert indirect nocache"]),
    ("ip-hash-sticky", ["balance source", "hash-type map-based"]),
    ("ip-hash-sticky:keyed=ring", ["balance source", "hash-type consistent"]),
    ("key-hash", ["balance uri", "hash-type consistent"]),
    ("key-hash:on=session", ["balance hdr(X-Session)", "hash-type consistent"]),
    ("bounded-load", ["balance hdr(X-Session)", "hash-type consistent",
                      "hash-balance-factor 125"]),
    ("bounded-load:eps=0.5,on=key", ["balance uri", "hash-type consistent",
                                     "hash-balance-factor 150"]),
])
def test_balancer_maps_to_haproxy_directives(spec: str, lines: list[str]) -> None:
    assert balance_lines(spec) == lines


@pytest.mark.parametrize("spec, says", [("rign", "unknown"), ("ip-hash-sticky:keyed=maglev",
                                                               "keyed=maglev")])
def test_balancer_without_haproxy_equivalent_is_refused(spec: str, says: str) -> None:
    with pytest.raises(RoutebenchError, match=says):
        balance_lines(spec)


def test_config_names_every_server_and_cookie() -> None:
    cfg = haproxy_config("cookie-sticky", [("backend-0", 9001), ("backend-1", 9002)], 9000,
                         "/tmp/x.sock", disabled=["backend-1"])
    assert "bind 127.0.0.1:9000" in cfg
    assert "server backend-0 127.0.0.1:9001 cookie backend-0\n" in cfg
    assert "server backend-1 127.0.0.1:9002 cookie backend-1 disabled" in cfg
    assert "stats socket /tmp/x.sock" in cfg


def test_nat_users_share_one_address_others_own_one() -> None:
    addrs, group = client_addresses(120, (50, 20))
    assert len(set(addrs[:50])) == 1 and len(set(addrs[50:70])) == 1
    assert len(set(addrs[70:])) == 50 and not set(addrs[70:]) & set(addrs[:70])
    assert list(group[:70]) == [0] * 50 + [1] * 20 and (group[70:] == -1).all()


def test_live_record_round_trips() -> None:
    assert RECORD_KINDS["live"] is LiveRecord
    r = LiveRecord(strategy="p2c", params={"d": 2}, label="p2c", nodes=4,
                   metrics={"failed": 0}, store="redis", balancer_config=["balance random(2)"])
    back = record_from_json(json.loads(json.dumps(r.to_json())))
    assert back == r and back.to_json()["record"] == "live"


# -- the agreement, on real processes -----------------------------------------------------
def _crash_run(store: str, tmp_path: Path) -> LiveRecord:
    sc = LiveScenario(requests=2000, rate=1000, store=store, clients=300,
                      events=(Event("crash", "backend-1", 1.0),))
    return run_live(sc, "cookie-sticky", seed=1, out_dir=tmp_path)


@pytest.mark.servers
def test_crash_with_local_state_loses_every_pinned_session(tmp_path: Path) -> None:
    require("haproxy")
    r = _crash_run("local", tmp_path)
    m = r.metrics
    assert m["crash_pinned"] >= 5
    assert m["crash_lost"] == m["crash_pinned"]
    assert m["lost_crash"] >= m["crash_pinned"]
    assert m["crash_others_lost"] == 0  # cookies keep the other sessions where they were
    assert r.counts[1] < max(r.counts)  # the crashed backend served until it died
    assert (tmp_path / "haproxy-cookie-sticky.cfg").read_text().count("cookie LB_ROUTE") == 1


@pytest.mark.servers
@pytest.mark.parametrize("store", ["redis", "memcached"])
def test_crash_with_a_store_loses_no_session(store: str, tmp_path: Path) -> None:
    require("haproxy", "redis-server" if store == "redis" else "memcached")
    r = _crash_run(store, tmp_path)
    m = r.metrics
    assert m["crash_pinned"] >= 5
    assert m["crash_lost"] == 0 and m["sessions_lost"] == 0
    # only the requests in flight on the crashed backend: at most one a session pinned to it
    # (crash_pinned counts those that went on; a few may have ended on the failed request)
    assert m["failed"] <= m["crash_pinned"] + 10
    assert m["completed"] + m["failed"] == m["requests"]
    assert r.cpu_s.get("redis" if store == "redis" else "memcached", 0) > 0


@pytest.mark.servers
@pytest.mark.parametrize("spec, one_backend", [("ip-hash-sticky", True),
                                               ("cookie-sticky", False)])
def test_nat_group_under_source_hash_and_cookies(spec: str, one_backend: bool,
                                                 tmp_path: Path) -> None:
    require("haproxy")
    sc = LiveScenario(requests=1500, rate=1000, clients=100, nat=(50,))
    r = run_live(sc, spec, seed=2, out_dir=tmp_path)
    g = r.nat_groups[0]
    assert g["size"] == 50 and g["requests"] > 300
    if one_backend:
        assert g["backends_used"] == 1 and g["top_backend_share"] == 1.0
    else:
        assert g["backends_used"] == 4 and g["top_backend_share"] < 0.5


# -- the command: output, bad input, nothing left behind --------------------------------
def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _cli(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "routebench.cli", "live", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_manifest(out: Path, proc: subprocess.Popen[str], want: str = "haproxy",
                   timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            rows = json.loads((out / "processes.json").read_text())
        except (OSError, ValueError):
            rows = []
        if any(r["name"] == want for r in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"no {want} in {out / 'processes.json'}; stderr: "
                         f"{proc.stderr.read() if proc.stderr else ''}")


def _assert_gone(rows: list[dict]) -> None:
    time.sleep(0.2)
    left = [r for r in rows if _alive(r["pid"])]
    assert not left, f"left running: {left}"
    assert not [p for r in rows for p in r["ports"] if _listening(p)]


@pytest.mark.servers
def test_cli_run_prints_the_table_writes_json_and_leaves_nothing(tmp_path: Path) -> None:
    require("haproxy", "redis-server")
    proc = _cli(["--balancer", "p2c", "--store", "redis", "--requests", "1500",
                 "--crash", "backend-0@0.8", "--out", "out", "--json", "r.json"], tmp_path)
    rows = _wait_manifest(tmp_path / "out", proc)
    assert {r["name"] for r in rows} >= {"redis", "backend-0", "backend-3", "haproxy"}
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "| p2c " in out and "crash: lost of pinned" in out
    _assert_gone(rows)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["kind"] == "live" and report["results"][0]["record"] == "live"
    assert report["results"][0]["balancer_config"] == ["balance random(2)"]
    assert (tmp_path / "out" / "haproxy-p2c.cfg").exists()


@pytest.mark.servers
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_every_process(sig: int, tmp_path: Path) -> None:
    require("haproxy", "memcached")
    proc = _cli(["--store", "memcached", "--duration", "30", "--out", "out", "--no-json"],
                tmp_path)
    rows = _wait_manifest(tmp_path / "out", proc)
    time.sleep(0.5)  # traffic flowing
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode in (130, 2, -sig), err
    _assert_gone(rows)


@pytest.mark.servers
def test_config_haproxy_rejects_is_one_line_and_stops_the_backends(tmp_path: Path) -> None:
    require("haproxy")
    proc = _cli(["--haproxy-line", "no-such-directive 1", "--out", "out", "--no-json"],
                tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith("routebench live: error: HAProxy rejects") and "no-such-directive" \
        in line
    rows = json.loads((tmp_path / "out" / "processes.json").read_text())
    assert {r["name"] for r in rows} >= {"backend-0", "backend-3"}
    _assert_gone(rows)


def test_unknown_balancer_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["live", "--balancer", "rign", "--no-json", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rign" in err


def test_missing_binary_names_the_debian_package(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import routebench.harness.live.runner as runner

    monkeypatch.setattr(runner, "find_binary", lambda name: None)
    assert main(["live", "--store", "redis", "--no-json", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("routebench live: error: haproxy not found: install the Debian package "
                   "haproxy (apt-get install haproxy)")


def test_port_in_use_is_one_line_exit_2(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    require("haproxy")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["live", "--port", str(port), "--out", str(tmp_path), "--no-json",
                     "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"routebench live: error: --port {port}: 127.0.0.1:{port} is in use"
    assert free_ports(1)  # nothing else to check: it failed before starting anything


# -- IP changes, load counters, the simulator side by side ----------------------------------
def test_load_counters_give_simulates_imbalance_and_utilisation() -> None:
    from routebench.harness.live._counters import LOG_DTYPE, load_metrics

    def log(rows: list[tuple[int, float]]) -> np.ndarray:
        return np.array(rows, dtype=LOG_DTYPE)

    # backend 0: one request outstanding over [0, 4) s, busy [1, 4); backend 1: idle
    logs = {0: log([(0, 100.0), (1, 101.0), (2, 104.0)]), 1: log([])}
    up = [[(-np.inf, np.inf)], [(-np.inf, np.inf)]]
    m, rows = load_metrics(logs, 100.0, 2, 2, up, span=8.0, windows=4)
    # windows of 2 s: max 1, mean 1/2 over the first two; nothing outstanding after
    assert m["outstanding_imbalance_avg"] == pytest.approx(2.0)
    assert m["outstanding_imbalance_worst"] == pytest.approx(2.0)
    assert m["outstanding_peak"] == 1
    assert m["utilization"] == pytest.approx(3.0 / (2 * 8.0 * 2))
    assert rows[0]["mean_outstanding"] == pytest.approx(0.5)
    # a crash at 2 s ends backend 0's request there, and it is no longer counted
    m, rows = load_metrics(logs, 100.0, 2, 2, [[(-np.inf, 2.0)], [(-np.inf, np.inf)]],
                           span=8.0, windows=4)
    assert rows[0]["mean_outstanding"] == pytest.approx(2.0 / 8.0)
    assert m["outstanding_imbalance_worst"] == pytest.approx(2.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0.0, 9.0), st.floats(0.0, 1.0)),
                min_size=1, max_size=30), st.floats(1.0, 10.0))
def test_load_counters_always_hold(reqs: list[tuple[int, float, float]], span: float) -> None:
    """Whatever the requests: max/mean is at least 1, the worst window at least the
    average, and the busy worker-seconds at most the requests' service times."""
    from routebench.harness.live._counters import LOG_DTYPE, load_metrics

    rows: dict[int, list[tuple[int, float]]] = {0: [], 1: [], 2: []}
    for b, t, d in reqs:  # arrive, start, end at backend b
        rows[b] += [(0, t), (1, t), (2, t + d)]
    logs = {b: np.array(sorted(r, key=lambda x: x[1]), dtype=LOG_DTYPE) for b, r in rows.items()}
    up = [[(-np.inf, np.inf)]] * 3
    m, per = load_metrics(logs, 0.0, 3, 1000, up, span=span, windows=10)
    if m["outstanding_imbalance_avg"] is not None:
        assert m["outstanding_imbalance_avg"] >= 1.0 - 1e-9
        assert m["outstanding_imbalance_worst"] >= m["outstanding_imbalance_avg"] - 1e-9
        assert m["outstanding_imbalance_overall"] >= 1.0 - 1e-9
    assert 0.0 <= m["utilization"] <= sum(d for _, _, d in reqs) / (1000 * span * 3) + 1e-9
    for b in per:
        assert b["mean_outstanding"] >= 0.0


def test_compare_sim_gives_the_simulator_haproxys_source_hash() -> None:
    from ipaddress import IPv4Address

    from routebench.harness.live._compare import sim_scenario, source_digests
    from routebench.harness.sim import simulate

    live = LiveScenario(backends=4, clients=60, nat=(20,), requests=3000, rate=500.0,
                        think="exp:mean=0.05", events=(Event("crash", "backend-2", 2.0),))
    sc = sim_scenario(live)
    assert (sc.backends, sc.workers, sc.clients, tuple(sc.nat), sc.requests) == (4, 8, 60, (20,),
                                                                                 3000)
    assert sc.service == live.service and sc.think == live.think and not sc.warm_start
    assert sc.events == live.events and sc.store == "local"
    assert sc.rates()[1] == pytest.approx(500.0)
    digests = source_digests(60, (20,))
    assert digests[0] == int(IPv4Address("127.99.0.1")) and len(digests) == 1 + 40
    # HAProxy's map-based source hash: the address modulo the servers up
    r = simulate(sc.replace(events=()), "ip-hash-sticky", seed=3)
    g = r.nat_groups[0]
    assert g["backends_used"] == 1 and g["top_backend"] == f"backend-{digests[0] % 4}"


@pytest.mark.servers
def test_ip_change_keeps_the_cookie_session_and_loses_the_source_hash_one(
        tmp_path: Path) -> None:
    """A session whose address changes keeps its state with the cookie; under ``balance
    source`` it keeps it only when the new address hashes to the same backend: about 1
    in 4, as the simulator has it."""
    require("haproxy")
    from routebench.harness.live._compare import sim_scenario
    from routebench.harness.sim import simulate

    sc = LiveScenario(requests=3000, rate=1000, clients=300, session_length="6",
                      think="exp:mean=0.1", ip_change_rate=3.0)
    got = {spec: run_live(sc, spec, seed=4, out_dir=tmp_path).metrics
           for spec in ("cookie-sticky", "ip-hash-sticky")}
    cookie, source = got["cookie-sticky"], got["ip-hash-sticky"]
    for m in (cookie, source):
        assert m["ip_changes"] > 100 and m["ip_change_sessions"] > 50
    assert cookie["ip_change_survival"] == 1.0 and cookie["lost_ip_change"] == 0
    # (a client's concurrent sessions share its cookie jar: a rare re-route, not the address)
    assert cookie["sessions_lost_pct"] < 2.0
    assert source["lost_ip_change"] > 20
    sim = np.mean([simulate(sim_scenario(sc), "ip-hash-sticky", seed=s).metrics[
        "ip_change_survival"] for s in range(4)])
    assert 0.0 < source["ip_change_survival"] < 0.6
    assert abs(source["ip_change_survival"] - sim) < 0.15, (source["ip_change_survival"], sim)


@pytest.mark.servers
def test_backends_counters_measure_their_load(tmp_path: Path) -> None:
    """Utilisation from the backends' counters matches what was served (Little's law:
    served x mean service time over worker-seconds), and the crashed backend's stops."""
    require("haproxy")
    sc = LiveScenario(requests=3000, rate=1000, clients=300, service="fixed:value=0.01",
                      events=(Event("crash", "backend-1", 1.0),))
    r = run_live(sc, "round-robin", seed=5, out_dir=tmp_path)
    m = r.metrics
    span = m["measured_time"]
    for b in r.backends:
        expect = b["served"] * 0.01 / (sc.workers * span)
        # a slot is held a little longer than the service time (the event loop's turns,
        # longer on a loaded machine), never shorter
        assert expect * 0.95 <= b["utilization"] <= expect * 1.8 + 0.01, b
    assert r.backends[1]["utilization"] < 0.5 * r.backends[0]["utilization"]
    assert m["outstanding_imbalance_avg"] >= 1.0
    assert m["outstanding_imbalance_worst"] >= m["outstanding_imbalance_avg"]
    assert 0 < m["utilization"] < 1 and m["outstanding_peak"] >= 1


@pytest.mark.servers
def test_cli_compare_sim_prints_both_and_keeps_both(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    require("haproxy")
    code = main(["live", "-q", "--balancer", "cookie-sticky", "--requests", "1200",
                 "--crash", "1@0.8", "--compare-sim", "--out", str(tmp_path / "out"),
                 "--json", str(tmp_path / "r.json")])
    assert code == 0
    out = capsys.readouterr().out
    assert "live - simulated" in out and "sessions lost %" in out
    assert "share of requests backend-1 %" in out
    data = json.loads((tmp_path / "r.json").read_text())
    [cmp] = data["config"]["compare_sim"]
    assert cmp["balancer"] == "cookie-sticky" and cmp["sim"]["record"] == "sim"
    rows = {r["metric"]: r for r in cmp["rows"]}
    live = data["results"][0]["metrics"]
    assert rows["sessions_lost_pct"]["live"] == pytest.approx(live["sessions_lost_pct"])
    assert rows["sessions_lost_pct"]["sim"] == pytest.approx(
        cmp["sim"]["metrics"]["sessions_lost_pct"])
    assert rows["requests"]["difference"] == 0


# -- routebench claims --live ---------------------------------------------------------------
def test_claims_live_column_names_the_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from routebench.harness.experiments.claims import run_claims
    from routebench.harness.live import _procs

    monkeypatch.setattr(_procs, "find_binary", lambda name, *a, **k: None)
    [r] = run_claims([4], size="small", live=True)
    assert r.headers[-1].startswith("live")
    assert {row[-1] for row in r.rows} == {"not run: haproxy missing"}
    assert r.data["live"]["runs"] == {}


@pytest.mark.servers
def test_claims_live_adds_a_measured_column(tmp_path: Path) -> None:
    require("haproxy")
    sys.path.insert(0, str(Path(__file__).parent))
    from test_claims import _unsourced

    md, js = tmp_path / "claims.md", tmp_path / "claims.json"
    assert main(["claims", "--only", "4", "--size", "small", "--live", "-q",
                 "--output", str(md), "--json", str(js)]) == 0
    text = md.read_text()
    [rec] = json.loads(js.read_text())["results"]
    cells = {ln.split("|")[1].strip(): ln.split("|")[-2].strip()
             for ln in text.splitlines() if ln.startswith("| ip-hash") or
             ln.startswith("| cookie") or ln.startswith("| p2c")}
    assert cells["ip-hash-sticky"] == "1 backend(s), top 100%"
    assert cells["ip-hash-sticky:keyed=ring"] == "1 backend(s), top 100%"
    assert cells["ip-hash-sticky:keyed=maglev"] == "not run: no HAProxy equivalent"
    assert cells["cookie-sticky"].startswith("4 backend(s)")
    assert "routebench claims --only 4 --seed 0 --size small --live" in text
    runs = rec["data"]["live"]["runs"]
    assert runs["ip-hash-sticky"]["nat_groups"][0]["backends_used"] == 1
    assert _unsourced(text.split("## 4.")[1], rec) == []
