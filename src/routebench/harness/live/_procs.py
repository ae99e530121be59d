"""Server processes for live checks: free loopback ports, start, wait, stop.

    with ServerProcess(["haproxy", "-f", cfg, "-db"], ports=[8001]) as p:
        ...                                   # p.pid is listening on 127.0.0.1:8001

A process is started in a session of its own, so stopping it reaches every
process it forked (nginx's workers) and nothing else: ``stop`` signals that
process group by the id of the process this module started, SIGTERM first,
SIGKILL if it has not exited after ``stop_timeout`` seconds. The context
manager stops it on the way out whatever happened inside, and a process that
dies while starting is reported with the end of its output.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..._errors import RoutebenchError

__all__ = ["free_ports", "wait_listening", "ServerProcess", "find_binary", "LOOPBACK"]

LOOPBACK = "127.0.0.1"


def find_binary(name: str, extra_dirs: Iterable[str] = ("/usr/sbin", "/usr/local/sbin",
                                                          "/sbin")) -> str | None:
    """The path of an executable on PATH or in the usual sbin directories, or None."""
    found = shutil.which(name)
    if found:
        return found
    for d in extra_dirs:
        p = Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def free_ports(n: int, host: str = LOOPBACK) -> list[int]:
    """``n`` distinct TCP ports free on ``host`` right now (the kernel picks them).

    The sockets are held until all ``n`` are chosen, so no port repeats; another
    process could still take one before it is used, as with any such probe.
    """
    if n < 0:
        raise RoutebenchError(f"free_ports: n={n} must not be negative")
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                              socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_listening(ports: Sequence[int], host: str = LOOPBACK, timeout: float = 10.0,
                   proc: subprocess.Popen | None = None, what: str = "server") -> float:
    """Wait until every port accepts a connection; the seconds it took.

    Raises ``RoutebenchError`` on timeout, or at once if ``proc`` exits first.
    """
    t0 = time.monotonic()
    pending = list(ports)
    delay = 0.002
    while pending:
        if proc is not None and proc.poll() is not None:
            raise RoutebenchError(f"{what} exited with status {proc.returncode} before "
                                  f"listening on {host}:{pending[0]}")
        pending = [p for p in pending if not _accepts(host, p)]
        if not pending:
            break
        if time.monotonic() - t0 > timeout:
            raise RoutebenchError(f"{what} is not listening on {host}:{pending[0]} after "
                                  f"{timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return time.monotonic() - t0


def _tail(path: Path | None, limit: int = 2000) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_bytes()[-limit:].decode("utf-8", "replace").strip()
    return text.replace("\n", " | ")


class ServerProcess:
    """A server process started on loopback ports, stopped by its pid.

    ``argv``: the command; ``ports``: what it must listen on before ``start``
    returns; output goes to ``log`` (a temporary file unless given). Use it as
    a context manager, or call ``start`` and ``stop`` yourself.
    """

    def __init__(self, argv: Sequence[str], ports: Sequence[int] = (), *,
                 host: str = LOOPBACK, cwd: str | os.PathLike | None = None,
                 env: Mapping[str, str] | None = None, log: str | os.PathLike | None = None,
                 start_timeout: float = 10.0, stop_timeout: float = 5.0,
                 name: str | None = None) -> None:
        self.argv = [str(a) for a in argv]
        self.ports = list(ports)
        self.host = host
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.name = name or Path(self.argv[0]).name
        self.log = Path(log) if log is not None else None
        self._own_log = log is None
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> ServerProcess:
        """Start the process and wait until it listens on every port."""
        if self.proc is not None:
            raise RoutebenchError(f"{self.name} is already started (pid {self.proc.pid})")
        if self.log is None:
            fd, path = tempfile.mkstemp(prefix=f"routebench-{self.name}-", suffix=".log")
            os.close(fd)
            self.log = Path(path)
        with open(self.log, "ab") as out:
            try:
                self.proc = subprocess.Popen(
                    self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                )
            except OSError as exc:
                raise RoutebenchError(f"cannot start {self.name} ({self.argv[0]}): "
                                      f"{exc.strerror}") from None
        try:
            self.startup_seconds = wait_listening(self.ports, self.host, self.start_timeout,
                                                  self.proc, self.name)
        except RoutebenchError as exc:
            self.stop()
            tail = _tail(self.log)
            raise RoutebenchError(f"{exc}{'; its output: ' + tail if tail else ''}") from None
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """Stop the process (and what it forked) by its pid; its exit status."""
        proc = self.proc
        if proc is None:
            return None
        pid = proc.pid
        if proc.poll() is None:
            self._signal(pid, signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._signal(pid, signal.SIGKILL)
                proc.wait(self.stop_timeout)
        # forked children (nginx workers) share the group; make sure none is left
        self._signal(pid, signal.SIGKILL, group_only=True)
        return proc.returncode

    @staticmethod
    def _signal(pid: int, sig: int, group_only: bool = False) -> None:
        try:
            os.killpg(pid, sig)  # the session leader's pid is its group id
        except ProcessLookupError:
            return
        except OSError as exc:
            if exc.errno != errno.EPERM or group_only:
                return
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def output(self) -> str:
        """Everything the process wrote so far."""
        return self.log.read_text("utf-8", "replace") if self.log and self.log.exists() else ""

    def __enter__(self) -> ServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._own_log and self.log is not None and exc[0] is None:
            self.log.unlink(missing_ok=True)

    def __repr__(self) -> str:
        state = "running" if self.running() else "stopped" if self.proc else "not started"
        return f"<ServerProcess {self.name} pid={self.pid} {state} ports={self.ports}>"
