"""``routebench live``: the simulator's story on real software, on loopback.

    >>> from routebench.harness.live.runner import LiveScenario, run_live
    >>> sc = LiveScenario(backends=4, requests=2_000, store="redis",
    ...                   events=(Event("crash", "backend-1", 1.0),))
    >>> rec = run_live(sc, "cookie-sticky", out_dir="routebench-live")   # doctest: +SKIP
    >>> rec.metrics["crash_lost"]                                         # doctest: +SKIP
    0

One run starts, on free loopback ports: the session store (``redis-server`` or
``memcached``, unless state is ``local``), ``backends`` backend processes
(``_backend.py``), and HAProxy with the configuration of the balancer (written
to ``out_dir``). The clients (``_loadgen``) replay sessions through HAProxy
from their own source addresses; events happen at their times: ``crash`` kills
a backend (SIGKILL), ``recover`` starts it again, ``drain`` and ``join`` go
through HAProxy's runtime API. Every process is stopped on the way out,
whatever happened (an error, Ctrl-C, SIGTERM), by the pid this module
started; ``processes.json`` in ``out_dir`` lists them while they run.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import RoutebenchError, choices
from ...records import LiveRecord, display_label
from ..sim._simdist import Dist, Event, KeyDist
from ..sim.simulator import backend_names, make_balancer
from ._counters import load_metrics, read_log
from ._haproxy import HAProxyLB, UserBackend, balance_lines
from ._loadgen import LoadGen, Tally
from ._nginx import NginxLB, UserUpstream, _children, upstream_lines
from ._procs import LOOPBACK, ServerProcess, find_binary, free_ports
from ._stores import DEFAULT_TABLE

__all__ = ["LiveScenario", "LivePreset", "LIVE_PRESETS", "LIVE_STORES", "run_live",
           "check_binaries", "BINARIES"]

LIVE_STORES = ("local", "redis", "memcached", "dynamodb")
#: executable -> Debian package
BINARIES = {"haproxy": "haproxy", "redis-server": "redis-server", "memcached": "memcached",
            "nginx": "nginx-light"}
#: the balancers ``--lb`` takes
LIVE_LBS = ("haproxy", "nginx")
#: executable -> npm package (a global install puts it on PATH)
NPM_BINARIES = {"dynalite": "dynalite"}
_BACKEND_PY = Path(__file__).with_name("_backend.py")


@dataclass
class LiveScenario:
    """What a live run runs, except the balancer and the seed (times in seconds).

    ``rate`` is the target request rate (sessions arrive at rate / mean session
    length); the run stops issuing at ``requests`` or ``duration``, whichever
    comes first. ``store``: ``local`` (backend memory), ``redis`` or ``memcached``.
    """

    backends: int = 4
    workers: int = 8
    service: Dist | str = "exp:mean=0.005"
    clients: int = 1000
    nat: Sequence[int] = ()
    rate: float = 1000.0
    session_length: Dist | str = "lognormal:mean=10,sigma=1"
    think: Dist | str = "exp:mean=0.1"
    keys: KeyDist | str = "zipf:s=1,universe=100000"
    requests: int | None = 10_000
    duration: float | None = 50.0
    events: Sequence[Event] = ()
    store: str = "local"
    ttl: float = 1800.0
    #: dynamodb: a real endpoint URL ("" = a local dynalite), its table; any store: the
    #: seconds every store call waits first (a network round trip)
    store_endpoint: str = ""
    store_table: str = DEFAULT_TABLE
    store_rtt: float = 0.0
    #: dynamodb: how the backends call it: "http" (signed requests in their event loop)
    #: or "boto3" (boto3 in threads: ~5x the CPU a call)
    store_client: str = "http"
    ip_change_rate: float = 0.0
    speeds: Mapping[str, float] = field(default_factory=dict)
    #: seconds: the store process is killed (SIGKILL) then; started again, empty, then
    store_crash: float | None = None
    store_recover: float | None = None
    #: a recorded trace replayed instead of synthetic sessions (clients, nat, rate,
    #: session_length, think, keys and ip_change_rate are then the trace's)
    trace: str | None = None

    def __post_init__(self) -> None:
        from ..._units import check_positive

        for name in ("backends", "workers", "clients"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise RoutebenchError(f"{name} {v!r}: expected a whole number >= 1")
        self.service = Dist.parse(self.service, "service")
        self.session_length = Dist.parse(self.session_length, "session length")
        self.think = Dist.parse(self.think, "think time")
        self.keys = KeyDist.parse(self.keys)
        self.nat = tuple(int(g) for g in self.nat)
        if sum(self.nat) > self.clients:
            raise RoutebenchError(f"NAT groups {','.join(map(str, self.nat))} hold "
                                  f"{sum(self.nat)} clients, more than clients={self.clients}")
        if len(self.nat) > 250 or self.clients - sum(self.nat) > 62500 * 100:
            raise RoutebenchError("too many clients for distinct loopback addresses")
        if self.store not in LIVE_STORES:
            raise RoutebenchError(f"store {self.store!r}: expected one of {choices(LIVE_STORES)}")
        self.rate = check_positive(self.rate, "rate")
        _check_store_options(self)
        self.ttl = check_positive(self.ttl, "TTL")
        self.ip_change_rate = check_positive(self.ip_change_rate, "IP change rate",
                                             allow_zero=True)
        if self.requests is None and self.duration is None:
            raise RoutebenchError("give requests or a duration: the run needs an end")
        self.events = tuple(sorted(self.events, key=lambda e: e.time))
        self.speeds = {n: check_positive(v, f"speed of {n}") for n, v in dict(self.speeds).items()}
        names = self.names
        for n in self.speeds:
            if n not in names:
                raise RoutebenchError(f"speed of {n!r}: no such backend; backends: "
                                      f"{choices(names)}")

    @property
    def names(self) -> list[str]:
        """The initial backends, then the joining ones; events must name one of them."""
        names = backend_names(self.backends)
        for e in self.events:
            if e.kind == "join":
                if e.backend in names:
                    raise RoutebenchError(f"--join {e.backend}@{e.time:g}: {e.backend!r} is "
                                          f"already a backend (next: backend-{len(names)})")
                names.append(e.backend)
        for e in self.events:
            if e.backend not in names:
                raise RoutebenchError(f"--{e.kind} {e.backend}@{e.time:g}: no backend "
                                      f"{e.backend!r}; backends: {choices(names)}")
        return names

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in vars(self).items():
            if isinstance(v, (Dist, KeyDist)):
                v = v.describe()
            elif k == "events":
                v = [e.describe() for e in v]
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, Mapping):
                v = dict(v)
            out[k] = v
        return out


@dataclass(frozen=True)
class LivePreset:
    name: str
    summary: str
    balancers: tuple[str, ...]
    fields: dict[str, Any] = field(default_factory=dict)


LIVE_PRESETS: dict[str, LivePreset] = {p.name: p for p in (
    LivePreset("crash-failover",
               "4 backends, backend-1 killed (SIGKILL) at 5 s of ~10 s, 10,000 requests a "
               "balancer at 1,000/s: who loses sessions",
               ("cookie-sticky", "ip-hash-sticky"),
               {"events": (Event("crash", "backend-1", 5.0),)}),
    LivePreset("nat", "50 users behind one NAT address among 200 clients: where they land",
               ("ip-hash-sticky", "cookie-sticky"),
               {"clients": 200, "nat": (50,), "requests": 4000, "rate": 800.0}),
    LivePreset("throughput", "4 backends, sessions in Redis, as many requests a second as "
               "the machine takes (p2c)", ("p2c",),
               {"store": "redis", "rate": 2500.0, "requests": 30_000, "workers": 16,
                "service": "exp:mean=0.002"}),
)}


def check_binaries(store: str, endpoint: str = "", lb: str = "haproxy") -> dict[str, str]:
    """The executables a run needs, by name; a missing one names its Debian (or npm)
    package."""
    need = [lb] + (["redis-server"] if store == "redis" else
                          ["memcached"] if store == "memcached" else
                          ["dynalite"] if store == "dynamodb" and not endpoint else [])
    found = {}
    for name in need:
        path = find_binary(name)
        if path is None and name in NPM_BINARIES:
            raise RoutebenchError(f"{name} not found on PATH: install the npm package "
                                  f"{NPM_BINARIES[name]} (npm install -g {NPM_BINARIES[name]})"
                                  f", or give --store-endpoint URL")
        if path is None:
            raise RoutebenchError(f"{name} not found: install the Debian package "
                                  f"{BINARIES[name]} (apt-get install {BINARIES[name]})")
        found[name] = path
    return found


def _check_store_options(sc: LiveScenario) -> None:
    if sc.store_endpoint and sc.store != "dynamodb":
        raise RoutebenchError(f"--store-endpoint is for --store dynamodb, not {sc.store}")
    if sc.store_endpoint and not re.match(r"https?://[^/\s]+/?$", sc.store_endpoint):
        raise RoutebenchError(f"--store-endpoint {sc.store_endpoint!r}: expected a URL "
                              "http(s)://HOST[:PORT]")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", sc.store_table):
        raise RoutebenchError(f"--store-table {sc.store_table!r}: a DynamoDB table name is "
                              "3-255 of A-Z a-z 0-9 _ - .")
    if sc.store_rtt < 0 or sc.store_rtt != sc.store_rtt:
        raise RoutebenchError(f"--store-rtt {sc.store_rtt!r}: expected a time >= 0")
    if sc.store_client not in ("http", "boto3"):
        raise RoutebenchError(f"--store-client {sc.store_client!r}: expected http or boto3")
    if sc.store_crash is None and sc.store_recover is not None:
        raise RoutebenchError("--store-recover: give --store-crash T too (nothing to recover)")
    if sc.store_crash is not None:
        if sc.store == "local":
            raise RoutebenchError("--store-crash: --store local keeps state in the backends' "
                                  "memory, no store process to kill; use redis, memcached or "
                                  "dynamodb (or --crash BACKEND@T)")
        if sc.store_endpoint:
            raise RoutebenchError("--store-crash: routebench kills only a store it started, "
                                  f"not {sc.store_endpoint}; leave --store-endpoint out")
        for what, v in (("--store-crash", sc.store_crash), ("--store-recover", sc.store_recover)):
            if v is not None and not (v >= 0 and v < float("inf")):
                raise RoutebenchError(f"{what} {v!r}: expected a time >= 0")
        if sc.store_recover is not None and sc.store_recover <= sc.store_crash:
            raise RoutebenchError(f"--store-recover {sc.store_recover:g}: after --store-crash "
                                  f"{sc.store_crash:g}")
    if sc.store_rtt > 0 and sc.store == "local":
        raise RoutebenchError("--store-rtt: --store local keeps state in the backend's memory,"
                              " with no round trip to add; use redis, memcached or dynamodb")


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a running process (children it waited for included)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:15]) / ticks


class _Run:
    """The processes of one run and the events applied to them."""

    def __init__(self, sc: LiveScenario, spec: str, seed: int, out: Path, stack: ExitStack,
                 port: int | None, extra: Sequence[str], bins: dict[str, str],
                 lb: str = "haproxy", user: Any = None) -> None:
        self.sc, self.spec, self.seed, self.out, self.stack = sc, spec, seed, out, stack
        self.names = sc.names
        self.joining = {e.backend for e in sc.events if e.kind == "join"}
        self.bins = bins
        n_store = sc.store != "local" and not sc.store_endpoint
        ports = free_ports(len(self.names) + n_store + (port is None))
        self.lb_port = port if port is not None else ports.pop()
        self.store_port: int = ports.pop() if n_store else 0
        self.ports = dict(zip(self.names, ports))
        self.procs: dict[str, ServerProcess] = {}
        self.cpu: dict[str, float] = {}  # CPU of processes already gone (crashed)
        # a socket path must be short (108 bytes): a private directory under /tmp
        sockdir = tempfile.mkdtemp(prefix="routebench-live-")
        stack.callback(shutil.rmtree, sockdir, True)
        self.sock = os.path.join(sockdir, "haproxy.sock")
        self.extra = extra
        # the balancer: HAProxy (runtime API) or nginx (reloads), generated or the user's
        self.balancer: HAProxyLB | NginxLB
        if lb == "nginx":
            os.makedirs(os.path.join(sockdir, "logs"), exist_ok=True)
            self.balancer = NginxLB(bins["nginx"], spec, out, sockdir, self.lb_port, user)
        else:
            self.balancer = HAProxyLB(bins["haproxy"], spec, out, self.sock, self.lb_port,
                                      extra, user)
        self.lb: LoadGen | None = None
        self.event_log: list[dict[str, Any]] = []
        self.startup = 0.0

    def _start(self, name: str, proc: ServerProcess) -> ServerProcess:
        self.procs[name] = proc
        self.stack.callback(proc.stop)
        proc.start()
        self._manifest()
        return proc

    def _manifest(self) -> None:
        rows = [{"name": n, "pid": p.pid, "ports": p.ports} for n, p in self.procs.items()]
        (self.out / "processes.json").write_text(json.dumps(rows, indent=1) + "\n")

    def start(self) -> None:
        t0 = time.perf_counter()
        for name in self.names:  # a previous run's counters
            self.load_log(name).unlink(missing_ok=True)
        self._start_store()
        for name in self.names:
            if name not in self.joining:
                self._start_backend(name)
        lb = self.balancer
        self.config_path = lb.write({n: self.ports[n] for n in self.names},
                                    absent=sorted(self.joining))
        lb.check()
        lb.pid = self._start(lb.kind, ServerProcess(lb.argv(), [self.lb_port],
                                                    name=lb.kind)).pid
        lb.wait_up([n for n in self.names if n not in self.joining])
        self.startup = time.perf_counter() - t0

    def _start_store(self) -> None:
        """The session store's process (none for local state or a real endpoint); a
        --store-recover starts it again, empty, on the same port."""
        sc = self.sc
        if sc.store == "redis":
            self._start("redis", ServerProcess(
                [self.bins["redis-server"], "--port", str(self.store_port), "--bind", LOOPBACK,
                 "--save", "", "--appendonly", "no", "--protected-mode", "no",
                 "--dir", str(self.out)], [self.store_port], name="redis-server"))
        elif sc.store == "memcached":
            self._start("memcached", ServerProcess(
                [self.bins["memcached"], "-l", LOOPBACK, "-p", str(self.store_port), "-U", "0",
                 "-m", "64", "-c", "4096", "-t", "1", "-u", "nobody"], [self.store_port],
                name="memcached"))
        elif sc.store == "dynamodb":
            self._start_dynamodb()

    @property
    def store_name(self) -> str:
        return {"redis": "redis", "memcached": "memcached"}.get(self.sc.store, "dynalite")

    def _start_dynamodb(self) -> None:
        from ._stores import dynalite_argv, dynamodb_env, prepare_table

        sc = self.sc
        if not sc.store_endpoint:
            self._start("dynalite", ServerProcess(
                dynalite_argv(self.bins["dynalite"], self.store_port, LOOPBACK),
                [self.store_port], name="dynalite"))
        self.store_note = prepare_table(self.dynamodb_endpoint, sc.store_table,
                                        not sc.store_endpoint)
        self.store_env = dynamodb_env(self.dynamodb_endpoint, not sc.store_endpoint,
                                      resolve=sc.store_client == "http")

    @property
    def dynamodb_endpoint(self) -> str:
        return self.sc.store_endpoint or f"http://{LOOPBACK}:{self.store_port}"

    def _start_backend(self, name: str) -> ServerProcess:
        sc = self.sc
        assert isinstance(sc.service, Dist)
        svc = f"{sc.service.kind}:{sc.service.mean!r}" + (
            f":{sc.service.shape!r}" if sc.service.kind in ("lognormal", "pareto") else "")
        # stdlib only, without site-packages, but for boto3
        site = [] if sc.store == "dynamodb" and sc.store_client == "boto3" else ["-S"]
        argv = [sys.executable, *site, str(_BACKEND_PY), "--name", name,
                "--port", str(self.ports[name]), "--workers", str(sc.workers),
                "--service", svc, "--store", sc.store, "--ttl", repr(sc.ttl),
                "--seed", str(self.seed * 1000 + self.names.index(name)),
                "--run", str(self.out), "--load-log", str(self.load_log(name))]
        env = None
        if sc.store == "dynamodb":
            argv += ["--store-addr", self.dynamodb_endpoint, "--store-table", sc.store_table,
                     "--store-client", sc.store_client]
            env = self.store_env
        elif self.store_port:
            argv += ["--store-addr", f"{LOOPBACK}:{self.store_port}"]
        if sc.store_rtt:
            argv += ["--store-rtt", repr(sc.store_rtt)]
        if name in sc.speeds:
            argv += ["--speed", repr(float(sc.speeds[name]))]
        return self._start(name, ServerProcess(argv, [self.ports[name]], name=name, env=env))

    def load_log(self, name: str) -> Path:
        return self.out / f"{name}.load"

    # -- events ----------------------------------------------------------------------
    def schedule(self, lb: LoadGen) -> list[tuple[float, Callable[[], Any]]]:
        self.lb = lb
        out: list[tuple[float, Callable[[], Any]]] = [
            (e.time, functools.partial(self._apply, e)) for e in self.sc.events]
        for kind in ("store_crash", "store_recover"):
            at = getattr(self.sc, kind)
            if at is not None:
                out.append((at, functools.partial(self._apply_store, kind, at)))
        return out

    async def _apply_store(self, kind: str, at: float) -> None:
        """``store_crash``: SIGKILL the store, as ``crash`` does a backend; the backends'
        store calls fail from then on. ``store_recover``: start it again, empty."""
        assert self.lb is not None
        name = self.store_name
        t = self.lb.now()
        if kind == "store_crash":
            proc = self.procs[name]
            cpu = _cpu_seconds(proc.pid)
            if proc.proc is not None and proc.running():
                proc.proc.kill()
                proc.proc.wait()
            self.cpu[name] = self.cpu.get(name, 0.0) + (cpu or 0.0)
            self.lb.store_crash()
        else:
            await asyncio.get_running_loop().run_in_executor(None, self._start_store)
        self.event_log.append({"event": kind, "backend": name, "time": at,
                               "at": round(t, 4)})

    async def _apply(self, e: Event) -> None:
        assert self.lb is not None
        b = self.names.index(e.backend)
        t = self.lb.now()
        if e.kind == "crash":
            proc = self.procs[e.backend]
            cpu = _cpu_seconds(proc.pid)
            if proc.proc is not None and proc.running():
                proc.proc.kill()  # SIGKILL: no goodbye
                proc.proc.wait()
            self.cpu[e.backend] = self.cpu.get(e.backend, 0.0) + (cpu or 0.0)
            self.lb.crash(b)
        elif e.kind in ("recover", "join"):
            loop = asyncio.get_running_loop()
            if e.kind == "join" or not self.procs[e.backend].running():
                await loop.run_in_executor(None, self._start_backend, e.backend)
            await loop.run_in_executor(None, self.balancer.set_state, e.backend, "ready")
            self.lb.recovered(b)
        elif e.kind == "drain":
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.balancer.set_state, e.backend, "drain")
        self.event_log.append({"event": e.kind, "backend": e.backend, "time": e.time,
                               "at": round(t, 4)})

    def cpu_seconds(self) -> dict[str, float]:
        out = dict(self.cpu)
        for name, p in self.procs.items():
            c = _cpu_seconds(p.pid) if p.running() else None
            if c is not None and name == "nginx" and p.pid is not None:  # workers' work
                c += sum((_cpu_seconds(w) or 0.0) for w in _children(p.pid))
            if c is not None:
                out[name] = out.get(name, 0.0) + c
        return out


def _raise_nofile(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class _Terminate(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every process is stopped on the way out."""


def run_live(sc: LiveScenario, balancer: str = "cookie-sticky", *, seed: int = 0,
             out_dir: str | os.PathLike[str] = "routebench-live", port: int | None = None,
             extra: Sequence[str] = (), scenario_label: str = "",
             progress: Callable[[int], Any] | None = None, lb: str = "haproxy",
             lb_config: str | None = None) -> LiveRecord:
    """Run ``balancer`` (a spec, e.g. ``ip-hash-sticky:keyed=ring``) through ``sc`` on
    real processes; the record of what the clients saw. ``port``: the balancer's
    (default: a free one); ``extra``: lines appended to HAProxy's backend section.
    ``lb``: ``haproxy`` or ``nginx``; ``lb_config``: ``FILE[:NAME]``, the user's own
    HAProxy backend or nginx upstream to run instead of ``balancer``'s (its kind
    decides ``lb``; it needs as many backends as it has servers)."""
    # an unknown balancer or a bad configuration fails before anything starts
    lines, lb, user = balancer_lines(balancer, lb, lb_config, sc)
    bins = check_binaries(sc.store, sc.store_endpoint, lb)
    plan = None
    if sc.trace is not None:
        from ._loadgen import trace_plan

        plan = trace_plan(sc.trace, sc.requests, seed)
    if port is not None and not free_port(port):
        raise RoutebenchError(f"--port {port}: {LOOPBACK}:{port} is in use")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _raise_nofile(65536)
    old_term = signal.getsignal(signal.SIGTERM)
    old_int = signal.getsignal(signal.SIGINT)
    in_main = _main_thread()
    if in_main:
        # both raise at once: asyncio.run's own SIGINT handler only cancels the main task,
        # which a busy or shielded client loop can outlast
        signal.signal(signal.SIGTERM, _on_term)
        signal.signal(signal.SIGINT, _on_int)
    try:
        with ExitStack() as stack:
            run = _Run(sc, balancer, seed, out, stack, port, extra, bins, lb, user)
            run.start()
            assert isinstance(sc.session_length, Dist) and isinstance(sc.think, Dist)
            assert isinstance(sc.keys, KeyDist)
            gen = LoadGen(LOOPBACK, run.lb_port, run.names, clients=sc.clients, nat=sc.nat,
                          rate=sc.rate, session_length=sc.session_length, think=sc.think,
                          keys=sc.keys, requests=sc.requests, duration=sc.duration, seed=seed,
                          cookie=run.balancer.cookie, ip_change_rate=sc.ip_change_rate,
                          trace=plan)
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            tally = asyncio.run(gen.run(run.schedule(gen), progress))
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = run.cpu_seconds()
            cpu["client"] = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
            record = _record(sc, balancer, seed, scenario_label, tally, run, cpu, lines)
        (out / "processes.json").unlink(missing_ok=True)
        return record
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, old_term)
            signal.signal(signal.SIGINT, old_int)


def balancer_lines(spec: str, lb: str = "haproxy", lb_config: str | None = None,
                   sc: LiveScenario | None = None) -> tuple[list[str], str, Any]:
    """(the balancer's directives, the LB that runs them, the user's section or None);
    one line for an unknown balancer, one the LB lacks, or a configuration it cannot run."""
    if lb not in LIVE_LBS:
        raise RoutebenchError(f"--lb {lb!r}: expected one of {choices(LIVE_LBS)}")
    if lb_config is None:
        return (upstream_lines(spec) if lb == "nginx" else balance_lines(spec)), lb, None
    from ...lbconfig import detect_product, split_spec

    path, name = split_spec(lb_config)
    try:
        text = Path(path).read_text("utf-8", errors="surrogateescape")
    except OSError as exc:
        raise RoutebenchError(f"--lb-config {path}: cannot read: {exc.strerror}") from None
    product = detect_product(text)
    if product is None:
        raise RoutebenchError(f"--lb-config {path}: neither an nginx configuration (no "
                              "`upstream NAME {`) nor an HAProxy one (no backend/listen "
                              "section)")
    user: Any = UserUpstream(path, name) if product == "nginx" else UserBackend(path, name)
    if sc is not None and sc.backends != len(user.server_names):
        raise RoutebenchError(f"--lb-config {user.label}: {len(user.server_names)} servers "
                              f"({', '.join(user.server_names)}), --backends {sc.backends}: "
                              "give as many backends as it has servers, or leave --backends "
                              "out")
    return user.lines, product, user


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _on_term(signum: int, frame: Any) -> None:
    raise _Terminate()


def _on_int(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def free_port(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


# -- metrics: the simulator's names ---------------------------------------------------
def _pct(a: float, b: float) -> float | None:
    return None if b <= 0 else 100.0 * a / b


def _record(sc: LiveScenario, spec: str, seed: int, label: str, t: Tally, run: _Run,
            cpu: dict[str, float], lines: list[str]) -> LiveRecord:
    names = run.names
    nb = len(names)
    tt = np.asarray(t.t)
    lat = np.asarray(t.latency)
    be = np.asarray(t.backend, dtype=np.int64)
    nat = np.asarray(t.nat, dtype=np.int64)
    ok = be >= 0
    issued = len(be)
    failed = int((~ok).sum())
    m: dict[str, Any] = {"requests": issued, "completed": int(ok.sum()), "failed": failed,
                         "failed_pct": _pct(failed, issued), "sessions": t.sessions}
    m["sessions_lost"] = sum(t.lost.values())
    m["sessions_lost_pct"] = _pct(m["sessions_lost"], t.sessions)
    for c, v in t.lost.items():
        m[f"lost_{c}"] = v
        m[f"lost_{c}_pct"] = _pct(v, t.sessions)
    m["state_losses"] = t.state_losses
    m["crash_pinned"] = t.crash_pinned
    m["crash_lost"] = t.crash_lost
    m["crash_lost_pct"] = _pct(t.crash_lost, t.crash_pinned)
    m["crash_active"] = t.crash_active
    m["crash_others_lost"] = t.crash_others_lost
    m["crash_others_lost_pct"] = _pct(t.crash_others_lost, t.crash_active - t.crash_pinned)
    m["repins"] = t.repins
    m["ip_changes"] = t.ip_changes
    m["ip_change_sessions"] = t.ip_change_sessions
    m["ip_change_survival"] = (None if not t.ip_change_sessions else
                               1.0 - t.ip_change_lost_sessions / t.ip_change_sessions)
    good = lat[ok]
    if good.size:
        p50, p99, p999 = np.quantile(good, [0.5, 0.99, 0.999]).tolist()
        m.update(latency_mean=float(good.mean()), latency_p50=p50, latency_p99=p99,
                 latency_p999=p999, latency_max=float(good.max()))
    else:
        m.update(latency_mean=None, latency_p50=None, latency_p99=None, latency_p999=None,
                 latency_max=None)
    span = float(tt.max()) if tt.size else 0.0
    m["measured_time"] = span
    m["throughput"] = m["completed"] / span if span > 0 else None
    m.update(_served_imbalance(tt, be, ok, nb, span, run))
    load, per_backend = _load(run, t, span)
    m.update(load)
    m["nat_users"] = int(sum(sc.nat))
    m["nat_requests"] = int((nat >= 0).sum())
    m["startup_s"] = run.startup
    m["wall_s"] = t.wall
    for k, v in _cpu_shares(cpu, t.wall).items():
        m[k] = v
    served = np.bincount(be[ok], minlength=nb)
    failed_at = np.zeros(nb, dtype=np.int64)
    backends = [{"name": n, "initial": n not in run.joining, "workers": sc.workers,
                 "served": int(served[i]), "failed": int(failed_at[i]),
                 **per_backend[i], "cpu_s": cpu.get(n)} for i, n in enumerate(names)]
    mean_served = served.mean() if served.sum() else 0.0
    groups = []
    for g, size in enumerate(sc.nat):
        row = np.bincount(be[ok & (nat == g)], minlength=nb)
        tot = int(row.sum())
        top = int(row.argmax())
        groups.append({"size": size, "requests": tot, "backends_used": int((row > 0).sum()),
                       "top_backend": names[top] if tot else None,
                       "top_backend_share": float(row[top] / tot) if tot else None,
                       "top_backend_load": (float(served[top] / mean_served)
                                            if tot and mean_served > 0 else None),
                       "counts": row.tolist()})
    strategy, params, shown = _balancer_label(spec, run.balancer)
    return LiveRecord(
        strategy=strategy, params=params, label=shown,
        nodes=len(names) - len(run.joining), metrics=m, scenario=label,
        scenario_params=sc.describe(), seed=seed, counts=served.tolist(), backends=backends,
        events=run.event_log, nat_groups=groups, store=sc.store, balancer_config=lines,
        config_file=str(run.config_path), cpu_s={k: round(v, 3) for k, v in cpu.items()},
        errors=dict(t.errors))


def _balancer_label(spec: str, lb: Any) -> tuple[str, dict[str, Any], str]:
    """(strategy, params, label) of a run: the balancer's; a user's configuration is
    strategy ``lb-config`` labelled FILE:SECTION; an nginx run's label ends ``@nginx``."""
    if lb.user is not None:
        return "lb-config", {"file": lb.user.path, "section": lb.user.name, "lb": lb.kind}, \
            f"{lb.user.label}@{lb.kind}"
    bal = make_balancer(spec, [f"backend-{i}" for i in range(64)])
    try:
        from ...registry import registry

        defaults: dict[str, Any] | None = registry.get(bal.name).resolve_params({})
    except RoutebenchError:
        defaults = None
    label = display_label(bal.name, dict(bal.config), defaults)
    return bal.name, dict(bal.config), label + ("@nginx" if lb.kind == "nginx" else "")


def _up_intervals(run: _Run) -> list[list[tuple[float, float]]]:
    """When each backend was up (seconds since the clients' start): initial ones from the
    start, a joining or recovered one from then; each until its crash."""
    out: list[list[tuple[float, float]]] = []
    for name in run.names:
        start: float | None = None if name in run.joining else -np.inf
        ivs: list[tuple[float, float]] = []
        for e in run.event_log:
            if e["backend"] != name:
                continue
            if e["event"] == "crash" and start is not None:
                ivs.append((start, e["at"]))
                start = None
            elif e["event"] in ("join", "recover") and start is None:
                start = e["at"]
        if start is not None:
            ivs.append((start, np.inf))
        out.append(ivs)
    return out


def _load(run: _Run, t: Tally, span: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Outstanding-load imbalance and utilisation from the backends' own load logs."""
    logs = {i: read_log(run.load_log(n)) for i, n in enumerate(run.names)}
    return load_metrics(logs, t.t0_mono, len(run.names), run.sc.workers, _up_intervals(run),
                        span)


def _served_imbalance(tt: np.ndarray, be: np.ndarray, ok: np.ndarray, nb: int, span: float,
                      run: _Run) -> dict[str, Any]:
    """max/mean of requests served over the backends up, per window of span/100."""
    out: dict[str, Any] = {"served_imbalance_avg": None, "served_imbalance_worst": None,
                           "served_imbalance_total": None, "window_s": None}
    if span <= 0 or not ok.any():
        return out
    nw = 100
    win = span / nw
    w = np.minimum((tt[ok] / win).astype(np.int64), nw - 1)
    counts = np.zeros((nw, nb))
    np.add.at(counts, (w, be[ok]), 1)
    up = np.ones((nw, nb), dtype=bool)  # up for the whole window
    starts = np.arange(nw) * win
    for name in run.joining:
        joined = [e["at"] for e in run.event_log if e["backend"] == name and e["event"] == "join"]
        up[:, run.names.index(name)] = starts >= (joined[0] if joined else np.inf)
    for e in run.event_log:
        if e["event"] == "crash":
            back = [x["at"] for x in run.event_log if x["backend"] == e["backend"]
                    and x["event"] == "recover" and x["at"] > e["at"]]
            i = run.names.index(e["backend"])
            up[:, i] &= ~((starts + win > e["at"]) & (starts < (back[0] if back else np.inf)))
    ratios = []
    for r in range(nw):
        c = counts[r][up[r]]
        if c.size and c.sum() > 0:
            ratios.append(c.max() / c.mean())
    served = np.bincount(be[ok], minlength=nb).astype(np.float64)
    out["served_imbalance_avg"] = float(np.mean(ratios)) if ratios else None
    out["served_imbalance_worst"] = float(np.max(ratios)) if ratios else None
    out["served_imbalance_total"] = float(served.max() / served.mean())
    out["window_s"] = win
    return out


def _cpu_shares(cpu: dict[str, float], wall: float) -> dict[str, Any]:
    """CPU seconds and share of one core over the run: client, balancer, backends, store."""
    parts = {"client": cpu.get("client", 0.0),
             "balancer": cpu.get("haproxy", 0.0) + cpu.get("nginx", 0.0),
             "backends": sum(v for k, v in cpu.items() if k.startswith("backend")),
             "store": cpu.get("redis", 0.0) + cpu.get("memcached", 0.0)
             + cpu.get("dynalite", 0.0)}
    out: dict[str, Any] = {}
    for k, v in parts.items():
        out[f"cpu_{k}_s"] = v
        out[f"cpu_{k}_pct"] = _pct(v, wall) if wall > 0 else None
    return out
