"""Discrete-event simulation of clients, a load balancer and backends.

    >>> from routebench.harness.sim.simulator import Scenario, simulate
    >>> r = simulate(Scenario(backends=4, requests=5_000), "p2c", seed=1)
    >>> r.metrics["completed"] + r.metrics["failed"] == r.metrics["requests"]
    True

Clients open sessions (Poisson arrivals, or the timestamps of a trace); a
session is a run of requests, each issued a think time after the previous
response, its length heavy-tailed. Clients have public IP addresses, groups of
them share one behind a NAT, and an address can change mid-session. Backends
serve requests with a number of workers and a FIFO queue, at their own speed.
Backends crash, recover, join and drain at given times. A session's state
lives on the backend that served it (``local``: gone when that backend crashes
or the session is routed elsewhere) or in a shared store (``external``: each
request pays a round trip, state expires after an idle TTL).

The event loop is compiled (``_simcore``); this module describes scenarios,
prepares the arrays, answers the loop's requests for Python work (topology
events, hash tables, Python balancers) and turns the streamed tallies into
metrics. Memory does not grow with the number of requests: latencies go to a
fixed log-bucket histogram, imbalance to per-window running figures, load
over time to a series of at most ``SERIES_ROWS`` windows (neighbouring
windows merge in pairs when it fills).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..._errors import RoutebenchError, choices
from ..._params import format_spec, parse_spec
from ...caches import (
    CacheSpec,
    HitWindows,
    NodeCaches,
    dip_and_recovery,
    miss_load_peak_to_mean,
    window_for,
)
from ...datasets import Trace
from ...hashing import get_hasher
from ...records import SimRecord, display_label
from ...registry import Registry, registry
from ...strategies import Balancer, LoadView, Policy, Request
from ...strategies._live import POLICIES
from . import _simcore as core
from ._simdist import Dist, Event, KeyDist, check_positive

__all__ = ["Scenario", "SimResult", "simulate", "make_balancer", "STORES", "backend_names"]

STORES = ("local", "external")
#: fresh hash keys (session ids, new addresses) mapped per block, growing to BLOCK
BLOCK = 1 << 16
_FIRST_BLOCK = 1 << 12
#: rows of the load-over-time series (``SimResult.series``); even: full rows merge in pairs
SERIES_ROWS = 256
_POLICY_CODES = {name: i for i, name in enumerate(POLICIES)}
_ON_CODES = {name or None: i for i, name in enumerate(core.ROUTE_ON_CODES)}
_EVENT_CODES = {name: i for i, name in enumerate(core.EVENT_KINDS)}
#: entries of the loop's log of cache requests, fed to the caches when it fills
CACHE_LOG = 1 << 16
#: the loop's cache log when caches are off (typed like the real one)
_NO_CACHE = (np.zeros((2, 1), np.int64), np.zeros(1, np.float64))
#: hit-ratio recovery after an event: within 1 point of the mean of the 5 windows before
CACHE_TOLERANCE = 0.01
CACHE_BASELINE = 5


def backend_names(n: int) -> list[str]:
    return [f"backend-{i}" for i in range(n)]


def _count(value: Any, what: str, minimum: int = 1) -> int:
    from ..._units import parse_count

    return parse_count(value, what, minimum)


@dataclass
class Scenario:
    """Everything a simulation runs on except the balancer and the seed.

    Times are in seconds. ``load`` (target utilisation of all workers) sets the
    session arrival rate unless ``session_rate`` (sessions a second) is given;
    ``arrivals`` (an array of times, or a trace with timestamps) replaces the
    Poisson process. The run stops issuing requests after ``requests`` of them
    or at ``duration``, whichever comes first, and finishes the ones in flight.
    ``speeds`` maps backend names to a speed factor (0.25: four times slower).
    ``nat`` lists NAT group sizes: that many clients share one public address.
    ``ip_change_rate`` is address changes per session-second. Events name
    backends ``backend-0`` ... and joining ones get the next names.
    ``warm_start`` begins (Poisson arrivals only) with the sessions a steady
    state would have between requests, so measurements need no warm-up.
    ``cache`` (``"LRU:size=1%"``, any policy of ``routebench.caches.policies()``;
    ``total=`` splits a size across the initial backends) gives each backend a
    cache of the requests' content keys (``keys``; ``1%`` is of its universe): a
    request hits or misses at the backend that serves it; a crash empties that
    cache, a recovered or joining backend starts cold. The hit ratio is also kept
    per window of requests, with the dip and recovery around each topology event.
    """

    backends: int = 10
    workers: int = 4
    speeds: Mapping[str, float] = field(default_factory=dict)
    service: Dist | str = "exp:mean=0.01"
    clients: int = 10_000
    nat: Sequence[int] = ()
    load: float | None = 0.7
    session_rate: float | None = None
    session_length: Dist | str = "lognormal:mean=10,sigma=1"
    think: Dist | str = "exp:mean=1"
    requests: int | None = 200_000
    duration: float | None = None
    warmup: float = 0.0
    events: Sequence[Event] = ()
    store: str = "local"
    store_rtt: float = 0.0005
    ttl: float = 1800.0
    ip_change_rate: float = 0.0
    keys: KeyDist | str = "zipf:s=1,universe=100000"
    arrivals: np.ndarray | Trace | None = None
    queue_limit: int = 0
    window: float | None = None
    warm_start: bool = True
    cache: CacheSpec | str | None = None

    def __post_init__(self) -> None:
        self.backends = _count(self.backends, "backends")
        self.workers = _count(self.workers, "workers")
        self.clients = _count(self.clients, "clients")
        self.service = Dist.parse(self.service, "service", allow_file=True)
        self.session_length = Dist.parse(self.session_length, "session length")
        self.think = Dist.parse(self.think, "think time")
        self.keys = KeyDist.parse(self.keys)
        self.nat = tuple(_count(g, "NAT group size") for g in self.nat)
        if sum(self.nat) > self.clients:
            raise RoutebenchError(
                f"NAT groups {','.join(map(str, self.nat))} hold {sum(self.nat)} clients, "
                f"more than clients={self.clients}")
        if self.store not in STORES:
            raise RoutebenchError(f"store {self.store!r}: expected one of {choices(STORES)}")
        if self.session_rate is not None:
            self.session_rate = check_positive(self.session_rate, "session rate")
        elif self.load is not None:
            self.load = check_positive(self.load, "load")
        elif self.arrivals is None:
            raise RoutebenchError("give a load, a session rate or arrival times")
        if self.requests is not None:
            self.requests = _count(self.requests, "requests")
        if self.duration is not None:
            self.duration = check_positive(self.duration, "duration")
        if self.requests is None and self.duration is None and self.arrivals is None:
            raise RoutebenchError("give requests or a duration: the run needs an end")
        self.warmup = check_positive(self.warmup, "warmup", allow_zero=True)
        self.store_rtt = check_positive(self.store_rtt, "store RTT", allow_zero=True)
        self.ttl = check_positive(self.ttl, "TTL")
        self.ip_change_rate = check_positive(self.ip_change_rate, "IP change rate",
                                             allow_zero=True)
        self.queue_limit = _count(self.queue_limit, "queue limit", 0)
        if self.window is not None:
            self.window = check_positive(self.window, "window")
        self.speeds = dict(self.speeds)
        if self.cache is not None:
            self.cache = _sim_cache(self.cache)
        self.events = tuple(sorted(self.events, key=lambda e: e.time))
        _ = self.names  # check that events and speeds name real backends

    @property
    def names(self) -> list[str]:
        """Every backend: the initial ones, then those joining, in order of their joins."""
        names = backend_names(self.backends)
        known = set(names)
        for e in self.events:
            if e.kind == "join":
                if e.backend in known:
                    raise RoutebenchError(
                        f"--join {e.backend}@{e.time:g}: {e.backend!r} is already a backend; "
                        f"a joining backend needs a new name (next: backend-{len(names)})")
                names.append(e.backend)
                known.add(e.backend)
        joined_at = {e.backend: e.time for e in self.events if e.kind == "join"}
        for e in self.events:
            if e.kind != "join":
                if e.backend not in known:
                    raise RoutebenchError(
                        f"--{e.kind} {e.backend}@{e.time:g}: no backend {e.backend!r}; "
                        f"backends: {_name_range(names)}")
                if e.backend in joined_at and e.time < joined_at[e.backend]:
                    raise RoutebenchError(
                        f"--{e.kind} {e.backend}@{e.time:g}: {e.backend!r} only joins at "
                        f"{joined_at[e.backend]:g}s")
        for n, v in self.speeds.items():
            if n not in known:
                raise RoutebenchError(f"--speed {n}={v}: no backend {n!r}; "
                                      f"backends: {_name_range(names)}")
            check_positive(v, f"--speed {n}=")
        return names

    def mean_length(self) -> float:
        assert isinstance(self.session_length, Dist)
        return self.session_length.discrete_mean()

    def capacity(self) -> float:
        """Requests a second all initial backends can serve at full utilisation."""
        assert isinstance(self.service, Dist)
        rtt = self.store_rtt if self.store == "external" else 0.0
        total = 0.0
        for n in backend_names(self.backends):
            speed = float(self.speeds.get(n, 1.0))
            total += self.workers / (self.service.mean / speed + rtt)
        return total

    def rates(self) -> tuple[float, float]:
        """(session arrival rate, request rate) a second, from load or session rate."""
        mean_len = self.mean_length()
        if self.session_rate is not None:
            return self.session_rate, self.session_rate * mean_len
        if self.load is not None:
            req = self.load * self.capacity()
            return req / mean_len, req
        return float("nan"), float("nan")

    def describe(self) -> dict[str, Any]:
        """What a report records to reproduce the scenario, field by field (by the table
        that also reads and writes its ``routebench simulate`` options)."""
        from .scenarios import describe_scenario

        return describe_scenario(self)

    def replace(self, **changes: Any) -> Scenario:
        return replace(self, **changes)


def _sim_cache(spec: CacheSpec | str) -> CacheSpec:
    """A cache spec the simulator runs: any policy, sized in objects (the loop logs each
    request's backend and content key; the log is fed to the caches in order, in batches)."""
    c = CacheSpec.parse(spec) if not isinstance(spec, CacheSpec) else spec
    if c.size.is_bytes:
        raise RoutebenchError(f"cache {c.label}: a size in bytes needs object sizes, and "
                              "simulate's requests have none; give the size in objects (1000) "
                              "or as a share of the content keys (1%)")
    return c


def _describe(x: Dist | KeyDist | str) -> str:
    return x if isinstance(x, str) else x.describe()


def _name_range(names: list[str]) -> str:
    if len(names) <= 6:
        return choices(names)
    return f"{names[0]} ... {names[-1]} ({len(names)})"


@dataclass
class SimResult:
    """One balancer over one scenario: metrics, per-backend figures, what happened."""

    balancer: str
    params: dict[str, Any]
    scenario: dict[str, Any]
    seed: int
    metrics: dict[str, Any]
    backends: list[dict[str, Any]]
    events: list[dict[str, Any]]
    nat_groups: list[dict[str, Any]]
    series: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return format_spec(self.balancer, self.params)

    def record(self, scenario_label: str = "", reg: Registry = registry) -> SimRecord:
        """The result record (same family as ``routebench run``'s)."""
        try:
            defaults: dict[str, Any] | None = reg.get(self.balancer).resolve_params({})
        except RoutebenchError:  # a balancer object that was never registered
            defaults = None
        return SimRecord(
            strategy=self.balancer, params=dict(self.params),
            label=display_label(self.balancer, self.params, defaults),
            nodes=len([b for b in self.backends if b["initial"]]), metrics=self.metrics,
            scenario=scenario_label, scenario_params=self.scenario, seed=self.seed,
            counts=[b["served"] for b in self.backends], backends=self.backends,
            events=self.events, nat_groups=self.nat_groups, series=self.series)


# ---------------------------------------------------------------------------
def make_balancer(balancer: str | Balancer | tuple[str, Mapping[str, Any]], names: list[str],
                  reg: Registry = registry) -> Balancer:
    """A balancer over ``names`` from a spec (``"p2c:d=3"``), a (name, params) pair or itself."""
    if isinstance(balancer, Balancer):
        return balancer
    if isinstance(balancer, str):
        name, params = parse_spec(balancer)
    else:
        name, params = balancer[0], dict(balancer[1])
    cls = reg.get(name)
    if not issubclass(cls, Balancer):
        raise RoutebenchError(
            f"strategy {name!r} is a {cls.kind} strategy, not a balancer; "
            f"balancers: {choices(reg.names('balancer'))} "
            f"(route on a keyed one with ip-hash-sticky:keyed={name} or key-hash:keyed={name})")
    return cls(names, **params)


def _ipv4(ints: np.ndarray) -> list[bytes]:
    return [b"%d.%d.%d.%d" % (i >> 24, (i >> 16) & 255, (i >> 8) & 255, i & 255)
            for i in ints.tolist()]


class _Keys:
    """The routing-key tables of hashing policies and their map to live backends."""

    def __init__(self, pol: Policy, names: list[str], sc: Scenario, n_static_ip: int,
                 seed: int, reg: Registry) -> None:
        self.pol = pol
        self.names = names
        self.reg = reg
        self.seed = seed
        self.on = pol.on
        if pol.code == "hash":
            probe = reg.create_keyed(pol.keyed, names[:1], **dict(pol.keyed_params))
            self.digest: Callable[[list[bytes]], np.ndarray] = probe.digest
        else:
            self.digest = get_hasher(pol.hash).many
        self.key_cdf = np.ones(1)
        static: list[bytes] = []
        if self.on == "ip":
            rng = np.random.default_rng([seed, 2**31])
            ips = np.unique(rng.integers(1 << 24, 224 << 24, size=n_static_ip * 2 + 16))
            static = _ipv4(rng.permutation(ips)[:n_static_ip])
        elif self.on == "user":
            static = [b"user-%d" % i for i in range(sc.clients)]
        elif self.on == "key":
            assert isinstance(sc.keys, KeyDist)
            static = [b"item-%d" % i for i in range(sc.keys.universe)]
            self.key_cdf = sc.keys.cdf()
        self.tab_d = self.digest(static) if static else np.zeros(1, dtype=np.uint64)
        given = getattr(sc, "ip_digests", None)  # live --compare-sim: HAProxy's source hash
        if self.on == "ip" and given is not None:
            self.tab_d = np.ascontiguousarray(given, dtype=np.uint64)
        self.tab_b = np.full(self.tab_d.size, -1, dtype=np.int64)
        self.blk_d = np.zeros(1, dtype=np.uint64)
        self.blk_b = np.full(1, -1, dtype=np.int64)
        self.blk_index = 0
        self.mapper: Callable[[np.ndarray], np.ndarray] | None = None
        self.ring_pts = np.zeros(1, dtype=np.uint64)
        self.ring_own = np.zeros(1, dtype=np.int64)

    @property
    def fresh(self) -> bool:
        """Whether new sessions (on=session) or new addresses (on=ip) need fresh keys."""
        return self.on in ("ip", "session")

    def block(self, base: int) -> int:
        """Digests (and live backends) of the next block of fresh keys from ``base``; its size."""
        n = min(BLOCK, _FIRST_BLOCK << self.blk_index)
        if self.on == "session":
            keys = [b"session-%d" % i for i in range(base, base + n)]
        else:
            rng = np.random.default_rng([self.seed, 2**32 + self.blk_index])
            keys = _ipv4(rng.integers(1 << 24, 224 << 24, size=n))
        self.blk_index += 1
        self.blk_d = self.digest(keys)
        self.blk_b = self.map(self.blk_d)
        return n

    def rebuild(self, elig: np.ndarray) -> None:
        """Map to the eligible backends after a topology change."""
        ids = np.asarray(elig, dtype=np.int64)
        live = [self.names[i] for i in ids]
        if self.pol.code == "hash":
            if live:
                s = self.reg.create_keyed(self.pol.keyed, live, **dict(self.pol.keyed_params))
                self.mapper = lambda d, s=s, ids=ids: ids[s.lookup_many(d)]
            else:
                self.mapper = None
            self.tab_b = self.map(self.tab_d)
            self.blk_b = self.map(self.blk_d)
        elif self.pol.code == "bounded-load":
            self._ring(ids, live)

    def map(self, digests: np.ndarray) -> np.ndarray:
        if self.mapper is None or digests.size == 0:
            return np.full(max(digests.size, 1), -1, dtype=np.int64)
        return np.ascontiguousarray(self.mapper(digests), dtype=np.int64)

    def _ring(self, ids: np.ndarray, live: list[str]) -> None:
        """The bounded-load ring: ``vnodes`` points a backend, named like ``ring``'s."""
        if not live:
            self.ring_pts = np.zeros(1, dtype=np.uint64)
            self.ring_own = np.zeros(1, dtype=np.int64)
            return
        ring = self.reg.create_keyed("ring", live, vnodes=self.pol.vnodes, hash=self.pol.hash)
        self.ring_pts = np.ascontiguousarray(ring.points)  # type: ignore[attr-defined]
        self.ring_own = np.ascontiguousarray(ids[ring.owners],  # type: ignore[attr-defined]
                                             dtype=np.int64)


class _Arrivals:
    """Arrival times in blocks: from an array or from a trace's chunk timestamps."""

    def __init__(self, source: np.ndarray | Trace) -> None:
        self.t0: float | None = None
        self.last = -math.inf
        self.total: int | None = None
        if isinstance(source, Trace):
            self.label = source.label
            self.total = source.requests
            self._it: Iterator[np.ndarray] = self._from_trace(source)
        else:
            a = np.asarray(source, dtype=np.float64).ravel()
            self.label = "array"
            self.total = a.size
            self._it = iter([a])

    @staticmethod
    def _from_trace(trace: Trace) -> Iterator[np.ndarray]:
        for chunk in trace.chunks():
            if chunk.ts is None:
                raise RoutebenchError(f"trace {trace.label!r} has no timestamps; arrivals need "
                                      "a trace with a time column")
            yield np.asarray(chunk.ts, dtype=np.float64)

    def next_block(self) -> np.ndarray | None:
        for a in self._it:
            if a.size == 0:
                continue
            if not np.all(np.isfinite(a)):
                raise RoutebenchError(f"arrivals ({self.label}): a timestamp is not a number")
            if self.t0 is None:
                self.t0 = float(a[0])
            a = a - self.t0
            if a[0] < self.last or np.any(np.diff(a) < 0):
                raise RoutebenchError(f"arrivals ({self.label}): timestamps must not decrease")
            self.last = float(a[-1])
            return np.ascontiguousarray(a)
        return None


class _Sim:
    """The arrays of one simulation and the Python side of its loop."""

    def __init__(self, sc: Scenario, bal: Balancer, seed: int, reg: Registry) -> None:
        self.sc = sc
        self.bal = bal
        self.seed = seed
        self.names = sc.names
        self.pol = bal.policy()
        if not isinstance(self.pol, Policy):
            raise RoutebenchError(f"balancer {bal.name!r}: policy() must return a Policy")
        self.n_initial = sc.backends
        nb = len(self.names)
        bi = np.zeros((core.NB_I, nb), dtype=np.int64)
        bi[core.B_QHEAD] = -1
        bi[core.B_QTAIL] = -1
        bi[core.B_WORKERS] = sc.workers
        bi[core.B_UP, : self.n_initial] = 1
        bi[core.B_EVER, : self.n_initial] = 1
        bf = np.zeros((core.NB_F, nb), dtype=np.float64)
        bf[core.BF_SPEED] = [float(sc.speeds.get(n, 1.0)) for n in self.names]
        self.bi, self.bf = bi, bf
        self.gi = np.zeros(core.NG_I, dtype=np.int64)
        self.gf = np.zeros(core.NG_F, dtype=np.float64)
        self.gi[core.G_PENDING] = -1
        self.gi[core.G_NUP] = self.n_initial
        self.gf[core.GF_WIN_END] = math.inf
        self.rng = core.seed_streams(seed)
        self.hist = np.zeros(core.HIST_BINS, dtype=np.int64)
        self.ser = np.zeros((SERIES_ROWS, nb + 1), dtype=np.float64)
        self.elig = np.arange(nb, dtype=np.int64)
        self._alloc_slots(1024)
        self.lvl[0] = self.n_initial
        # clients, addresses, NAT groups
        groups = tuple(sc.nat)
        natted = sum(groups)
        n_ip = len(groups) + sc.clients - natted
        owner = np.concatenate([np.repeat(np.arange(len(groups)), groups),
                                np.arange(len(groups), n_ip)]).astype(np.int64)
        perm = np.random.default_rng([seed, 2**30]).permutation(sc.clients)
        self.client_ip = np.ascontiguousarray(owner[perm])
        nat = np.full(sc.clients, -1, dtype=np.int64)
        nat[self.client_ip < len(groups)] = self.client_ip[self.client_ip < len(groups)]
        self.client_nat = nat
        self.nat_req = np.zeros((max(len(groups), 1), nb), dtype=np.int64)
        self.n_static_ip = n_ip
        # routing keys
        self.keys = _Keys(self.pol, self.names, sc, n_ip, seed, reg)
        self.caches = self._caches()
        # service times, arrivals
        svc = sc.service
        assert isinstance(svc, Dist)
        self.emp = svc.values if svc.values is not None else np.ones(1)
        self.arr: _Arrivals | None = None
        self.arrivals = np.zeros(1)
        self.session_rate, self.request_rate = sc.rates()
        # configuration
        ci = np.zeros(core.NC_I, dtype=np.int64)
        cf = np.zeros(core.NC_F, dtype=np.float64)
        ci[core.C_POLICY] = _POLICY_CODES[self.pol.code]
        ci[core.C_STICKY] = int(self.pol.sticky)
        ci[core.C_D] = self.pol.d
        ci[core.C_ON] = _ON_CODES[self.pol.on]
        ci[core.C_EXTERNAL] = int(sc.store == "external")
        length, think = sc.session_length, sc.think
        assert isinstance(length, Dist) and isinstance(think, Dist)
        ci[core.C_LEN_KIND], cf[core.CF_LEN_A], cf[core.CF_LEN_B] = (
            length.code, length.mean, length.shape)
        ci[core.C_SVC_KIND], cf[core.CF_SVC_A], cf[core.CF_SVC_B] = (
            svc.code, svc.mean, svc.shape)
        ci[core.C_THINK_KIND], cf[core.CF_THINK_A], cf[core.CF_THINK_B] = (
            think.code, think.mean, think.shape)
        ci[core.C_CLIENTS] = sc.clients
        ci[core.C_MAXREQ] = sc.requests or 0
        ci[core.C_QLIMIT] = sc.queue_limit
        ci[core.C_NSTATIC] = n_ip
        self.clog, self.clog_t = _NO_CACHE
        self.cache_events: list[dict[str, Any]] = []  # applied events, at a cache request
        if self.caches is not None:
            ci[core.C_CACHE] = 1
            self.clog = np.zeros((2, CACHE_LOG), np.int64)
            self.clog_t = np.zeros(CACHE_LOG, np.float64)
        cf[core.CF_RTT] = sc.store_rtt
        cf[core.CF_TTL] = sc.ttl
        cf[core.CF_IPCH_RATE] = sc.ip_change_rate
        cf[core.CF_EPS] = self.pol.eps
        cf[core.CF_DURATION] = sc.duration if sc.duration is not None else math.inf
        cf[core.CF_WARMUP] = sc.warmup
        self.ci, self.cf = ci, cf
        # the first arrival
        if sc.arrivals is None:
            ci[core.C_POISSON] = 1
            cf[core.CF_RATE] = self.session_rate
            self._push(0.0, -1, core.EV_ARRIVAL)
        else:
            self.arr = _Arrivals(sc.arrivals)
            block = self.arr.next_block()
            if block is None:
                raise RoutebenchError("arrivals: no arrival times")
            self.arrivals = block
            self.gi[core.G_ARR_MORE] = 1
            self._push(float(block[0]), -1, core.EV_ARRIVAL)
        cf[core.CF_WIN_LEN] = sc.window or self._auto_window()
        # routing tables over the initial backends
        if self.keys.on == "session" or (self.keys.on == "ip" and sc.ip_change_rate > 0):
            self.gi[core.G_BLK_BASE] = 0
            self.gi[core.G_BLK_END] = self.keys.block(0)
        else:
            self.gi[core.G_BLK_END] = 1 << 62
        self.events = list(sc.events)
        self.event_log: list[dict[str, Any]] = []
        self._topology_changed()
        self.gf[core.GF_NEXT_TOPO] = self.events[0].time if self.events else math.inf
        self.warm_sessions = 0
        if sc.warm_start and sc.arrivals is None:
            self._warm_start()
        # a Python balancer's view
        self.request = Request()
        fields = {"outstanding": core.B_OUT, "busy": core.B_BUSY, "workers": core.B_WORKERS,
                  "served": core.B_SERVED, "up": core.B_UP, "draining": core.B_DRAIN}
        self.view = LoadView(self.names, self.bi, fields, self.elig, self.gi, core.G_NELIG)
        if self.pol.code == "python":
            bal.reset(tuple(self.names), np.random.default_rng([seed, 2**29]))

    def _caches(self) -> NodeCaches | None:
        """A cache a backend (joining ones too, empty until they serve), or None."""
        sc = self.sc
        if sc.cache is None:
            return None
        assert isinstance(sc.cache, CacheSpec) and isinstance(sc.keys, KeyDist)
        caches = NodeCaches(sc.cache, self.n_initial, distinct_keys=sc.keys.universe, window=0)
        # hit ratio per window of requests, with the time each window ends
        self.cache_windows = HitWindows(window_for(self._expected_requests()))
        while caches.n_nodes < len(self.names):
            caches.add_node()
        if self.keys.on != "key":  # content keys drawn for the caches only
            self.keys.key_cdf = sc.keys.cdf()
        return caches

    def _expected_requests(self) -> int | None:
        """The run's requests as far as they can be told up front (for the hit-ratio window)."""
        sc = self.sc
        if sc.requests:
            return int(sc.requests)
        _, rate = sc.rates()
        if sc.duration is not None and rate == rate:
            return int(rate * sc.duration)
        if isinstance(sc.arrivals, Trace):
            return sc.arrivals.requests
        return None if sc.arrivals is None else int(np.asarray(sc.arrivals).size)

    def _flush_caches(self) -> None:
        """Feed the loop's log of cache requests to the caches, in order, and empty it."""
        n = int(self.gi[core.G_CLOG_N])
        if self.caches is None or n == 0:
            return
        hits = self.caches.request_chunk(self.clog[0, :n], self.clog[1, :n])
        self.cache_windows.add(hits, self.clog_t[:n])
        self.gi[core.G_CLOG_N] = 0

    # -- arrays -----------------------------------------------------------
    def _alloc_slots(self, n: int) -> None:
        self.si = np.zeros((core.NS_I, n), dtype=np.int64)
        self.si[core.S_NEXT] = np.arange(1, n + 1)
        self.si[core.S_NEXT, n - 1] = -1
        self.sf = np.zeros((core.NS_F, n), dtype=np.float64)
        self.su = np.zeros(n, dtype=np.uint64)
        self.h_t = np.zeros(2 * n + 16, dtype=np.float64)
        self.h_s = np.zeros(2 * n + 16, dtype=np.int64)
        self.h_k = np.zeros(2 * n + 16, dtype=np.int64)
        self.lvl = np.zeros(n + 2, dtype=np.int64)
        self.gi[core.G_FREE] = 0
        self.gi[core.G_NFREE] = n

    def _grow(self) -> None:
        """Double the session slots (and the heap and level counts with them)."""
        old = self.si.shape[1]
        new = old * 2
        si = np.zeros((core.NS_I, new), dtype=np.int64)
        si[:, :old] = self.si
        si[core.S_NEXT, old:] = np.arange(old + 1, new + 1)
        si[core.S_NEXT, new - 1] = self.gi[core.G_FREE]
        self.gi[core.G_FREE] = old
        self.gi[core.G_NFREE] += new - old
        sf = np.zeros((core.NS_F, new), dtype=np.float64)
        sf[:, :old] = self.sf
        su = np.zeros(new, dtype=np.uint64)
        su[:old] = self.su
        self.si, self.sf, self.su = si, sf, su
        hn = int(self.gi[core.G_HEAPN])
        size = max(2 * new + 16, 2 * self.h_t.size)
        for name in ("h_t", "h_s", "h_k"):
            a = getattr(self, name)
            b = np.zeros(size, dtype=a.dtype)
            b[:hn] = a[:hn]
            setattr(self, name, b)
        lvl = np.zeros(new + 2, dtype=np.int64)
        lvl[: self.lvl.size] = self.lvl
        self.lvl = lvl

    def _warm_start(self) -> None:
        """Sessions between requests at time 0, as many and as far along as in steady state.

        Sessions in think time form an M/G/infinity population: Poisson with mean
        (session rate) x E[L - 1] x E[think]. Each has R more requests with
        P(R = r) proportional to P(L >= r + 1), and its next request comes after
        an equilibrium residual think time. Requests in flight at time 0 are not
        reconstructed (queues start empty: a transient of about one response time).
        """
        sc = self.sc
        length, think = sc.session_length, sc.think
        assert isinstance(length, Dist) and isinstance(think, Dist)
        mean_len = sc.mean_length()
        mu = self.session_rate * (mean_len - 1.0) * think.mean
        if not (mu > 0):
            return
        from scipy.stats import poisson

        u = np.random.default_rng([self.seed, 2**28])
        n0 = int(poisson.ppf(u.random(), mu))
        if n0 == 0:
            return
        w = length.count_sf()  # P(L >= r + 1) for r = 1 .. K
        cdf = np.cumsum(w)
        if cdf[-1] <= 0:
            return
        remain = np.searchsorted(cdf / cdf[-1], u.random(n0), side="right") + 1
        remain = np.minimum(remain, w.size).astype(np.int64)
        t_next = np.ascontiguousarray(think.residual(u.random(n0), u.random(n0)))
        pos = 0
        while pos < n0:
            pos = int(core.prefill(self.gi, self.gf, self.si, self.sf, self.su, self.ci, self.cf,
                                   self.rng, self.h_t, self.h_s, self.h_k, self.client_ip,
                                   self.client_nat, self.keys.tab_d, self.keys.tab_b,
                                   self.keys.blk_d, self.keys.blk_b, remain, t_next, pos))
            if pos < n0:
                if self.gi[core.G_BLK_NEXT] >= self.gi[core.G_BLK_END]:
                    self._refill()
                else:
                    self._grow()
        self.warm_sessions = n0

    def _push(self, t: float, slot: int, kind: int) -> None:
        core._push(self.gi, self.h_t, self.h_s, self.h_k, t, slot, kind, 0)

    def _auto_window(self) -> float:
        """About 100 windows over the measured time, as far as it can be told up front."""
        sc = self.sc
        span = math.inf
        if sc.duration is not None:
            span = sc.duration - sc.warmup
        if sc.requests is not None and self.request_rate == self.request_rate:
            span = min(span, sc.requests / self.request_rate - sc.warmup)
        if not math.isfinite(span) and self.arr is not None:
            a = self.arrivals
            if a.size > 1 and a[-1] > a[0]:
                span = (a[-1] - a[0]) * (self.arr.total or a.size) / a.size
        if not math.isfinite(span) or span <= 0:
            span = 100.0
        return span / 100.0

    def state(self) -> core.LoopState:
        """The arrays the compiled loop works on (rebuilt each call: some are replaced)."""
        k = self.keys
        return core.LoopState(
            self.bi, self.bf, self.si, self.sf, self.su, self.gi, self.gf, self.ci, self.cf,
            self.rng, self.h_t, self.h_s, self.h_k, self.elig, self.lvl, self.hist, self.emp,
            self.arrivals, self.client_ip, self.client_nat, k.tab_d, k.tab_b, k.blk_d,
            k.blk_b, k.key_cdf, k.ring_pts, k.ring_own, self.nat_req, self.ser,
            self.clog, self.clog_t)

    # -- the loop's requests ---------------------------------------------------
    def _topology_changed(self) -> None:
        up = (self.bi[core.B_UP] == 1) & (self.bi[core.B_DRAIN] == 0)
        ids = np.flatnonzero(up)
        self.elig[: ids.size] = ids
        self.gi[core.G_NELIG] = ids.size
        self.gi[core.G_SUMOUT_ELIG] = int(self.bi[core.B_OUT, ids].sum())
        self.keys.rebuild(ids)
        if self.pol.code == "hash" and self.keys.fresh:
            active = np.flatnonzero(self.si[core.S_FLAGS] & core.F_ACTIVE)
            if active.size:
                self.si[core.S_KEYB, active] = self.keys.map(self.su[active])[: active.size]

    def _apply_events(self) -> None:
        now = float(self.gf[core.GF_NOW])
        self._flush_caches()  # every request before the event reaches the caches first
        while self.events and self.events[0].time <= now:
            e = self.events.pop(0)
            b = self.names.index(e.backend)
            hn, need = int(self.gi[core.G_HEAPN]), int(self.gi[core.G_ACTIVE]) + 16
            while hn + need >= self.h_t.size:
                self._grow()
            done = core.apply_event(self.bi, self.bf, self.si, self.sf, self.gi, self.gf,
                                    self.ci, self.cf, self.rng, self.h_t, self.h_s, self.h_k,
                                    self.lvl, _EVENT_CODES[e.kind], b)
            if done and self.caches is not None:
                if e.kind in ("crash", "recover"):
                    self.caches.clear(b)  # gone with the crash; back cold
                self.cache_events.append({"event": e.kind, "backend": e.backend,
                                          "time": e.time, "request": self.caches.requests})
            self.event_log.append({"event": e.kind, "backend": e.backend, "time": e.time,
                                   "applied": bool(done)})
        self._topology_changed()
        self.gf[core.GF_NEXT_TOPO] = self.events[0].time if self.events else math.inf

    def _refill(self) -> None:
        base = int(self.gi[core.G_BLK_END])
        self.gi[core.G_BLK_BASE] = base
        self.gi[core.G_BLK_END] = base + self.keys.block(base)

    def _next_arrivals(self) -> None:
        assert self.arr is not None
        block = self.arr.next_block()
        if block is None:
            self.gi[core.G_ARR_MORE] = 0
            self.gi[core.G_ARR_NEED] = 0
            return
        self.arrivals = block
        self.gi[core.G_ARR_POS] = 0
        self.gi[core.G_ARR_NEED] = 2

    def _python_pick(self) -> None:
        s = int(self.gi[core.G_PENDING])
        col = self.si[:, s].tolist()
        r = self.request
        r.time = float(self.gf[core.GF_NOW])
        r.session = col[core.S_SESSION]
        r.client = col[core.S_CLIENT]
        r.ip = col[core.S_IP]
        r.cookie = col[core.S_COOKIE]
        r.first = col[core.S_LAST] < 0
        on = self.pol.on
        r.key = int(self.gi[core.G_LAST_KEY]) if on == "key" else -1
        if on in ("ip", "session"):
            r.digest = int(self.su[s])
        elif on == "user":
            r.digest = int(self.keys.tab_d[r.client])
        elif on == "key":
            r.digest = int(self.keys.tab_d[r.key])
        else:
            r.digest = 0
        b = self.bal.pick(r, self.view)
        if isinstance(b, (bool, np.bool_)) or not isinstance(b, (int, np.integer)):
            raise RoutebenchError(f"balancer {self.bal.name!r}: pick() returned {b!r}; "
                                  "expected a backend id (int) or -1")
        b = int(b)
        if b != -1 and not (0 <= b < len(self.names) and self.bi[core.B_UP, b] == 1):
            nelig = int(self.gi[core.G_NELIG])
            raise RoutebenchError(
                f"balancer {self.bal.name!r}: pick() returned {b}, which is not a live backend; "
                f"live: {choices(sorted(self.elig[:nelig].tolist()))}")
        self.gi[core.G_PICK] = b

    def run(self, progress: Any = None, max_events: int = 1 << 18) -> None:
        total_req = self.sc.requests
        shown = 0
        while True:
            st = core.run(self.state(), max_events)
            if st == core.ST_DONE:
                break
            if st == core.ST_TOPO:
                self._apply_events()
            elif st == core.ST_GROW:
                self._grow()
            elif st == core.ST_REFILL:
                self._refill()
            elif st == core.ST_ARRIVALS:
                self._next_arrivals()
            elif st == core.ST_PICK:
                self._python_pick()
            elif st == core.ST_CACHE_FLUSH:
                self._flush_caches()
            if progress is not None:
                now = int(self.gi[core.G_ISSUED]) if total_req else int(self.gf[core.GF_NOW])
                if now > shown:
                    progress.update(now - shown)
                    shown = now
        self._flush_caches()
        if self.gi[core.G_STOPPED] == 0:
            t_end = float(self.gf[core.GF_NOW])
            core._stop(self.gi, self.gf, self.bi, self.bf, self.cf, self.ser, t_end)

    # -- results -----------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        gi, gf, bi, bf = self.gi, self.gf, self.bi, self.bf
        issued, done, failed = int(gi[core.G_ISSUED]), int(gi[core.G_DONE]), int(gi[core.G_FAILED])
        sessions = int(gi[core.G_SESSIONS])
        m: dict[str, Any] = {
            "requests": issued, "completed": done, "failed": failed,
            "failed_pct": _pct(failed, issued), "sessions": sessions,
        }
        lost = {c: int(gi[g]) for c, g in (("crash", core.G_LOST_CRASH),
                                             ("reroute", core.G_LOST_REROUTE),
                                             ("ip_change", core.G_LOST_IP),
                                             ("ttl", core.G_LOST_TTL))}
        m["sessions_lost"] = sum(lost.values())
        m["sessions_lost_pct"] = _pct(m["sessions_lost"], sessions)
        for c, v in lost.items():
            m[f"lost_{c}"] = v
            m[f"lost_{c}_pct"] = _pct(v, sessions)
        m["state_losses"] = int(gi[core.G_STATE_LOSSES])
        m["crash_pinned"] = int(gi[core.G_CRASH_PINNED])
        m["crash_lost"] = int(gi[core.G_CRASH_LOST])
        m["crash_lost_pct"] = _pct(m["crash_lost"], m["crash_pinned"])
        # sessions on the other backends at the crash that lost state at their next request
        m["crash_active"] = int(gi[core.G_CRASH_ACTIVE])
        m["crash_others_lost"] = int(gi[core.G_CRASH_OTHERS_LOST])
        m["crash_others_lost_pct"] = _pct(m["crash_others_lost"],
                                          m["crash_active"] - m["crash_pinned"])
        m["repins"] = int(gi[core.G_REPINS])
        m["bounded_forwarded_pct"] = _pct(int(gi[core.G_BL_OFF]), int(gi[core.G_BL_N]))
        ipch = int(gi[core.G_IPCH_SESSIONS])
        m["ip_change_sessions"] = ipch
        m["ip_change_survival"] = (None if ipch == 0 else
                                   1.0 - int(gi[core.G_IPCH_LOST_SESSIONS]) / ipch)
        # imbalance
        m["outstanding_imbalance_avg"] = _ratio(gf[core.GF_OUT_RATIO_SUM], gf[core.GF_OUT_RATIO_W])
        m["outstanding_imbalance_worst"] = (float(gf[core.GF_OUT_RATIO_WORST])
                                            if gf[core.GF_OUT_RATIO_W] > 0 else None)
        m["outstanding_imbalance_overall"] = _ratio(gf[core.GF_TOT_INT_MAX],
                                                    gf[core.GF_TOT_INT_MEAN])
        m["outstanding_peak"] = int(gi[core.G_PEAKOUT])
        m["served_imbalance_avg"] = _ratio(gf[core.GF_SRV_RATIO_SUM], gf[core.GF_SRV_RATIO_W])
        m["served_imbalance_worst"] = (float(gf[core.GF_SRV_RATIO_WORST])
                                       if gf[core.GF_SRV_RATIO_W] > 0 else None)
        ever = bi[core.B_EVER] == 1
        served = bi[core.B_SERVED, ever].astype(np.float64)
        m["served_imbalance_total"] = (float(served.max() / served.mean())
                                       if served.sum() > 0 else None)
        m["windows"] = int(gi[core.G_WINDOWS])
        m["window_s"] = float(self.cf[core.CF_WIN_LEN])
        # latency
        n_lat = int(gi[core.G_DONE_MEASURED])
        lo = 0.0
        hi = float(gf[core.GF_LAT_MAX])
        p50, p99, p999 = core.quantiles(self.hist, (0.5, 0.99, 0.999), lo, hi)
        m["latency_mean"] = float(gf[core.GF_LAT_SUM] / n_lat) if n_lat else None
        m["latency_p50"], m["latency_p99"], m["latency_p999"] = p50, p99, p999
        m["latency_max"] = hi if n_lat else None
        # time and throughput
        t_end = float(gf[core.GF_STOP_T])
        measured = max(t_end - self.sc.warmup, 0.0)
        m["sim_time"] = float(gf[core.GF_LAST_DONE])
        m["measured_time"] = measured
        m["throughput"] = (int(gi[core.G_ISSUED_MEASURED]) / measured) if measured > 0 else None
        busy = bf[core.BF_BUSY_INT, ever].sum()
        cap = (bi[core.B_WORKERS, ever] * measured).sum()
        m["utilization"] = float(busy / cap) if cap > 0 else None
        m["offered_request_rate"] = self.request_rate if self.arr is None else None
        m.update(self._overload(measured))
        # NAT
        natted = self.client_nat >= 0
        m["nat_users"] = int(natted.sum())
        m["nat_requests"] = int(self.nat_req.sum()) if self.sc.nat else 0
        nat_n = int(gi[core.G_NAT_REQ])
        all_n = int(gi[core.G_LAND_N])
        m["nat_landing_load"] = float(gf[core.GF_NAT_LOAD_SUM] / nat_n) if nat_n else None
        m["all_landing_load"] = float(gf[core.GF_ALL_LOAD_SUM] / all_n) if all_n else None
        m["warm_sessions"] = self.warm_sessions
        m["events_processed"] = int(gi[core.G_EVENTS])
        m.update(self._cache_metrics(ever))
        return m

    def _cache_metrics(self, ever: np.ndarray) -> dict[str, Any]:
        """Hit ratio over every request served a cache (warm-up included), and how evenly
        the misses (the origin's load) spread over the backends that were ever up."""
        if self.caches is None:
            return {}
        st = self.caches.stats()
        out: dict[str, Any] = {
            "hit_ratio": st.hit_ratio,
            "miss_load_peak_to_mean": miss_load_peak_to_mean(st.misses, ever),
            "cache_capacity_total": int(st.capacity[: self.n_initial].sum()),
            "cache_capacity_node": float(st.capacity[: self.n_initial].mean())}
        figs = self._cache_event_figures()
        dips = [f["hit_ratio_dip"] for f in figs if f["hit_ratio_dip"] is not None]
        drops = [f["hit_ratio_drop"] for f in figs if f["hit_ratio_drop"] is not None]
        rec = [f for f in figs if f["hit_ratio_dip"] is not None]
        out["cache_event_dip"] = min(dips) if dips else None
        out["cache_event_drop"] = max(drops) if drops else None
        # the slowest recovery; None when an event never recovered (or none was measured)
        done = rec and all(f["recovery_requests"] is not None for f in rec)
        out["cache_event_recovery_requests"] = (max(f["recovery_requests"] for f in rec)
                                                if done else None)
        out["cache_event_recovery_s"] = (max(f["recovery_s"] for f in rec) if done else None)
        return out

    def _cache_event_figures(self) -> list[dict[str, Any]]:
        """Around each applied topology event: the windowed hit ratio before it (mean of
        ``CACHE_BASELINE`` windows), the dip (lowest window from the event's on, until the
        next event's window), the drop, and the requests and simulated seconds until a
        window ends within ``CACHE_TOLERANCE`` of the level before (0: no window fell
        further; None: not back before the next event or the end)."""
        w = self.cache_windows
        r, ends = w.ratios(), w.ends()
        out = []
        evs = self.cache_events
        for i, e in enumerate(evs):
            at = int(e["request"])
            nxt = next((int(x["request"]) for x in evs[i + 1:]
                        if int(x["request"]) // w.window > at // w.window), None)
            fig: dict[str, Any] = {"hit_ratio_before": None, "hit_ratio_dip": None,
                                   "hit_ratio_drop": None, "recovery_requests": None,
                                   "recovery_s": None}
            if w.window <= at and at // w.window < r.size:
                rec = dip_and_recovery(r, w.window, at, tolerance=CACHE_TOLERANCE,
                                       baseline=CACHE_BASELINE, until=nxt)
                fig.update(hit_ratio_before=rec.before, hit_ratio_dip=rec.dip,
                           hit_ratio_drop=rec.drop, recovery_requests=rec.recovery_requests)
                if rec.recovery_requests is not None:
                    back = (at + rec.recovery_requests) // w.window - 1
                    fig["recovery_s"] = (0.0 if rec.recovery_requests == 0
                                         else max(0.0, float(ends[back]) - float(e["time"])))
            out.append(fig)
        return out

    def cache_series(self) -> dict[str, Any]:
        """The windowed hit ratio (full windows) and the events, for plots and JSON."""
        if self.caches is None:
            return {}
        w = self.cache_windows
        figs = self._cache_event_figures()
        return {"window": w.window,
                "t": [round(x, 6) for x in w.ends().tolist()],
                "hit_ratio": [round(x, 6) for x in w.ratios().tolist()],
                "events": [{**e, **f} for e, f in zip(self.cache_events, figs, strict=True)]}

    def series(self) -> dict[str, Any]:
        """Load over measured time: mean outstanding requests per backend, per window."""
        n = int(self.gi[core.G_SER_N])
        ends = self.ser[:n, 0]  # every window recorded has a length > 0
        starts = np.concatenate(([float(self.sc.warmup)], ends[:-1]))
        load = self.ser[:n, 1:] / (ends - starts)[:, None]
        out = {"t": ends.tolist(),
               "load": np.round(load, 4).tolist(),
               "backends": list(self.names)}
        if self.caches is not None:
            out["cache"] = self.cache_series()
        return out

    def _capacity(self) -> np.ndarray:
        """Requests a second each backend serves at full utilisation (mean service, speed, RTT)."""
        svc = self.sc.service
        assert isinstance(svc, Dist)
        rtt = self.sc.store_rtt if self.sc.store == "external" else 0.0
        return self.bi[core.B_WORKERS] / (svc.mean / self.bf[core.BF_SPEED] + rtt)

    def _offered(self, measured: float) -> np.ndarray | None:
        """Requests a second offered to each backend: its share of the requests committed
        while measuring (a session-affine policy commits a session's remaining requests at
        its first one) times the scenario's request rate (the measured one for arrival
        traces). A closed loop hides an overload in the requests issued (sessions waiting
        on a long queue issue nothing); shares of commitments do not."""
        off = self.bi[core.B_OFFERED].astype(np.float64)
        if measured <= 0 or off.sum() <= 0:
            return None
        rate = self.request_rate
        if self.arr is not None or not rate == rate:
            rate = int(self.gi[core.G_ISSUED_MEASURED]) / measured
        return off / off.sum() * rate

    def _overload(self, measured: float) -> dict[str, Any]:
        """Offered load against capacity, and queue growth: figures that do not grow
        with the run's length (an overloaded queue's p99 does)."""
        ever = self.bi[core.B_EVER] == 1
        offered = self._offered(measured)
        if offered is None or not ever.any():
            return {"offered_load_max": None, "overload_pct": None, "queue_growth_max": None}
        cap = self._capacity()[ever]
        offered = offered[ever]
        growth = (self.bi[core.B_OUT1, ever] - self.bi[core.B_OUT0, ever]) / measured
        return {"offered_load_max": float((offered / cap).max()),
                "overload_pct": float(100.0 * np.maximum(offered - cap, 0.0).sum()
                                      / offered.sum()),
                "queue_growth_max": float(growth.max())}

    def backends(self) -> list[dict[str, Any]]:
        bi, bf = self.bi, self.bf
        measured = max(float(self.gf[core.GF_STOP_T]) - self.sc.warmup, 0.0)
        capacity = self._capacity()
        offered = self._offered(measured)
        out = []
        for i, n in enumerate(self.names):
            out.append({
                "name": n, "initial": i < self.n_initial,
                "speed": float(bf[core.BF_SPEED, i]), "workers": int(bi[core.B_WORKERS, i]),
                "served": int(bi[core.B_SERVED, i]), "failed": int(bi[core.B_FAILED, i]),
                "mean_outstanding": (float(bf[core.BF_OUT_INT, i] / measured)
                                     if measured > 0 else None),
                "utilization": (float(bf[core.BF_BUSY_INT, i] / (measured * bi[core.B_WORKERS, i]))
                                if measured > 0 else None),
                "peak_outstanding": int(bi[core.B_PEAK, i]),
                "capacity": float(capacity[i]),
                "offered_load": (float(offered[i] / capacity[i]) if offered is not None
                                 else None),
                "queue_growth": (float((bi[core.B_OUT1, i] - bi[core.B_OUT0, i]) / measured)
                                 if measured > 0 else None),
            })
        if self.caches is not None:
            hr = self.caches.stats().node_hit_ratio
            for row, h in zip(out, hr, strict=True):
                row["hit_ratio"] = None if np.isnan(h) else float(h)
        return out

    def nat_groups(self) -> list[dict[str, Any]]:
        served = self.bi[core.B_SERVED].astype(np.float64)
        ever = self.bi[core.B_EVER] == 1
        mean_served = served[ever].mean() if ever.any() else 0.0
        out = []
        for g, size in enumerate(self.sc.nat):
            row = self.nat_req[g]
            tot = int(row.sum())
            top = int(row.argmax())
            out.append({
                "size": size, "requests": tot, "backends_used": int((row > 0).sum()),
                "top_backend": self.names[top] if tot else None,
                "top_backend_share": float(row[top] / tot) if tot else None,
                "top_backend_load": (float(served[top] / mean_served)
                                     if tot and mean_served > 0 else None),
            })
        return out


def _pct(part: int, whole: int) -> float | None:
    return None if whole <= 0 else 100.0 * part / whole


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


def simulate(scenario: Scenario, balancer: str | Balancer | tuple[str, Mapping[str, Any]] = "p2c",
             *, seed: int = 0, progress: Any = None, reg: Registry = registry,
             max_events: int = 1 << 18) -> SimResult:
    """Run one balancer over ``scenario``; the same seed gives the same result.

    ``balancer`` is a spec (``"p2c:d=3"``), a ``(name, params)`` pair or a
    ``Balancer`` instance. ``progress`` is an object with ``update(n)`` (a
    tqdm bar fits): it counts requests issued, or simulated seconds when the
    run has no request limit.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise RoutebenchError(f"seed {seed!r}: expected a whole number >= 0")
    names = scenario.names
    bal = make_balancer(balancer, names, reg)
    t0 = time.perf_counter()
    sim = _Sim(scenario, bal, int(seed), reg)
    sim.run(progress, max_events)
    wall = time.perf_counter() - t0
    m = sim.metrics()
    m["wall_s"] = wall
    return SimResult(
        balancer=bal.name, params=dict(bal.config), scenario=scenario.describe(), seed=int(seed),
        metrics=m, backends=sim.backends(), events=sim.event_log, nat_groups=sim.nat_groups(),
        series=sim.series(),
    )
