"""routebench.harness.live._procs: free ports, start a server, wait for it, stop it by pid."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from routebench import RoutebenchError
from routebench.harness.live._procs import ServerProcess, free_ports, wait_listening


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
