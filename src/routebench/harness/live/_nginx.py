"""nginx as the balancer of ``routebench live`` (``--lb nginx``), where it has the algorithm.

    >>> upstream_lines("p2c")
    ['random two least_conn;']
    >>> upstream_lines("ip-hash-sticky:keyed=ring")
    ['hash $remote_addr consistent;']

Each balancer maps to the directive of nginx 1.22's open-source upstream modules
that does the same thing (from the balancer's ``Policy``):

============================  ==================================================
round-robin                   (none: nginx balances round robin)
least-connections             ``least_conn``
random                        ``random``
p2c (d=2)                     ``random two least_conn`` (two picks, the one with
                              fewer active connections)
ip-hash-sticky (keyed)        ``hash $remote_addr`` (modulo), ``... consistent`` (ring)
key-hash (on, keyed)          ``hash $request_uri`` (on=key), ``$http_x_session``,
                              ``$http_x_user`` or ``$remote_addr``; ``consistent``
                              with keyed=ring
============================  ==================================================

Not available in open-source nginx, refused with a one-line error:
``cookie-sticky`` (``sticky cookie`` is NGINX Plus), ``bounded-load`` (no
bounded loads), ``p2c`` with d other than 2. ``ip-hash-sticky`` is ``hash
$remote_addr``, not ``ip_hash``: ``ip_hash`` hashes only the first three octets
of an IPv4 address, so the 250 clients of each loopback /24 routebench uses would
share one backend.

nginx has no active health checks (NGINX Plus's): a crashed backend is found by
the requests sent to it (``max_fails=1 fail_timeout=1s``: the request is tried on
the next server, and the dead one is left alone for a second), and a request in
flight on a backend that dies is retried on another (``proxy_next_upstream
error timeout``; GET is idempotent), where HAProxy answers 502.

Open-source nginx has no runtime API either. ``drain``, ``join`` and ``recover``
rewrite the configuration and reload it (SIGHUP to the master): a drained server
is marked ``down`` (no drain state: it takes no request at all, its sessions
move); a joining server is added; a recovered one loses its ``down``. A reload
starts new workers; the old ones finish their requests and close their idle
keep-alive connections, so a client may see its connection closed (counted as a
failed request).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ..._errors import RoutebenchError, choices

__all__ = ["upstream_lines", "nginx_config", "NGINX_BALANCERS", "NginxLB", "UPSTREAM"]

UPSTREAM = "be"
#: the balancers with an open-source nginx equivalent
NGINX_BALANCERS = ("round-robin", "least-connections", "random", "p2c", "ip-hash-sticky",
                   "key-hash")
_ON = {"key": "$request_uri", "session": "$http_x_session", "user": "$http_x_user",
       "ip": "$remote_addr"}
_WHY = {"cookie-sticky": "its sticky cookie is NGINX Plus only",
        "bounded-load": "nginx has no bounded-load hashing"}


def upstream_lines(spec: str) -> list[str]:
    """The ``upstream`` directives that route like balancer ``spec`` (nginx 1.22)."""
    from ..sim.simulator import make_balancer

    try:
        bal = make_balancer(spec, [f"backend-{i}" for i in range(64)])
        pol = bal.policy()
    except RoutebenchError as exc:
        raise RoutebenchError(f"--balancer {spec!r}: {exc}") from None
    why = f" ({_WHY[bal.name]})" if bal.name in _WHY else ""
    refuse = (f"--balancer {spec!r}: no open-source nginx equivalent{why}; --lb nginx takes "
              f"{choices(NGINX_BALANCERS)} (--lb haproxy takes more)")
    if bal.name not in NGINX_BALANCERS or pol is None or pol.sticky:
        raise RoutebenchError(refuse)
    if pol.code == "round-robin":
        return []
    if pol.code == "least-connections":
        return ["least_conn;"]
    if pol.code == "random":
        return ["random;"]
    if pol.code == "p2c":
        if pol.d != 2:
            raise RoutebenchError(f"--balancer {spec!r}: nginx's random picks two "
                                  f"(random two least_conn), not d={pol.d}; use p2c:d=2")
        return ["random two least_conn;"]
    if pol.code == "hash" and pol.on in _ON and pol.keyed in ("modulo", "ring"):
        return [f"hash {_ON[pol.on]}{' consistent' if pol.keyed == 'ring' else ''};"]
    if pol.code == "hash":
        raise RoutebenchError(f"--balancer {spec!r}: nginx hashes modulo (keyed=modulo) or "
                              f"consistent (keyed=ring); not keyed={pol.keyed}")
    raise RoutebenchError(refuse)


class UserUpstream:
    """An ``upstream`` block of a user's nginx configuration, to run with our servers:
    its directives as written (``hash``, ``least_conn``, ``keepalive`` ...), its
    ``server`` lines with the address replaced by ours (the I-th server is
    ``backend-I``; ``weight=``, ``max_fails=``, ``down`` ... stay)."""

    def __init__(self, path: str, name: str | None) -> None:
        from ...lbconfig import _nginx as parser

        tree = parser.parse_file(Path(path))
        ups = [(d, ctx) for d, ctx in parser.find_upstreams(tree) if ctx == "http"]
        names = [d.args[0] if d.args else "?" for d, _ in ups]
        if name is not None:
            ups = [(d, ctx) for d, ctx in ups if d.args[:1] == [name]]
            if not ups:
                raise RoutebenchError(f"{path}: no http upstream {name!r}; upstreams: "
                                      f"{choices(names)}")
        elif len(ups) != 1:
            raise RoutebenchError(f"{path}: {len(ups)} http upstreams; name one (FILE:NAME) "
                                  f"of {choices(names)}")
        d = ups[0][0]
        self.path, self.name = path, d.args[0]
        self.directives = [x for x in d.block or [] if x.name != "server"]
        self.servers = [x for x in d.block or [] if x.name == "server"]
        if not self.servers:
            raise RoutebenchError(f"{d.where}: upstream {self.name} has no servers")
        self.server_names = [x.args[0] if x.args else "?" for x in self.servers]

    @property
    def label(self) -> str:
        return f"{self.path}:{self.name}"

    @property
    def stem(self) -> str:
        """FILE:NAME without the file's directory (names the configuration written)."""
        return f"{os.path.basename(self.path)}:{self.name}"

    @property
    def lines(self) -> list[str]:
        return [" ".join([x.name, *map(_quote, x.args)]) + ";" for x in self.directives]

    def params(self, i: int) -> str:
        """The I-th server's parameters as written (``""`` past the user's servers)."""
        if i >= len(self.servers):
            return ""
        return " ".join(_quote(a) for a in self.servers[i].args[1:])


def _quote(word: str) -> str:
    if word and not any(c in word for c in " \t;{}\"'#\\"):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nginx_config(upstream: Sequence[str], servers: Sequence[tuple[str, int, str]], port: int,
                 prefix: str, host: str = "127.0.0.1", label: str = "") -> str:
    """A complete nginx.conf: one server on ``host:port`` proxying to upstream ``be``:
    the ``upstream`` directives, then ``servers`` (name, port, extra parameters such as
    ``down``); temporary files, pid and error log under ``prefix``."""
    out = [
        f"# generated by routebench live{' for ' + label if label else ''}",
        "daemon off;",
        "master_process on;",
        "worker_processes 1;",
        f"pid {prefix}/nginx.pid;",
        f"error_log {prefix}/error.log warn;",
        "events { worker_connections 4096; }",
        "http {",
        "    access_log off;",
        *(f"    {k}_temp_path {prefix}/{k}_temp;"
          for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
        "    keepalive_timeout 30s;",
        "    keepalive_requests 100000;",
        f"    upstream {UPSTREAM} {{",
        *("        " + line for line in upstream),
    ]
    for name, p, params in servers:
        out.append(f"        server {host}:{p}{' ' + params if params else ''};  # {name}")
    out += [
        "        keepalive 64;",
        "    }",
        "    server {",
        f"        listen {host}:{port} backlog=1024;",
        "        location / {",
        f"            proxy_pass http://{UPSTREAM};",
        "            proxy_http_version 1.1;",
        "            proxy_set_header Connection \"\";",
        "            proxy_next_upstream error timeout;",
        "            proxy_connect_timeout 1s;",
        "            proxy_read_timeout 30s;",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(out) + "\n"


class NginxLB:
    """An nginx process of a run: its configuration, start, and reloads for events."""

    kind = "nginx"

    def __init__(self, binary: str, spec: str, out: Path, prefix: str, port: int,
                 user: UserUpstream | None = None) -> None:
        from ._haproxy import _slug

        self.binary, self.spec, self.prefix, self.port = binary, spec, prefix, port
        self.user = user
        self.lines = user.lines if user is not None else upstream_lines(spec)
        self.label = user.label if user is not None else spec
        self.path = out / f"nginx-{_slug(user.stem if user is not None else spec)}.conf"
        self.state: dict[str, str] = {}  # name -> "" (up), "down", "absent"
        self.ports: dict[str, int] = {}
        self.pid: int | None = None
        self.cookie = "LB_ROUTE"  # nginx sets none; the clients keep it if one comes

    def write(self, ports: dict[str, int], absent: Sequence[str] = ()) -> Path:
        self.ports = dict(ports)
        for name in ports:
            self.state.setdefault(name, "absent" if name in absent else "")
        servers = []
        for i, (n, p) in enumerate(ports.items()):
            if self.state[n] == "absent":
                continue
            params = (self.user.params(i) if self.user is not None
                      else "max_fails=1 fail_timeout=1s")
            if self.state[n] == "down" and "down" not in params.split():
                params = f"{params} down".strip()
            servers.append((n, p, params))
        self.path.write_text(nginx_config(self.lines, servers, self.port, self.prefix,
                                          label=self.label))
        return self.path

    def check(self) -> None:
        """``nginx -t``: nginx's own message when it rejects the configuration."""
        res = subprocess.run([self.binary, "-t", "-q", "-p", self.prefix, "-e", "stderr",
                              "-c", str(self.path.resolve())],
                             capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            text = [ln.strip() for ln in (res.stdout + res.stderr).splitlines()
                    if "[emerg]" in ln or "[alert]" in ln] or (res.stdout + res.stderr).split("\n")
            msg = "; ".join(re.sub(r"^\d+#\d+: ", "", t.split("] ", 1)[-1])
                            for t in text[:2] if t).strip()
            raise RoutebenchError(f"nginx rejects {self.path}: {msg}")

    def argv(self) -> list[str]:
        return [self.binary, "-p", self.prefix, "-e", f"{self.prefix}/error.log",
                "-c", str(self.path.resolve())]

    def wait_up(self, names: Sequence[str], timeout: float = 10.0) -> None:
        return None  # no health checks to wait for: nginx listens, the backends listen

    def set_state(self, name: str, state: str) -> None:
        """``drain`` (down), ``ready`` (up, added if absent): rewrite and reload."""
        self.state[name] = "down" if state == "drain" else ""
        self.write(self.ports)
        self.check()
        self.reload()

    def reload(self, timeout: float = 10.0) -> None:
        """SIGHUP to the master; back when a worker of the new configuration runs."""
        assert self.pid is not None
        before = _children(self.pid)
        os.kill(self.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while not (_children(self.pid) - before):
            if time.monotonic() > deadline:
                raise RoutebenchError(f"nginx did not reload {self.path} in {timeout:g} s; "
                                      f"see {self.prefix}/error.log")
            time.sleep(0.01)


def _children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(x) for x in text.split()}
