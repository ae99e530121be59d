"""Scenario presets, and the one table mapping ``Scenario`` fields to options.

A preset (``routebench simulate --scenario NAME``) is a set of ``Scenario``
fields and the balancers worth comparing under them; options given override
the preset's. ``OPTIONS`` says, for each field, which option sets it, how the
option's text is read, how the value is written back as options and how a
report records it. ``scenario_fields`` builds a scenario's fields from options
with it, ``scenario_flags`` writes the options that rebuild a scenario, and
``Scenario.describe`` records it, so the three cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ..._errors import RoutebenchError, choices
from ..._units import check_positive, parse_count, parse_duration
from ._simdist import EVENT_KINDS, Dist, Event, load_times, parse_event
from .arrivals import trace_arrivals
from .simulator import Scenario

__all__ = ["Preset", "PRESETS", "get_preset", "ScenarioOption", "OPTIONS", "scenario_fields",
           "scenario_flags", "describe_scenario"]


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




# -- the table: a Scenario field, its option, how it is read and written back -------------
def _num(v: float) -> str:
    return f"{v:g}"


def _same(v: Any) -> Any:
    return v


def _describe(v: Any) -> Any:
    return v if isinstance(v, str) else v.describe()


def _words(flag: str, text: Callable[[Any], str] = str) -> Callable[[Any, Scenario], list[str]]:
    """The usual way back: ``FLAG TEXT``."""
    return lambda v, sc: [f"{flag} {text(v)}"]


@dataclass(frozen=True)
class ScenarioOption:
    """One ``Scenario`` field as ``routebench simulate`` takes it.

    ``flags`` are the options that set the field (events take four, one a
    kind); ``parse(value, flag)`` reads an option's value (for several flags,
    a mapping of the given ones to their values); ``format(value, scenario)``
    writes a value other than the default back as options (None: the field
    cannot be given as options); ``record`` turns the value into what
    ``Scenario.describe`` reports (None: not reported).
    """

    field: str
    flags: tuple[str, ...]
    parse: Callable[[Any, str], Any]
    format: Callable[[Any, Scenario], list[str]] | None
    record: Callable[[Any], Any] | None = _same

    @property
    def dests(self) -> tuple[str, ...]:
        """The option names in a mapping of options: the flags, ``_`` for ``-``."""
        return tuple(f.lstrip("-").replace("-", "_") for f in self.flags)

    def given(self, options: Mapping[str, Any]) -> Any:
        """This field's value among ``options`` (as given; None when not given)."""
        found = {d: options[d] for d in self.dests if _is_given(options.get(d))}
        if len(self.dests) == 1:
            return found.get(self.dests[0])
        return found or None


def _is_given(v: Any) -> bool:
    return v is not None and v is not False and not (isinstance(v, (list, tuple)) and not v)


def _count(minimum: int = 1) -> Callable[[Any, str], int]:
    return lambda v, flag: parse_count(v, flag, minimum)


def _time(allow_zero: bool = False) -> Callable[[Any, str], float]:
    return lambda v, flag: parse_duration(v, flag, allow_zero)


def _positive(allow_zero: bool = False) -> Callable[[Any, str], float]:
    return lambda v, flag: check_positive(v, flag, allow_zero)


def _dist(allow_file: bool = False) -> Callable[[Any, str], Dist]:
    return lambda v, flag: Dist.parse(v, flag, allow_file=allow_file)


def _speeds(items: Any, flag: str) -> dict[str, float]:
    """``["backend-0=0.25", "3=2"]`` -> ``{"backend-0": 0.25, "backend-3": 2.0}``."""
    if isinstance(items, Mapping):
        items = [f"{k}={v}" for k, v in items.items()]
    speeds: dict[str, float] = {}
    for item in items:
        name, eq, value = str(item).partition("=")
        if not eq or not name.strip():
            raise RoutebenchError(f"{flag} {item!r}: expected BACKEND=FACTOR, e.g. backend-0=0.25")
        name = _backend(name.strip())
        speeds[name] = check_positive(value, f"{flag} {name}=")
    return speeds


def _backend(name: str) -> str:
    return f"backend-{name}" if name.isdigit() else name


def _nat(value: Any, flag: str) -> tuple[int, ...]:
    from ...datasets.synthetic import parse_sizes

    if not isinstance(value, str):
        return tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if value.strip().lower() == "none":  # a preset's NAT groups switched off, on purpose
        return ()
    if value.strip() in ("", "0"):
        raise RoutebenchError(f"{flag} {value!r}: a NAT group needs at least 1 client; give "
                              "group sizes such as 50 or 500,200,50, or 'none' for no NAT groups")
    return parse_sizes(value, flag)


def _requests(value: Any, flag: str) -> int | None:
    return parse_count(value, flag, minimum=0) or None  # 0: no limit


def _events(given: Mapping[str, Sequence[str]], flag: str) -> list[tuple[str, str | None, float]]:
    """(kind, backend or None for the next one to join, time), kind by kind."""
    out = []
    for kind in EVENT_KINDS:
        for text in given.get(kind) or ():
            name, t = parse_event(kind, text)
            out.append((kind, None if name is None else _backend(name), t))
    return out


def _arrivals(value: Any, flag: str) -> Any:
    if not isinstance(value, str):
        return value  # times already
    text = value.strip()
    if text == "poisson":
        return None
    if not text.startswith("file:"):
        raise RoutebenchError(f"{flag} {text!r}: expected poisson or file:PATH "
                              "(arrival times in seconds, one a line)")
    return load_times(text[5:])


def _cache(given: Mapping[str, Any], flag: str) -> Any:
    """``--cache POLICY:size=S`` (``--cache-total``: the size is split across the backends)."""
    from dataclasses import replace as _replace

    from ...caches import CacheSpec

    if "cache" not in given:
        raise RoutebenchError("--cache-total needs --cache POLICY:size=S (the total to split)")
    spec = CacheSpec.parse(given["cache"])
    if given.get("cache_total") and not spec.split:
        spec = _replace(spec, split=True)
    return spec


def _record_arrivals(v: Any) -> str:
    from ...datasets import Trace

    return "poisson" if v is None else v.label if isinstance(v, Trace) else "array"


def _load_words(v: float | None, sc: Scenario) -> list[str]:
    # a session rate overrides the load; no load: the arrivals come from times
    return [] if sc.session_rate is not None or v is None else [f"--load {_num(v)}"]


_O = ScenarioOption

#: every Scenario field, in the order ``scenario_flags`` writes them
OPTIONS: tuple[ScenarioOption, ...] = (
    _O("backends", ("--backends",), _count(), _words("--backends")),
    _O("workers", ("--workers",), _count(), _words("--workers")),
    _O("clients", ("--clients",), _count(), _words("--clients")),
    _O("speeds", ("--speed",), _speeds,
       lambda v, sc: [f"--speed {n}={_num(x)}" for n, x in v.items()], dict),
    _O("service", ("--service",), _dist(allow_file=True), _words("--service", _describe),
       _describe),
    _O("session_length", ("--session-length",), _dist(), _words("--session-length", _describe),
       _describe),
    _O("think", ("--think",), _dist(), _words("--think", _describe), _describe),
    _O("keys", ("--keys",), lambda v, flag: v, _words("--keys", _describe), _describe),
    _O("nat", ("--nat",), _nat, _words("--nat", lambda v: ",".join(map(str, v)) or "none"), list),
    _O("session_rate", ("--session-rate",), _positive(), _words("--session-rate", _num)),
    _O("load", ("--load",), _positive(), _load_words),
    _O("requests", ("--requests",), _requests, _words("--requests", lambda v: str(v or 0))),
    _O("duration", ("--duration",), _time(), _words("--duration", _num)),
    _O("warmup", ("--warmup",), _time(allow_zero=True), _words("--warmup", _num)),
    _O("events", tuple(f"--{k}" for k in EVENT_KINDS), _events,
       lambda v, sc: [f"--{e.kind} {e.backend}@{_num(e.time)}" for e in v],
       lambda v: [e.describe() for e in v]),
    _O("store", ("--store",), lambda v, flag: v, _words("--store")),
    _O("store_rtt", ("--store-rtt",), _time(allow_zero=True), _words("--store-rtt", _num)),
    _O("ttl", ("--ttl",), _time(), _words("--ttl", _num)),
    _O("ip_change_rate", ("--ip-change-rate",), _positive(allow_zero=True),
       _words("--ip-change-rate", _num)),
    _O("queue_limit", ("--queue-limit",), _count(minimum=0), _words("--queue-limit")),
    # not in Scenario.describe (reports written before this table lack it too)
    _O("window", ("--window",), _time(), _words("--window", _num), None),
    _O("warm_start", ("--no-warm-start",), lambda v, flag: not v,
       lambda v, sc: [] if v else ["--no-warm-start"]),
    # a total is written as POLICY:total=S, which --cache reads back as it is
    _O("cache", ("--cache", "--cache-total"), _cache, _words("--cache"),
       lambda v: None if v is None else v.label),
    # times from a file or a trace (--trace) cannot be written back as options
    _O("arrivals", ("--arrivals",), _arrivals, None, _record_arrivals),
)
_BY_FIELD = {o.field: o for o in OPTIONS}


# -- the three uses ------------------------------------------------------------------------
def scenario_fields(options: Mapping[str, Any],
                    trace_times: Callable[[str], Any] | None = None,
                    ) -> tuple[dict[str, Any], list[str]]:
    """The preset's ``Scenario`` fields and balancers, overridden by the options given.

    ``options`` maps option names (the ``routebench simulate`` flags with
    ``_`` for ``-``: ``backends``, ``session_length``, ``crash``,
    ``no_warm_start`` ...) to their values as typed; None, False or an empty
    list is not given. ``scenario`` names the preset (default: ``default``),
    ``balancer`` lists balancers (default: the preset's). ``trace`` names a
    trace whose request times are the session arrivals, read by
    ``trace_times(trace)`` (default: ``trace_arrivals``).

    As on the command line: ``load`` replaces the preset's session rate;
    ``duration`` without ``requests`` runs for that time only; arrival times
    (``arrivals`` from a file, or ``trace``) without a load or session rate
    arrive as given, and without requests or a duration run to the last.
    """
    given = {k: v for k, v in options.items() if _is_given(v)}
    preset = get_preset(given.get("scenario") or "default")
    f: dict[str, Any] = dict(preset.fields)
    for opt in OPTIONS:
        value = opt.given(given)
        if value is not None:
            f[opt.field] = opt.parse(value, opt.flags[0])
    if "load" in given:
        f.pop("session_rate", None)
    if "duration" in given and "requests" not in given:
        f["requests"] = None
    if _BY_FIELD["events"].given(given) is not None:
        f["events"] = _name_joins(f["events"], f.get("backends", Scenario.backends))
    _arrival_times(f, given, trace_times)
    return f, list(given.get("balancer") or preset.balancers)


def _name_joins(events: Sequence[tuple[str, str | None, float]], backends: int
                ) -> tuple[Event, ...]:
    """Events, a join with no name taking the next backend's (backend-N, N+1, ...)."""
    out, n = [], backends
    for kind, name, t in events:
        out.append(Event(kind, f"backend-{n}" if name is None else name, t))
        n += kind == "join"
    return tuple(out)


def _arrival_times(f: dict[str, Any], given: Mapping[str, Any],
                   trace_times: Callable[[str], Any] | None) -> None:
    if "trace" in given:
        if "arrivals" in given:
            raise RoutebenchError("--trace and --arrivals both give arrival times; use one")
        f["arrivals"] = (trace_times or _trace_times)(given["trace"])
    elif "arrivals" not in given or str(given["arrivals"]).strip() == "poisson":
        return
    if "load" not in given and "session_rate" not in given:
        f["load"] = None
        f.pop("session_rate", None)
    if "requests" not in given and "duration" not in given:
        f["requests"] = None


def _trace_times(spec: str) -> Any:
    return trace_arrivals(spec)[0]


def scenario_flags(sc: Scenario, balancers: Sequence[str] = (), seed: int | None = None) -> str:
    """The ``routebench simulate`` options that rebuild ``sc`` (for reports and claims)."""
    default = Scenario()
    out = [f"--balancer {b}" for b in balancers]
    for opt in OPTIONS:
        value = getattr(sc, opt.field)
        if opt.format is not None and value != getattr(default, opt.field):
            out += opt.format(value, sc)
    if seed is not None:
        out.append(f"--seed {seed}")
    return " ".join(out)


def describe_scenario(sc: Scenario) -> dict[str, Any]:
    """What a report records to reproduce ``sc``: ``Scenario.describe``."""
    out: dict[str, Any] = {}
    for f in fields(sc):  # the dataclass's order
        opt = _BY_FIELD.get(f.name)
        if opt is not None and opt.record is not None:
            out[f.name] = opt.record(getattr(sc, f.name))
    return out
