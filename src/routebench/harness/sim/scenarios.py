"""Named scenario presets for ``routebench simulate --scenario NAME``.

A preset is a set of ``Scenario`` fields and the balancers worth comparing
under them; options given on the command line override the preset's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..._errors import RoutebenchError, choices
from ._simdist import Event
from .simulator import Scenario

__all__ = ["Preset", "PRESETS", "get_preset", "scenario_flags"]


@dataclass(frozen=True)
class Preset:
    """A named scenario and the balancers it compares."""

    name: str
    summary: str
    balancers: tuple[str, ...]
    fields: Mapping[str, Any] = field(default_factory=dict)


_STICKY_FREE = ("cookie-sticky", "ip-hash-sticky", "round-robin", "least-connections", "p2c")

PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("default", "10 backends x 4 workers at 70% load, lognormal sessions, local state",
           ("round-robin", "least-connections", "p2c", "cookie-sticky", "ip-hash-sticky")),
    Preset("sticky-vs-p2c",
           "affinity vs free routing: 20 backends, 70% load, sessions in an external store",
           _STICKY_FREE,
           {"backends": 20, "store": "external",
            "session_length": "lognormal:mean=10,sigma=1.5"}),
    Preset("crash-failover",
           "10 backends, backend-3 crashes at 30 s of 60, local state: who loses sessions",
           ("cookie-sticky", "ip-hash-sticky", "ip-hash-sticky:keyed=ring", "p2c"),
           {"backends": 10, "requests": None, "duration": 60.0,
            "events": (Event("crash", "backend-3", 30.0),)}),
    Preset("ip-churn",
           "clients change address (mobile handover, 0.05 a session-second): cookie vs IP hash",
           ("cookie-sticky", "ip-hash-sticky", "ip-hash-sticky:keyed=ring"),
           {"backends": 10, "ip_change_rate": 0.05}),
    Preset("nat",
           "50 users behind one corporate NAT among 1000 clients: where IP hash sends them",
           ("ip-hash-sticky", "ip-hash-sticky:keyed=maglev", "cookie-sticky", "p2c"),
           {"backends": 10, "clients": 1000, "nat": (50,)}),
    Preset("slow-backend",
           "backend-0 runs at a quarter speed, 60% load: who keeps sending it its share",
           ("round-robin", "least-connections", "p2c", "ip-hash-sticky:keyed=ring",
            "bounded-load"),
           {"backends": 10, "load": 0.6, "store": "external",
            "speeds": {"backend-0": 0.25}}),
    Preset("hot-key",
           "requests keyed by Zipf(1.1) content keys over 10,000 keys: hashing on the key",
           ("key-hash:on=key", "bounded-load:on=key", "p2c"),
           {"backends": 10, "load": 0.6, "store": "external",
            "keys": "zipf:s=1.1,universe=10000"}),
    Preset("scale-out",
           "backend-10 joins at 30 s of 60: sessions IP hash re-routes (modulo vs consistent)",
           ("ip-hash-sticky", "ip-hash-sticky:keyed=ring", "ip-hash-sticky:keyed=maglev",
            "cookie-sticky"),
           {"backends": 10, "requests": None, "duration": 60.0,
            "events": (Event("join", "backend-10", 30.0),)}),
    Preset("drain",
           "backend-2 drains at 20 s and is stopped at 50 s: graceful for cookies, not for hash",
           ("cookie-sticky", "ip-hash-sticky:keyed=ring"),
           {"backends": 10, "requests": None, "duration": 60.0,
            "events": (Event("drain", "backend-2", 20.0), Event("crash", "backend-2", 50.0))}),
    Preset("bench-1m", "the benchmark figure: 1M requests over 100 backends with p2c",
           ("p2c",), {"backends": 100, "requests": 1_000_000}),
)}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise RoutebenchError(f"unknown scenario {name!r}; available: {choices(PRESETS)}") from None


def _num(v: float) -> str:
    return f"{v:g}"


def scenario_flags(sc: Scenario, balancers: Sequence[str] = (), seed: int | None = None) -> str:
    """The ``routebench simulate`` options that rebuild ``sc`` (for reports and claims)."""
    d = Scenario()
    out: list[str] = []
    for b in balancers:
        out.append(f"--balancer {b}")
    pairs: list[tuple[str, Any, Any]] = [
        ("--backends", sc.backends, d.backends), ("--workers", sc.workers, d.workers),
        ("--clients", sc.clients, d.clients),
    ]
    for flag, v, dv in pairs:
        if v != dv:
            out.append(f"{flag} {v}")
    for name, v in sc.speeds.items():
        out.append(f"--speed {name}={_num(v)}")
    for flag, v, dv in (("--service", sc.service, d.service),
                        ("--session-length", sc.session_length, d.session_length),
                        ("--think", sc.think, d.think), ("--keys", sc.keys, d.keys)):
        if v != dv:
            out.append(f"{flag} {v.describe()}")  # type: ignore[union-attr]
    if sc.nat:
        out.append("--nat " + ",".join(map(str, sc.nat)))
    if sc.session_rate is not None:
        out.append(f"--session-rate {_num(sc.session_rate)}")
    elif sc.load != d.load and sc.load is not None:
        out.append(f"--load {_num(sc.load)}")
    if sc.requests != d.requests:
        out.append(f"--requests {sc.requests}" if sc.requests else "--requests 0")
    if sc.duration is not None:
        out.append(f"--duration {_num(sc.duration)}")
    if sc.warmup:
        out.append(f"--warmup {_num(sc.warmup)}")
    for e in sc.events:
        out.append(f"--{e.kind} {e.backend}@{_num(e.time)}")
    for flag, v, dv in (("--store", sc.store, d.store), ("--store-rtt", sc.store_rtt, d.store_rtt),
                        ("--ttl", sc.ttl, d.ttl),
                        ("--ip-change-rate", sc.ip_change_rate, d.ip_change_rate),
                        ("--queue-limit", sc.queue_limit, d.queue_limit)):
        if v != dv:
            out.append(f"{flag} {_num(v) if isinstance(v, float) else v}")
    if sc.window is not None:
        out.append(f"--window {_num(sc.window)}")
    if not sc.warm_start:
        out.append("--no-warm-start")
    if seed is not None:
        out.append(f"--seed {seed}")
    return " ".join(out)
