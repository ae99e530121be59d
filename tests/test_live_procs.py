"""routebench.harness.live._procs: free ports, start a server, wait for it, stop it by pid."""

from __future__ import annotations

import os
import socket
import sys

import pytest
from _servers import require

from routebench import RoutebenchError
from routebench.harness.live._procs import ServerProcess, free_ports, wait_listening


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _assert_nobody_listens(port: int) -> None:
    """Nothing listens on ``port`` any more. SO_REUSEADDR: the connections the stopped
    server had linger in TIME_WAIT and would make a plain bind fail though nobody
    listens; with it, Linux still refuses the bind while a socket listens there."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(5)
    assert len(set(ports)) == 5
    for p in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))


def test_start_wait_and_stop_by_pid(tmp_path):
    port = free_ports(1)[0]
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    with ServerProcess(argv, [port], cwd=tmp_path, name="http.server") as p:
        assert p.running() and p.startup_seconds is not None
        pid = p.pid
        with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert c.recv(12).startswith(b"HTTP/1.0 200")
    assert not p.running() and not _alive(pid)


def test_stopped_on_failure_inside_the_block(tmp_path):
    port = free_ports(1)[0]
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    with pytest.raises(ZeroDivisionError):
        with ServerProcess(argv, [port], cwd=tmp_path) as p:
            pid = p.pid
            1 / 0  # noqa: B018
    assert not _alive(pid)


def test_a_server_that_dies_is_reported_with_its_output(tmp_path):
    port = free_ports(1)[0]
    argv = [sys.executable, "-c", "import sys; print('bad config line 3'); sys.exit(4)"]
    with pytest.raises(RoutebenchError, match=r"exited with status 4 before listening on "
                                              r"127.0.0.1:\d+; its output: bad config line 3"):
        ServerProcess(argv, [port], log=tmp_path / "out.log").start()
    with pytest.raises(RoutebenchError, match=r"cannot start"):
        ServerProcess([str(tmp_path / "no-such-binary")], [port]).start()


def test_wait_listening_times_out():
    port = free_ports(1)[0]
    with pytest.raises(RoutebenchError, match=r"not listening on 127.0.0.1:\d+ after 0.1 s"):
        wait_listening([port], timeout=0.1)


# -- runtime events on real HAProxy: drain, join, recover ----------------------------------


def _live(tmp_path, spec, events, **kw):
    from routebench.harness.live.runner import LiveScenario, run_live
    from routebench.harness.sim._simdist import Event

    fields = dict(requests=None, duration=3.0, rate=500, clients=200,
                  session_length="fixed:value=10", think="fixed:value=0.05")
    fields.update(kw)
    sc = LiveScenario(events=tuple(Event(*e) for e in events), **fields)
    return run_live(sc, spec, seed=4, out_dir=tmp_path)


@pytest.mark.servers
def test_drained_backend_gets_no_new_sessions_but_keeps_its_sticky_ones(tmp_path):
    """state drain: HAProxy sends a drained server only the requests whose cookie names it.
    With the state in the backends' memory, a pinned session moved elsewhere would be
    lost: none is, and the drained server serves only the sessions it had."""
    require("haproxy")
    r = _live(tmp_path, "cookie-sticky", [("drain", "backend-1", 0.3)])
    m, total = r.metrics, sum(r.counts)
    assert [e["event"] for e in r.events] == ["drain"]
    assert total > 1000 and m["failed"] == 0
    assert m["sessions_lost"] == 0 and m["repins"] == 0  # sticky sessions stayed
    # sessions started in the first 0.3 s, ~1/4 of them on backend-1, 10 requests each
    # (without the drain it serves ~1/4 of all requests)
    assert 0 < r.counts[1] <= 0.08 * total
    assert min(r.counts[i] for i in (0, 2, 3)) > 0.25 * total


@pytest.mark.servers
def test_joined_backend_receives_traffic_after_join(tmp_path):
    require("haproxy")
    r = _live(tmp_path, "round-robin", [("join", "backend-4", 1.0)])
    total = sum(r.counts)
    assert len(r.counts) == 5 and r.nodes == 4
    assert [b["initial"] for b in r.backends] == [True] * 4 + [False]
    assert r.events[0]["event"] == "join" and r.metrics["failed"] == 0
    # round-robin over 5 for the last ~2 s of 3: ~13% of the requests; none before
    assert 0.06 * total < r.counts[4] < 0.2 * total


@pytest.mark.servers
def test_recovered_backend_comes_back(tmp_path):
    require("haproxy")
    crash_only = _live(tmp_path, "round-robin", [("crash", "backend-1", 0.5)])
    r = _live(tmp_path, "round-robin", [("crash", "backend-1", 0.5),
                                        ("recover", "backend-1", 1.0)])
    assert [e["event"] for e in r.events] == ["crash", "recover"]
    share = r.counts[1] / sum(r.counts)
    share_crashed = crash_only.counts[1] / sum(crash_only.counts)
    # down for 0.5 s of 3 when it comes back (~1/4 x 2.5/3 = 21%), ~1/4 x 0.5/3 = 4% if not
    assert share_crashed < 0.08 and share > 0.14
    assert r.metrics["failed"] <= 10  # the requests in flight at the kill


# -- bad input: a backend that fails to start ------------------------------------------------
@pytest.mark.servers
def test_backend_that_fails_to_start_is_one_line_and_stops_the_rest(tmp_path, monkeypatch,
                                                                    capsys):
    import json

    import routebench.harness.live.runner as runner
    from routebench.cli import main

    require("haproxy", "redis-server")
    bad = tmp_path / "backend.py"
    bad.write_text("import sys\nprint('cannot bind: no such thing')\nsys.exit(3)\n")
    monkeypatch.setattr(runner, "_BACKEND_PY", bad)
    assert main(["live", "--store", "redis", "--out", str(tmp_path / "out"), "--no-json",
                 "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("routebench live: error: backend-0 exited with status 3 before "
                          "listening on 127.0.0.1:") and err.endswith(
        "its output: cannot bind: no such thing")
    rows = json.loads((tmp_path / "out" / "processes.json").read_text())
    assert [r["name"] for r in rows] == ["redis"]  # started; the backend never listened
    for row in rows:
        assert not _alive(row["pid"]) or open(f"/proc/{row['pid']}/stat").read().split()[2] \
            == "Z"
        _assert_nobody_listens(row["ports"][0])


@pytest.mark.servers
def test_sigint_stops_nginx_workers_and_dynalite(tmp_path):
    """nginx forks workers and dynalite is a Node.js process: Ctrl-C leaves none of them."""
    import json
    import signal
    import subprocess
    import time
    from pathlib import Path

    require("haproxy", "nginx", "dynalite")
    proc = subprocess.Popen([sys.executable, "-m", "routebench.cli", "live", "--lb", "nginx",
                             "--store", "dynamodb", "--duration", "30", "--out", "out",
                             "--no-json", "-q"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    manifest = tmp_path / "out" / "processes.json"
    deadline = time.monotonic() + 30
    rows = []
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            rows = json.loads(manifest.read_text())
        except (OSError, ValueError):
            rows = []
        if any(r["name"] == "nginx" for r in rows):
            break
        time.sleep(0.05)
    assert {r["name"] for r in rows} >= {"dynalite", "backend-0", "nginx"}, proc.stderr
    nginx = next(r["pid"] for r in rows if r["name"] == "nginx")
    workers = Path(f"/proc/{nginx}/task/{nginx}/children").read_text().split()
    assert workers  # nginx's worker runs in the master's process group
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode in (130, 2, -signal.SIGINT), err
    time.sleep(0.2)
    for pid in [r["pid"] for r in rows] + [int(w) for w in workers]:
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z", pid
    for r in rows:
        for port in r["ports"]:
            _assert_nobody_listens(port)
