"""``routebench live --compare-sim``: the same scenario through the simulator, side by side.

    >>> from routebench.harness.live.runner import LiveScenario
    >>> sim_scenario(LiveScenario(backends=4, rate=1000.0)).session_rate   # doctest: +ELLIPSIS
    99.9...

``sim_scenario`` turns a live scenario into simulate's: the same backends,
workers, service-time distribution, clients and NAT groups, session lengths,
think times, content keys, request limit and duration, events at the same
times, IP-change rate and TTL; sessions arrive at the live run's session rate
(its request rate over the mean session length) and, like the live clients,
start from nothing (no warm start). State in Redis or memcached is simulate's
``external`` store, with a round trip of ``store_rtt`` a request.

What the simulator cannot be told, and what therefore differs by design: the
simulator hashes its own random public addresses where HAProxy hashes the
loopback ones, with another hash function, so a hashing balancer sends each
client (and a NAT group) to a backend of its own choosing in each; HAProxy's
``random(2)`` weighs the two draws by HAProxy's own load figure; the live
numbers include HAProxy's and the clients' time. ``compare_rows`` lines the
two up metric by metric (simulate's names) with the difference, live minus
simulated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._errors import RoutebenchError
from ..sim._simdist import Dist
from ..sim.simulator import Scenario, SimResult, simulate

__all__ = ["LiveSimScenario", "sim_scenario", "simulate_like", "compare_rows", "compare_table",
           "COMPARED", "shares", "source_digests"]

#: the store's round trips a request in a live run (a GET and a SET on loopback), seconds
STORE_RTT = 0.0002

#: (metric, header, scale): the figures compared, simulate's names
COMPARED: tuple[tuple[str, str, float], ...] = (
    ("requests", "requests", 1.0),
    ("sessions", "sessions", 1.0),
    ("failed_pct", "failed %", 1.0),
    ("sessions_lost_pct", "sessions lost %", 1.0),
    ("lost_crash_pct", "  lost: crash %", 1.0),
    ("lost_reroute_pct", "  lost: re-route %", 1.0),
    ("lost_ip_change_pct", "  lost: IP change %", 1.0),
    ("lost_ttl_pct", "  lost: TTL %", 1.0),
    ("crash_lost_pct", "crash: lost of pinned %", 1.0),
    ("ip_change_survival", "IP-change survival", 1.0),
    ("outstanding_imbalance_avg", "outstanding max/mean avg", 1.0),
    ("outstanding_imbalance_worst", "outstanding max/mean worst", 1.0),
    ("served_imbalance_avg", "served max/mean avg", 1.0),
    ("served_imbalance_total", "served max/mean total", 1.0),
    ("utilization", "utilisation", 1.0),
    ("latency_p50", "p50 ms", 1e3),
    ("latency_p99", "p99 ms", 1e3),
)


@dataclass
class LiveSimScenario(Scenario):
    """simulate's ``Scenario`` plus what only a live run knows: ``ip_digests``, what a
    balancer hashing on the address maps for each of the live addresses (a NAT group's,
    then each other client's), instead of a keyed hash of random public addresses. Not
    a ``routebench simulate`` option (its addresses are made up); not recorded."""

    ip_digests: np.ndarray | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ip_digests is not None:
            self.ip_digests = np.asarray(self.ip_digests, dtype=np.uint64)
            want = len(self.nat) + self.clients - sum(self.nat)
            if self.ip_digests.shape != (want,):
                raise RoutebenchError(f"ip_digests: {self.ip_digests.size} digests; expected "
                                      f"{want} (one a NAT group, one a client outside them)")


def source_digests(clients: int, nat: Sequence[int]) -> list[int]:
    """What HAProxy's ``balance source`` hashes: each live address as a 32-bit integer
    (a NAT group's, then each other client's), which ``hash-type map-based`` takes
    modulo the servers' total weight: with equal weights, the address modulo the
    number of servers up, as simulate's ``keyed=modulo`` does with these digests."""
    from ipaddress import IPv4Address

    from ._loadgen import client_addresses

    addrs, group = client_addresses(clients, nat)
    first = {g: a for a, g in reversed(list(zip(addrs, group.tolist())))}
    shared = [int(IPv4Address(first[g])) for g in range(len(nat))]
    return shared + [int(IPv4Address(a)) for a, g in zip(addrs, group.tolist()) if g < 0]


def sim_scenario(sc: Any, store_rtt: float = STORE_RTT) -> LiveSimScenario:
    """simulate's ``Scenario`` for live scenario ``sc`` (a ``LiveScenario``)."""
    length = sc.session_length
    assert isinstance(length, Dist)
    return LiveSimScenario(
        backends=sc.backends, workers=sc.workers, service=sc.service, clients=sc.clients,
        nat=tuple(sc.nat), load=None, session_rate=sc.rate / length.discrete_mean(),
        session_length=length, think=sc.think, keys=sc.keys, requests=sc.requests,
        duration=sc.duration, events=tuple(sc.events),
        store="local" if sc.store == "local" else "external", store_rtt=store_rtt,
        ttl=sc.ttl, ip_change_rate=sc.ip_change_rate, warm_start=False, speeds=sc.speeds,
        ip_digests=np.asarray(source_digests(sc.clients, sc.nat), dtype=np.uint64))


def simulate_like(sc: Any, balancer: str, seed: int = 0) -> SimResult:
    """The simulator's run of what a live run of ``balancer`` over ``sc`` ran."""
    return simulate(sim_scenario(sc), balancer, seed=seed)


def shares(counts: Sequence[int]) -> list[float]:
    """Each backend's share of the requests served, in %."""
    total = sum(counts)
    return [100.0 * c / total if total else 0.0 for c in counts]


def _nat_share(groups: Sequence[dict[str, Any]]) -> float | None:
    return (100.0 * groups[0]["top_backend_share"]
            if groups and groups[0].get("top_backend_share") is not None else None)


def compare_rows(live: dict[str, Any], sim: dict[str, Any]) -> list[dict[str, Any]]:
    """Metric by metric (records' JSON): the live figure, the simulated one and live minus
    simulated; then each backend's share of the requests (%) and the first NAT group's
    top backend share (%)."""
    lm, sm = live["metrics"], sim["metrics"]
    rows = []
    for name, header, scale in COMPARED:
        a, b = lm.get(name), sm.get(name)
        rows.append(_row(name, header, None if a is None else a * scale,
                         None if b is None else b * scale))
    names = [b["name"] for b in live.get("backends") or []]
    for n, a, b in zip(names, shares(live["counts"]), shares(sim["counts"])):
        rows.append(_row(f"share:{n}", f"share of requests {n} %", a, b))
    if live.get("nat_groups"):
        rows.append(_row("nat_top_share", "NAT group: top backend share %",
                         _nat_share(live["nat_groups"]), _nat_share(sim["nat_groups"])))
    return rows


def _row(name: str, header: str, a: float | None, b: float | None) -> dict[str, Any]:
    diff = None if a is None or b is None else a - b
    return {"metric": name, "header": header, "live": a, "sim": b, "difference": diff}


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if float(v).is_integer() and abs(v) >= 10:
        return f"{v:,.0f}"
    return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.1f}"


def compare_table(label: str, rows: Sequence[dict[str, Any]], fmt: str = "github") -> str:
    """The rows as a table (tabulate): metric, live, simulated, difference."""
    from ...reports.table import format_table

    body = [[r["header"], _fmt(r["live"]), _fmt(r["sim"]),
             "-" if r["difference"] is None else f"{r['difference']:+,.3g}"] for r in rows]
    return format_table([label, "live", "simulated", "live - simulated"], body, fmt)
