"""The client side of ``routebench live``: synthetic sessions replayed over real HTTP.

Sessions arrive as a Poisson process; each belongs to one of ``clients``
clients and issues a run of requests (lengths drawn like the simulator's:
``max(1, round(X))``), each a think time after the previous response: a closed
loop. A session holds one keep-alive connection to the balancer, opened from
its client's own source address in 127.0.0.0/8 (the users of a NAT group share
one); a client keeps the cookies the balancer sets and sends them back.

Each request carries ``X-Session``, ``X-User`` and ``X-Seq`` (how many of the
session's requests succeeded so far: 0 asks the backend to create the state)
and a content key in its path (``/item/K``, Zipf). The backend's answer names
it (``X-Backend``) and says whether the session's state was found
(``X-State: ok``/``new``/``lost``). A loss is put down to its first cause: the
backend last seen had crashed (``crash``), the session was routed to another
backend (``reroute``) or the state expired where it was (``ttl``); after a
``store_crash()`` (the session store killed) a session that had state then and
is refused for the store (``X-State: error``) or finds its state gone counts
once under ``store``. A client's
concurrent sessions share its cookies (as a browser's tabs do; the simulator keeps
a cookie a session): one pinned elsewhere moves the others, a ``reroute``.

With ``ip_change_rate`` R, a session's address changes before a request with
probability ``1 - exp(-R x idle)`` (idle: the time since its last response),
as in the simulator: the session closes its connection and opens the next from
a new address of its own (``127.200.X.Y`` on; no longer its NAT group's),
keeping its client's cookies. A loss at the first response after a change is
put down to the change (``ip_change``); the sessions that had state at a
change, and how many of them lost it, give ``ip_change_survival``.

The run stops issuing at ``requests`` requests or ``duration`` seconds and
waits for the requests in flight.

With a ``TracePlan`` (``trace_plan``: ``routebench live --trace FILE``) the
requests are a recorded trace's instead: each at its recorded time (seconds from
the trace's first), in order within its session (the trace's ``session`` column,
else its ``user``, else its client), a session's next request not before its
previous response; each trace client has its own source address (its users
share it, as behind a NAT), each user its cookies, and the path decides the
content key. The run ends when the trace's requests are done, or at
``requests``/``duration``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..sim._simdist import Dist, KeyDist

__all__ = ["LoadGen", "Tally", "TracePlan", "client_addresses", "new_address", "trace_plan"]

_REQUEST_TIMEOUT = 15.0


def client_addresses(clients: int, nat: Sequence[int]) -> tuple[list[str], np.ndarray]:
    """Each client's source address, and its NAT group (-1: none). The first ``sum(nat)``
    clients are the NAT groups' users, in order; a group shares ``127.99.G.1``, every
    other client has an address of its own, ``127.10.X.Y``."""
    addrs: list[str] = []
    group = np.full(clients, -1, dtype=np.int64)
    c = 0
    for g, size in enumerate(nat):
        for _ in range(size):
            addrs.append(f"127.99.{g}.1")
            group[c] = g
            c += 1
    for i in range(clients - c):
        addrs.append(f"127.{10 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}")
    return addrs, group


def new_address(i: int) -> str:
    """The ``i``-th address a client moves to (an IP change): ``127.200.0.1`` on."""
    if i >= 55 * 62500:
        raise ValueError("no loopback address left for an IP change")
    return f"127.{200 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}"


@dataclass
class TracePlan:
    """A recorded trace as live requests, sorted by time."""

    t: np.ndarray  # seconds from the first request
    session: np.ndarray  # each request's session (0..sessions-1)
    user: np.ndarray  # its cookie owner: the trace's user (else client)
    key: np.ndarray  # its content key: the path's (else the routed column's) id
    addrs: list[str]  # each user's source address: its trace client's, 127.10.X.Y on
    user_client: np.ndarray  # each user's trace client (0..clients-1)
    label: str = ""

    @property
    def requests(self) -> int:
        return int(self.t.size)


def _ids(values: list[bytes]) -> np.ndarray:
    index: dict[bytes, int] = {}
    return np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64,
                       count=len(values))


def trace_plan(spec: str, requests: int | None = None, seed: int = 0,
               read: dict[str, Any] | None = None) -> TracePlan:
    """The first ``requests`` requests of trace ``spec`` (a file or a synthetic spec) as a
    ``TracePlan``; one line when it has no times or no client column."""
    from ..._errors import RoutebenchError
    from ...datasets import open_trace

    trace = open_trace(spec, requests, seed, **dict(read or {}))
    if "client" not in trace.available:
        raise RoutebenchError(f"--trace {spec}: no client column (columns: "
                              f"{', '.join(trace.available)}); live replays each client "
                              "from its own address")
    sess_col = next(c for c in ("session", "user", "client") if c in trace.available)
    user_col = "user" if "user" in trace.available else "client"
    key_col = next((c for c in ("path", "url") if c in trace.available), trace.route_on)
    trace.with_columns("client", sess_col, user_col, key_col)
    ts, cols = [], {c: [] for c in ("client", sess_col, user_col, key_col)}  # type: ignore
    n = 0
    for chunk in trace.chunks():
        if chunk.ts is None:
            raise RoutebenchError(f"--trace {spec}: no request times in this trace; a live "
                                  "replay needs a time column")
        take = len(chunk) if requests is None else min(len(chunk), requests - n)
        ts.append(chunk.ts[:take])
        for c in cols:
            cols[c].extend(chunk.columns[c].keys(take))
        n += take
        if requests is not None and n >= requests:
            break
    if not n:
        raise RoutebenchError(f"--trace {spec}: no requests")
    t = np.concatenate(ts)
    order = np.argsort(t, kind="stable")
    client, sess, user, key = (_ids([cols[c][i] for i in order.tolist()])
                               for c in ("client", sess_col, user_col, key_col))
    # a user is one browser: its cookies; its address is its (first) client's
    users = int(user.max()) + 1
    user_client = np.zeros(users, dtype=np.int64)
    user_client[user[::-1]] = client[::-1]
    nclients = int(client.max()) + 1
    if nclients > 62500 * 100:
        raise RoutebenchError(f"--trace {spec}: {nclients:,} clients, more than distinct "
                              "loopback addresses")
    caddr, _ = client_addresses(nclients, ())
    t = t[order]
    return TracePlan(t=t - t[0], session=sess, user=user, key=key,
                     addrs=[caddr[c] for c in user_client.tolist()], user_client=user_client,
                     label=getattr(trace, "label", spec))


@dataclass
class Tally:
    """What the clients saw, request by request and session by session."""

    t: list[float] = field(default_factory=list)  # completion, seconds since start
    latency: list[float] = field(default_factory=list)
    backend: list[int] = field(default_factory=list)  # -1: failed
    nat: list[int] = field(default_factory=list)
    issued: int = 0
    sessions: int = 0
    lost: dict[str, int] = field(default_factory=lambda: {"crash": 0, "reroute": 0,
                                                          "ip_change": 0, "ttl": 0})
    state_losses: int = 0
    crash_pinned: int = 0
    crash_lost: int = 0
    crash_active: int = 0
    crash_others_lost: int = 0
    repins: int = 0
    ip_changes: int = 0  # address changes (before a request)
    ip_change_sessions: int = 0  # sessions with state at a change, seen at the next response
    ip_change_lost_sessions: int = 0  # ... that lost it there
    t0_mono: float = 0.0  # the start, time.monotonic() (the backends' load logs' clock)
    stop_t: float | None = None  # when issuing stopped, seconds since the start
    errors: dict[str, int] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    wall: float = 0.0


class _Session:
    __slots__ = ("sid", "client", "last", "ok", "lost", "watch", "addr", "nat", "ipch",
                 "ipch_seen", "ipch_lost", "t_last", "jar", "store_hit")

    def __init__(self, sid: int, client: int, addr: str, nat: int) -> None:
        self.sid = sid
        self.client = client
        self.addr = addr  # the source address (changes with an IP change)
        self.nat = nat  # its NAT group, -1: its own address
        self.ipch = False  # the address changed since the last response
        self.ipch_seen = False
        self.ipch_lost = False
        self.t_last = 0.0  # the end of the last request
        self.jar: bytes | None = None  # the client's cookie after this session's last response
        self.last = -1  # the backend of the last successful response
        self.ok = 0  # successful responses
        self.lost = False
        self.watch = ""  # "pinned" / "other": active at a crash, next response not seen yet
        self.store_hit = False  # had state when the session store was killed


class LoadGen:
    """Replays sessions against ``host:port``; ``names`` are the backends' names."""

    def __init__(self, host: str, port: int, names: Sequence[str], *, clients: int,
                 nat: Sequence[int], rate: float, session_length: Dist, think: Dist,
                 keys: KeyDist, requests: int | None, duration: float | None, seed: int,
                 cookie: str = "LB_ROUTE", ip_change_rate: float = 0.0,
                 trace: TracePlan | None = None) -> None:
        self.host, self.port = host, port
        self.index = {n.encode(): i for i, n in enumerate(names)}
        self.addrs, self.group = client_addresses(clients, nat)
        self.session_rate = rate / session_length.discrete_mean()
        self.length, self.think = session_length, think
        self.requests, self.duration = requests, duration
        self.ip_change_rate = ip_change_rate
        self.next_addr = 0
        self.rng = np.random.default_rng(seed)
        self.key_cdf = keys.cdf()
        self.cookie = cookie.encode()
        self.jars: list[bytes | None] = [None] * clients
        self.tally = Tally()
        self.active: dict[int, _Session] = {}
        self.crashed: set[int] = set()
        self.stopping = False
        self.t0 = 0.0
        self._buf: dict[str, np.ndarray] = {}
        self._pos: dict[str, int] = {}
        self.trace = trace
        if trace is not None:  # its users, from their clients' addresses
            self.addrs = list(trace.addrs)
            self.group = np.full(len(self.addrs), -1, dtype=np.int64)
            self.jars = [None] * len(self.addrs)

    # -- random draws, in blocks -------------------------------------------------------
    def _draw(self, what: str) -> float:
        pos = self._pos.get(what, 1 << 30)
        buf = self._buf.get(what)
        if buf is None or pos >= buf.size:
            buf = self._block(what, 4096)
            self._buf[what], pos = buf, 0
        self._pos[what] = pos + 1
        return float(buf[pos])

    def _block(self, what: str, n: int) -> np.ndarray:
        rng = self.rng
        if what == "gap":
            return rng.exponential(1.0 / self.session_rate, n)
        if what == "client":
            return rng.integers(0, len(self.addrs), n).astype(np.float64)
        if what == "u":
            return rng.random(n)
        if what == "key":
            return np.searchsorted(self.key_cdf, rng.random(n)).astype(np.float64)
        d = self.length if what == "length" else self.think
        if d.kind == "fixed":
            x = np.full(n, d.mean)
        elif d.kind == "exp":
            x = rng.exponential(d.mean, n)
        elif d.kind == "lognormal":
            x = rng.lognormal(math.log(d.mean) - 0.5 * d.shape ** 2, d.shape, n)
        else:  # pareto, by mean
            xm = d.mean * (d.shape - 1.0) / d.shape
            x = xm * (1.0 - rng.random(n)) ** (-1.0 / d.shape)
        return np.maximum(1.0, np.floor(x + 0.5)) if what == "length" else x

    # -- the run ------------------------------------------------------------------------
    def now(self) -> float:
        return asyncio.get_running_loop().time() - self.t0

    async def run(self, schedule: Sequence[tuple[float, Callable[[], Any]]] = (),
                  progress: Callable[[int], Any] | None = None) -> Tally:
        """Run the sessions; ``schedule`` holds (time, coroutine function) events."""
        loop = asyncio.get_running_loop()
        self.t0 = loop.time()
        self.tally.t0_mono = time.monotonic() - (loop.time() - self.t0)
        event_tasks = [asyncio.ensure_future(self._at(t, fn)) for t, fn in schedule]
        tasks: set[asyncio.Task[None]] = set()
        next_t, sid, shown = 0.0, 0, 0
        if self.trace is not None:
            shown = await self._replay(tasks, progress)
        while self.trace is None and not self._done():
            next_t += self._draw("gap")
            delay = next_t - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._done():
                break
            task = asyncio.ensure_future(self._session(sid, int(self._draw("client"))))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sid += 1
            if progress is not None and self.tally.issued > shown:
                progress(self.tally.issued - shown)
                shown = self.tally.issued
        self.stopping = True
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=_REQUEST_TIMEOUT + 5)
            for task in late:
                task.cancel()
        for task in event_tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*event_tasks, return_exceptions=True)
        for task in event_tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        if progress is not None and self.tally.issued > shown:
            progress(self.tally.issued - shown)
        self.tally.wall = self.now()
        return self.tally

    async def _replay(self, tasks: set[asyncio.Task[None]],
                      progress: Callable[[int], Any] | None) -> int:
        """Start each of the trace's sessions at its first request's time; wait for them
        all (each ends by itself: the trace's requests, ``requests``, ``duration``)."""
        plan = self.trace
        assert plan is not None
        by_session = np.argsort(plan.session, kind="stable")
        bounds = np.flatnonzero(np.diff(plan.session[by_session])) + 1
        groups = np.split(by_session, bounds)
        groups.sort(key=lambda g: int(g[0]))  # by first request (the plan is time-sorted)
        shown = 0
        for sid, reqs in enumerate(groups):
            delay = float(plan.t[reqs[0]]) - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._done():
                break
            task = asyncio.ensure_future(self._trace_session(sid, reqs))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if progress is not None and self.tally.issued > shown:
                progress(self.tally.issued - shown)
                shown = self.tally.issued
        while tasks:  # every request has its time, or the run's end, and a timeout
            await asyncio.wait(set(tasks), timeout=1.0)
            if progress is not None and self.tally.issued > shown:
                progress(self.tally.issued - shown)
                shown = self.tally.issued
        if not self._done():  # the trace is done
            self.stopping = True
            self.tally.stop_t = self.now()
        return shown

    async def _trace_session(self, sid: int, reqs: np.ndarray) -> None:
        plan = self.trace
        assert plan is not None
        user = int(plan.user[reqs[0]])
        s = _Session(sid, user, self.addrs[user], -1)
        self.active[sid] = s
        self.tally.sessions += 1
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            for i in reqs.tolist():
                delay = float(plan.t[i]) - self.now()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self._done():
                    break
                self.tally.issued += 1
                conn = await self._request(s, conn, int(plan.key[i]))
        finally:
            del self.active[sid]
            if conn is not None:
                conn[1].close()

    def _done(self) -> bool:
        if self.stopping:
            return True
        if self.requests is not None and self.tally.issued >= self.requests:
            self.stopping = True
        elif self.duration is not None and self.now() >= self.duration:
            self.stopping = True
        if self.stopping:
            self.tally.stop_t = self.now()
        return self.stopping

    async def _at(self, t: float, fn: Callable[[], Any]) -> None:
        delay = t - self.now()
        if delay > 0:
            await asyncio.sleep(delay)
        if not self.stopping:
            await fn()

    def crash(self, b: int) -> None:
        """``b`` was just killed: watch the next response of every active session."""
        self.crashed.add(b)
        for s in self.active.values():
            if s.ok and not s.watch:
                s.watch = "pinned" if s.last == b else "other"

    def store_crash(self) -> None:
        """The session store was just killed: the sessions with state then are the ones
        it can lose; a loss of theirs from now on is put down to the store."""
        self.tally.lost.setdefault("store", 0)
        for s in self.active.values():
            if s.ok:
                s.store_hit = True

    def recovered(self, b: int) -> None:
        self.crashed.discard(b)

    async def _session(self, sid: int, client: int) -> None:
        s = _Session(sid, client, self.addrs[client], int(self.group[client]))
        self.active[sid] = s
        self.tally.sessions += 1
        n = int(self._draw("length"))
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            for i in range(n):
                if self._done():
                    break
                if i:
                    await asyncio.sleep(self._draw("think"))
                    if self._done():
                        break
                    if self.ip_change_rate > 0 and s.last >= 0 and self._draw("u") < \
                            -math.expm1(-self.ip_change_rate * (self.now() - s.t_last)):
                        self._move(s, conn)
                        conn = None
                self.tally.issued += 1
                conn = await self._request(s, conn)
        finally:
            del self.active[sid]
            if conn is not None:
                conn[1].close()

    def _move(self, s: _Session, conn: Any) -> None:
        """The session's address changes: a new one of its own, a new connection."""
        s.addr = new_address(self.next_addr)
        self.next_addr += 1
        s.nat = -1
        s.ipch = True
        self.tally.ip_changes += 1
        if conn is not None:
            conn[1].close()
        return None

    async def _request(self, s: _Session, conn: Any, key: int | None = None) -> Any:
        t = self.tally
        start = self.now()
        if key is None:
            key = int(self._draw("key"))
        jar = self.jars[s.client]
        req = (b"GET /item/%d HTTP/1.1\r\nHost: routebench\r\nX-Session: %d\r\nX-User: %d\r\n"
               b"X-Seq: %d\r\n%s\r\n" % (key, s.sid, s.client, s.ok,
                                         b"Cookie: %s\r\n" % jar if jar else b""))
        backend, state, status = -1, b"", 0
        try:
            async with asyncio.timeout(_REQUEST_TIMEOUT):
                if conn is None:
                    conn = await asyncio.open_connection(
                        self.host, self.port, local_addr=(s.addr, 0))
                r, w = conn
                w.write(req)
                head = await r.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                status = int(lines[0].split()[1])
                length, close = 0, False
                for line in lines[1:]:
                    k, _, v = line.partition(b":")
                    k = k.strip().lower()
                    if k == b"content-length":
                        length = int(v)
                    elif k == b"x-backend":
                        backend = self.index.get(v.strip(), -1)
                    elif k == b"x-state":
                        state = v.strip()
                    elif k == b"set-cookie":
                        self._set_cookie(s.client, v.strip())
                    elif k == b"connection" and v.strip().lower() == b"close":
                        close = True
                if length:
                    await r.readexactly(length)
                if close:
                    w.close()
                    conn = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                IndexError, TimeoutError) as exc:
            name = type(exc).__name__
            t.errors[name] = t.errors.get(name, 0) + 1
            if conn is not None:
                conn[1].close()
            conn = None
        end = self.now()
        ok = status == 200 and backend >= 0
        if not ok:
            self._failed(s, status, state)
            backend = -1
        t.t.append(end)
        t.latency.append(end - start)
        t.backend.append(backend)
        t.nat.append(s.nat)
        s.t_last = end
        if ok:
            # the client's other sessions share its cookies: one pinned elsewhere meanwhile
            # moves this one too (a re-route, whatever the address did)
            self._observe(s, backend, state, s.ok > 0 and jar != s.jar)
            s.jar = self.jars[s.client]
        return conn

    def _failed(self, s: _Session, status: int, state: bytes) -> None:
        t = self.tally
        if status:
            t.errors[f"HTTP {status}"] = t.errors.get(f"HTTP {status}", 0) + 1
        if state == b"error" and s.store_hit and not s.lost:  # the store is unreachable:
            s.lost = True  # the session cannot be resumed
            t.lost["store"] += 1

    def _set_cookie(self, client: int, value: bytes) -> None:
        pair = value.split(b";", 1)[0].strip()
        name, _, v = pair.partition(b"=")
        if name == self.cookie:
            old = self.jars[client]
            self.jars[client] = pair if v else None
            if old is not None and old != pair:
                self.tally.repins += 1

    def _observe(self, s: _Session, backend: int, state: bytes, jar_moved: bool) -> None:
        t = self.tally
        lost = state == b"lost"
        if s.ipch and s.ok and not jar_moved:  # had state when its address changed
            if not s.ipch_seen:
                s.ipch_seen = True
                t.ip_change_sessions += 1
            if lost and not s.ipch_lost:
                s.ipch_lost = True
                t.ip_change_lost_sessions += 1
        if lost:
            t.state_losses += 1
            if not s.lost:
                s.lost = True
                cause = ("store" if s.store_hit else
                         "crash" if s.last in self.crashed or s.last < 0 else
                         "ip_change" if s.ipch and backend != s.last and not jar_moved else
                         "reroute" if backend != s.last else "ttl")
                t.lost[cause] += 1
        s.ipch = False
        # an answer from a killed backend itself left it before the kill (in transit when
        # crash() ran): not the first response after the crash, so keep watching
        if backend not in self.crashed:
            if s.watch == "pinned":
                t.crash_pinned += 1
                t.crash_active += 1
                t.crash_lost += lost
            elif s.watch == "other":
                t.crash_active += 1
                t.crash_others_lost += lost
            s.watch = ""
        s.last = backend
        s.ok += 1
