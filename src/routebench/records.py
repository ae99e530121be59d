"""Typed result records, the report that holds them, and the metric catalogue.

Every engine returns records of one of these kinds; every report, table and
comparison reads them back through ``Report.from_json``, which checks the
schema and migrates older files, so a consumer never guesses which key a
producer used. A record carries its display ``label`` and its ``params`` with
the defaults filled in when it was written: a report built from a stored file
reads the same whatever plugins or defaults are installed later.

    {"schema": "routebench/2", "kind": "run", "created": ..., "command": [...],
     "environment": {...}, "config": {...},
     "results": [{"record": "static", "strategy": "ring", "params": {...},
                  "label": "ring", "trace": "uniform", "nodes": 10,
                  "metrics": {...}, "counts": [...], ...}, ...]}
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, ClassVar

from ._errors import RoutebenchError

__all__ = [
    "SCHEMA",
    "READABLE_SCHEMAS",
    "Metric",
    "METRICS",
    "metric",
    "TIMING_METRICS",
    "INTERLEAVED_METRICS",
    "Record",
    "StaticResult",
    "SimRecord",
    "LiveRecord",
    "ClaimRecord",
    "TraceSummary",
    "LbConfigResult",
    "SweepCell",
    "RemovalResult",
    "Report",
    "display_label",
    "record_from_json",
    "identity",
    "workload",
    "make_report",
    "attach_timing",
    "clean_json",
]

SCHEMA = "routebench/2"
#: schemas ``Report.from_json`` reads (older ones are migrated on read)
READABLE_SCHEMAS = ("routebench/1", SCHEMA)


# -- the metric catalogue -----------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """What a metric is: its unit, which way is better, and how it may be gated.

    ``kind`` is ``quality`` (deterministic for a seed: gated exactly) or
    ``timing`` (measured with a clock: gated only on interleaved rounds, and
    only when ``interleaved`` says ``routebench ab`` times it so).
    """

    name: str
    unit: str
    better: str | None  # "lower", "higher" or None (neither: descriptive)
    kind: str = "quality"
    interleaved: bool = False
    help: str = ""

    @property
    def timing(self) -> bool:
        return self.kind == "timing"


def _m(name: str, unit: str, better: str | None, help: str = "", kind: str = "quality",
       interleaved: bool = False) -> Metric:
    return Metric(name, unit, better, kind, interleaved, help)


_CATALOGUE = (
    # static runs (routebench run)
    _m("requests", "requests", None, "requests replayed"),
    _m("distinct_keys", "keys", None, "distinct routing keys (estimate above 1M)"),
    _m("chi2", "", "lower", "chi-square statistic of requests per node against the weights"),
    _m("chi2_p", "", "higher", "chi-square p-value: low means not uniform"),
    _m("peak_to_mean", "ratio", "lower", "busiest node's requests over the mean"),
    _m("peak_to_mean_random", "ratio", None,
       "expected peak/mean of a uniformly random assignment of as many requests"),
    _m("cov", "ratio", "lower", "coefficient of variation of requests per node"),
    _m("min_share", "fraction", None, "the least loaded node's share over its fair share"),
    _m("max_share", "fraction", "lower", "the busiest node's share over its fair share"),
    _m("remap_join", "fraction", "lower", "distinct keys moved when one node joins"),
    _m("remap_join_ideal", "fraction", None, "the least a join must move"),
    _m("remap_leave", "fraction", "lower", "distinct keys moved when one node leaves"),
    _m("remap_leave_ideal", "fraction", None, "the least a leave must move"),
    _m("remap_join_requests", "fraction", "lower", "requests whose node changes on a join"),
    _m("remap_leave_requests", "fraction", "lower", "requests whose node changes on a leave"),
    _m("monotonicity_violations", "keys", "lower", "keys moved between surviving nodes"),
    _m("monotonicity_violations_join", "keys", "lower"),
    _m("monotonicity_violations_leave", "keys", "lower"),
    _m("nat_peak_to_mean_ip", "ratio", "lower", "peak/mean when routing on client IP"),
    _m("nat_peak_to_mean_user", "ratio", "lower", "peak/mean when routing on the user"),
    _m("lookup_ns_p50", "ns", "lower", "scalar lookup, median", "timing", True),
    # retired: no longer written (a sub-microsecond call timed on its own measures the
    # clock, not the call); kept so reports that carry it load, render and compare
    _m("lookup_ns_p99", "ns", "lower", "RETIRED, not measured since issue 10: per-call "
       "scalar p99 (older reports only)", "timing"),
    _m("batch_ns_per_key", "ns", "lower", "batch lookup_many per key", "timing", True),
    _m("build_ms", "ms", "lower", "time to build the structure", "timing", True),
    _m("memory_bytes", "bytes", "lower", "memory the structure holds"),
    # per-node caches (routebench run --cache; hit_ratio and miss_load_peak_to_mean also
    # in routebench simulate, a cache per backend)
    _m("hit_ratio", "fraction", "higher", "requests that hit their node's cache"),
    _m("byte_hit_ratio", "fraction", "higher",
       "bytes served from the caches over bytes requested (traces with object sizes)"),
    _m("miss_load_peak_to_mean", "ratio", "lower",
       "misses (the load passed to the origin) of the node with the most over the mean"),
    _m("hit_ratio_shared", "fraction", None,
       "reference: one shared cache of the total size (the best any routing can do)"),
    _m("hit_ratio_random", "fraction", None,
       "reference: the same per-node caches behind random routing (no locality)"),
    _m("cache_capacity_total", "objects", None, "all the nodes' caches together "
       "(bytes for a byte size)"),
    _m("cache_capacity_node", "objects", None, "one node's cache, the mean over the nodes "
       "(bytes for a byte size; with --cache-total the total split across the nodes)"),
    # around simulate's topology events (crash, recover, join, drain), windows of requests
    _m("cache_event_dip", "fraction", "higher",
       "simulate: lowest windowed hit ratio after any topology event, before the next one"),
    _m("cache_event_drop", "fraction", "lower",
       "simulate: largest fall of windowed hit ratio after an event from the level before it "
       "(mean of 5 windows)"),
    _m("cache_event_recovery_requests", "requests", "lower",
       "simulate: the slowest recovery after an event, requests until a window is within 1 "
       "point of the level before (empty: one did not recover before the next event or the "
       "end)"),
    _m("cache_event_recovery_s", "s", "lower",
       "simulate: the same recovery in simulated seconds"),
    _m("join_hit_ratio_before", "fraction", None,
       "windowed hit ratio before a node joins cold (mean of 5 windows; the event phase)"),
    _m("join_dip", "fraction", "higher", "lowest windowed hit ratio after a node joins cold"),
    _m("join_drop", "fraction", "lower",
       "largest loss of windowed hit ratio after a node joins cold, against the same requests "
       "without the event (the control)"),
    _m("join_recovery_requests", "requests", "lower",
       "requests after the event until a window is within 1 point of the control's "
       "(empty: not within the phase)"),
    _m("join_misses", "requests", "lower", "misses in the requests after the event"),
    _m("join_extra_misses", "requests", "lower",
       "misses after the event beyond the control's: what the event cost"),
    _m("join_phase_requests", "requests", None, "requests replayed after the event"),
    _m("leave_hit_ratio_before", "fraction", None,
       "windowed hit ratio before a node leaves (mean of 5 windows; the event phase)"),
    _m("leave_dip", "fraction", "higher",
       "lowest windowed hit ratio after a node leaves (its cache gone)"),
    _m("leave_drop", "fraction", "lower",
       "largest loss of windowed hit ratio after a node leaves, against the same requests "
       "without the event (the control)"),
    _m("leave_recovery_requests", "requests", "lower",
       "requests after the event until a window is within 1 point of the control's "
       "(empty: not within the phase)"),
    _m("leave_misses", "requests", "lower", "misses in the requests after the event"),
    _m("leave_extra_misses", "requests", "lower",
       "misses after the event beyond the control's: what the event cost"),
    _m("leave_phase_requests", "requests", None, "requests replayed after the event"),
    # your own load balancer's configuration (routebench run --lb-config)
    _m("round_robin_requests", "fraction", None,
       "requests without the key the configuration hashes: the product balances them round "
       "robin"),
    _m("round_robin_retries", "fraction", "lower",
       "requests nginx sends round robin after more than 20 attempts past down servers"),
    _m("delete_remap_max", "fraction", "lower",
       "distinct keys moved by deleting one server's line, the worst server"),
    _m("delete_collateral_max", "fraction", "lower",
       "keys moved between servers that stayed when one server's line is deleted, the worst "
       "server"),
    _m("down_remap_max", "fraction", "lower",
       "distinct keys moved by marking one server down (nginx) or disabled (HAProxy), the "
       "worst server"),
    _m("down_collateral_max", "fraction", "lower",
       "keys moved between servers that stayed when one server is marked down, the worst "
       "server"),
    _m("add_remap", "fraction", "lower", "distinct keys moved by adding one server"),
    _m("add_collateral", "fraction", "lower",
       "keys moved between the old servers when one server is added"),
    _m("delete_remap_requests_max", "fraction", "lower",
       "requests moved by deleting one server's line, the worst server"),
    _m("down_remap_requests_max", "fraction", "lower",
       "requests moved by marking one server down, the worst server"),
    _m("add_remap_requests", "fraction", "lower", "requests moved by adding one server"),
    # mass removal and restore (run_removals: a record's summary, and its steps)
    _m("sample_keys", "keys", None, "distinct key digests assigned"),
    _m("survivors", "nodes", None, "nodes present at this step"),
    _m("removed_nodes", "nodes", None, "nodes out at this step"),
    _m("removed_share", "fraction", None, "nodes out over the N at the start"),
    _m("cov_random", "ratio", None,
       "CoV of a uniformly random assignment of as many keys over as many nodes (root mean "
       "square: sqrt((nodes - 1) / keys))"),
    _m("keys_moved", "fraction", "lower", "keys on another node than at the start"),
    _m("keys_moved_min", "fraction", None,
       "keys whose node at the start is out: the least any strategy must move"),
    _m("moved_between_survivors", "keys", "lower",
       "keys moved between two nodes that are both present (0: consistent)"),
    _m("moved_between_survivors_share", "fraction", "lower",
       "moved_between_survivors over the keys"),
    _m("restored_share", "fraction", "higher",
       "after a restore step: keys back on the node they had at the start"),
    _m("keys_moved_excess_max", "fraction", "lower",
       "the most keys_moved exceeded keys_moved_min over the removal steps"),
    _m("moved_between_survivors_max", "keys", "lower",
       "the most keys moved between present nodes at any step"),
    _m("restored_share_final", "fraction", "higher",
       "keys back on their node at the start once every node is back"),
    _m("remove_ns_median", "ns", "lower", "one remove at N, median of many", "timing"),
    _m("add_ns_median", "ns", "lower", "one add at N, median of many", "timing"),
    _m("resize_repeats", "pairs", None, "remove + add pairs the resize medians are of"),
    _m("memory_state_bytes", "bytes", "lower",
       "the algorithm's own arrays (memory()'s state part: what its paper counts)"),
    _m("memory_bytes_max", "bytes", "lower",
       "the most memory the structure reported (memory()) at any step"),
    # the simulator (routebench simulate)
    _m("wall_s", "s", "lower", "wall-clock time of the run", "timing"),
    _m("utilization", "fraction", None, "busy workers over all workers"),
    _m("throughput", "requests/s", "higher"),
    _m("latency_mean", "s", "lower"),
    _m("latency_p50", "s", "lower"),
    _m("latency_p99", "s", "lower"),
    _m("latency_p999", "s", "lower"),
    _m("latency_max", "s", "lower"),
    _m("failed", "requests", "lower"),
    _m("failed_pct", "%", "lower"),
    _m("sessions_lost", "sessions", "lower"),
    _m("sessions_lost_pct", "%", "lower"),
    _m("crash_lost", "sessions", "lower"),
    _m("crash_lost_pct", "%", "lower"),
    _m("crash_others_lost_pct", "%", "lower",
       "sessions active on the other backends at a crash that lost local state at their next "
       "request (re-routed by the changed hash)"),
    _m("ip_change_survival", "fraction", "higher"),
    _m("offered_load_max", "ratio", "lower",
       "the most loaded backend's offered requests over what it can serve (share of the "
       "requests committed to it x the request rate / capacity); above 1 its queue grows"),
    _m("overload_pct", "%", "lower",
       "share of offered requests above the capacity of the backend they are sent to"),
    _m("queue_growth_max", "requests/s", "lower",
       "fastest growth of a backend's outstanding requests over the measured time"),
    _m("bounded_forwarded_pct", "%", None,
       "bounded-load requests sent past their key's hash owner (the price of the bound)"),
    _m("outstanding_imbalance_avg", "ratio", "lower",
       "max/mean outstanding requests per window, time-averaged"),
    _m("outstanding_imbalance_worst", "ratio", "lower"),
    _m("outstanding_imbalance_overall", "ratio", "lower"),
    _m("served_imbalance_avg", "ratio", "lower"),
    _m("served_imbalance_worst", "ratio", "lower"),
    _m("served_imbalance_total", "ratio", "lower"),
    # real software on loopback (routebench live); the rest of its names are simulate's
    _m("startup_s", "s", "lower", "time to start the store, backends and HAProxy", "timing"),
    _m("cpu_client_s", "s", None, "CPU time of the load generator (routebench itself)",
       "timing"),
    _m("cpu_balancer_s", "s", None, "CPU time of the balancer (HAProxy)", "timing"),
    _m("cpu_backends_s", "s", None, "CPU time of all backend processes", "timing"),
    _m("cpu_store_s", "s", None, "CPU time of the session store (Redis, memcached)", "timing"),
    _m("cpu_client_pct", "%", None, "load generator CPU over the run's wall time (100: a core)",
       "timing"),
    _m("cpu_balancer_pct", "%", None, "HAProxy CPU over the run's wall time", "timing"),
    _m("cpu_backends_pct", "%", None, "backends' CPU over the run's wall time", "timing"),
    _m("cpu_store_pct", "%", None, "session store CPU over the run's wall time", "timing"),
    _m("ip_changes", "changes", None, "client address changes before a request (live)"),
    _m("ip_change_sessions", "sessions", None,
       "sessions with state when their address changed (ip_change_survival's whole)"),
    _m("outstanding_peak", "requests", None,
       "most requests outstanding at one backend (live: from the backends' own counters)"),
)

#: every metric routebench writes, by name
METRICS: dict[str, Metric] = {m.name: m for m in _CATALOGUE}
#: metrics measured with a clock: noisy, gated only on interleaved samples
TIMING_METRICS = frozenset(m.name for m in _CATALOGUE if m.timing)
#: the timing metrics ``routebench ab`` times in interleaved rounds: the gateable ones
INTERLEAVED_METRICS = tuple(m.name for m in _CATALOGUE if m.interleaved)


def metric(name: str) -> Metric:
    """The catalogue entry for ``name``; a plugin's own metric is a quality metric."""
    return METRICS.get(name) or Metric(name, "", None)


# -- labels -------------------------------------------------------------------
def display_label(name: str, params: Mapping[str, Any],
                  defaults: Mapping[str, Any] | None = None) -> str:
    """``name`` with the parameters that differ from ``defaults`` (all when None)."""
    shown = {k: v for k, v in params.items() if defaults is None or defaults.get(k) != v}
    return name + (":" + ",".join(f"{k}={v}" for k, v in shown.items()) if shown else "")


# -- records ------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    """What every result record has: who ran, on what, with which numbers."""

    RECORD: ClassVar[str] = ""
    #: the field naming what the strategy ran over (a trace, a scenario)
    WORKLOAD: ClassVar[str] = ""

    strategy: str
    params: dict[str, Any]
    label: str
    nodes: int | None
    metrics: dict[str, Any]

    @property
    def workload(self) -> str:
        return str(getattr(self, self.WORKLOAD, "")) if self.WORKLOAD else ""

    def identity(self) -> tuple[Any, ...]:
        return identity(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {"record": self.RECORD, **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        names = {f.name for f in fields(cls)}
        required = [f.name for f in fields(cls)
                    if f.default is MISSING and f.default_factory is MISSING]
        missing = [n for n in required if n not in data]
        if missing:
            raise RoutebenchError(f"a {cls.RECORD} record lacks {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class StaticResult(Record):
    """One keyed strategy at one N over one trace (``routebench run``)."""

    RECORD: ClassVar[str] = "static"
    WORKLOAD: ClassVar[str] = "trace"

    trace: str = ""
    trace_params: dict[str, Any] = field(default_factory=dict)
    route_on: str | None = None
    events: dict[str, Any] = field(default_factory=dict)
    counts: list[int] = field(default_factory=list)
    # with --cache: the join and leave phases' windowed hit ratios (series["cache"])
    series: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SimRecord(Record):
    """One balancer through one simulated scenario (``routebench simulate``)."""

    RECORD: ClassVar[str] = "sim"
    WORKLOAD: ClassVar[str] = "scenario"

    scenario: str = ""
    scenario_params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    counts: list[int] = field(default_factory=list)
    backends: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    nat_groups: list[dict[str, Any]] = field(default_factory=list)
    series: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveRecord(SimRecord):
    """One balancer through one scenario on real software on loopback (``routebench
    live``): HAProxy, backend processes, a session store. The metrics carry
    ``simulate``'s names; ``balancer_config`` holds the HAProxy lines that route like
    the balancer and ``config_file`` the whole configuration written beside the results."""

    RECORD: ClassVar[str] = "live"

    store: str = "local"
    balancer_config: list[str] = field(default_factory=list)
    config_file: str = ""
    #: CPU seconds by process (client, haproxy, backend-0 ..., redis)
    cpu_s: dict[str, float] = field(default_factory=dict)
    #: failed requests by what the client saw (HTTP 502, ConnectionResetError ...)
    errors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimRecord(Record):
    """One claim of ``routebench claims``: its verdict and the numbers behind it."""

    RECORD: ClassVar[str] = "claim"
    WORKLOAD: ClassVar[str] = "scenario"

    scenario: str = ""
    claim: int = 0
    text: str = ""
    verdict: str = ""
    detail: str = ""
    seed: int = 0
    commands: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class TraceSummary(Record):
    """What is in one trace (``routebench trace inspect``)."""

    RECORD: ClassVar[str] = "trace-summary"
    WORKLOAD: ClassVar[str] = "trace"

    trace: str = ""
    summary: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, summary: Mapping[str, Any]) -> TraceSummary:
        """The record of a ``summarize_trace`` result."""
        trace = str(summary.get("trace", ""))
        return cls(strategy="trace", params={}, label=trace, nodes=None, metrics={},
                   trace=trace, summary=dict(summary))

    def to_json(self) -> dict[str, Any]:
        # the summary's fields stand at the top level, as ``/1`` wrote them
        return {**self.summary, "record": self.RECORD, "strategy": self.strategy,
                "params": self.params, "label": self.label, "nodes": self.nodes,
                "metrics": self.metrics, "trace": self.trace}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TraceSummary:
        own = {"record", "strategy", "params", "label", "nodes", "metrics"}
        return cls.of({k: v for k, v in data.items() if k not in own})


@dataclass(frozen=True)
class LbConfigResult(Record):
    """One nginx upstream or HAProxy backend over one trace (``routebench run
    --lb-config``): balance, the requests it would not hash, and what deleting,
    marking down or adding a server moves. ``label`` is the config's ``FILE:SECTION``;
    ``strategy`` and ``params`` are the routebench strategy that reproduces it."""

    RECORD: ClassVar[str] = "lb-config"
    WORKLOAD: ClassVar[str] = "trace"

    trace: str = ""
    trace_params: dict[str, Any] = field(default_factory=dict)
    #: the trace column the configuration's key was read from
    route_on: str | None = None
    #: product, section, key kind and expression, notes
    config: dict[str, Any] = field(default_factory=dict)
    #: every server line: name, address, weight, id, state, requests
    servers: list[dict[str, Any]] = field(default_factory=list)
    #: per edit (delete / down of each server, add one): keys and requests moved
    edits: list[dict[str, Any]] = field(default_factory=list)
    #: requests per serving server, in ``servers`` order of those serving
    counts: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SweepCell(Record):
    """One cell of a sweep (``routebench sweep``): a strategy at N over a trace (engine
    ``run``) or a balancer over a scenario (engine ``simulate``), one replicate.

    ``worker`` is where its timing metrics were measured (a Dask worker's address, or
    ``local``): timing from different workers is not comparable, and ``compare`` does not
    gate it. A cell that failed has ``status`` ``failed``, its ``error`` and no metrics.
    """

    RECORD: ClassVar[str] = "sweep-cell"
    WORKLOAD: ClassVar[str] = "trace"

    #: the cell's identity in its sweep: engine|strategy|N=..|trace|r<replicate>
    cell: str = ""
    engine: str = "run"
    #: the trace (engine run) or the scenario preset (engine simulate) it ran over
    trace: str = ""
    trace_params: dict[str, Any] = field(default_factory=dict)
    route_on: str | None = None
    replicate: int = 0
    seed: int = 0
    status: str = "ok"
    error: str | None = None
    detail: str = ""
    attempts: int = 1
    #: the worker that ran (and timed) it, and its host
    worker: str = "local"
    host: str = ""
    elapsed_s: float = 0.0
    counts: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class RemovalResult(Record):
    """One keyed strategy at one N through mass removal and restore (``run_removals``).

    ``metrics`` is the summary (resize cost, the worst step, memory); ``steps`` has
    one object a state: the start, each removal target reached, each restore step,
    with ``phase`` (start, remove, restore), ``step`` (its label) and that state's
    metrics. ``order`` is the removal order run (lifo for a last-only strategy
    whatever was asked: ``note`` says so); ``scenario`` is the one asked for.
    """

    RECORD: ClassVar[str] = "removal"
    WORKLOAD: ClassVar[str] = "scenario"

    #: what was asked: targets, order, keys (the same for every strategy of a run)
    scenario: str = ""
    order: str = ""
    note: str = ""
    #: where the keys came from
    keys: str = ""
    #: the removal targets, cumulative: 10%, 30%, ... or node counts
    targets: list[str] = field(default_factory=list)
    seed: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)


RECORD_KINDS: dict[str, type[Record]] = {
    c.RECORD: c for c in (StaticResult, SimRecord, LiveRecord, ClaimRecord, TraceSummary,
                          LbConfigResult, SweepCell, RemovalResult)
}


def record_from_json(data: Mapping[str, Any]) -> Record:
    """A record from its JSON object (``/2`` form)."""
    cls = RECORD_KINDS.get(str(data.get("record")))
    if cls is None:
        raise RoutebenchError(f"unknown record kind {data.get('record')!r}; known: "
                              f"{', '.join(RECORD_KINDS)}")
    return cls.from_json(data)


def workload(r: Mapping[str, Any]) -> str:
    """What a result object (``/2`` form) ran over: its trace or its scenario."""
    cls = RECORD_KINDS.get(str(r.get("record")))
    return str(r.get(cls.WORKLOAD) or "") if cls is not None else ""


def params_key(r: Mapping[str, Any]) -> str:
    """A result's parameters as one comparable string."""
    return json.dumps(r.get("params") or {}, sort_keys=True, default=str)


def identity(r: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes a result the same scenario in two reports (a ``/2`` result object)."""
    return (r.get("strategy"), params_key(r), workload(r), r.get("route_on"), r.get("nodes"))


# -- the report ---------------------------------------------------------------
@dataclass
class Report:
    """A report: what ran (kind, command, config), where, and its result records."""

    kind: str
    results: list[Record | dict[str, Any]]
    config: dict[str, Any] = field(default_factory=dict)
    command: list[str] = field(default_factory=lambda: list(sys.argv))
    environment: dict[str, Any] | None = None
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(
        timespec="seconds"))
    schema: str = SCHEMA

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON object (NaN and infinities become null)."""
        if self.environment is None:
            from .environment import environment

            self.environment = environment()
        return clean_json({
            "schema": self.schema, "kind": self.kind, "created": self.created,
            "command": list(self.command), "environment": self.environment,
            "config": self.config,
            "results": [r.to_json() if isinstance(r, Record) else dict(r)
                        for r in self.results],
        })

    @classmethod
    def from_json(cls, data: Any, where: str = "report") -> dict[str, Any]:
        """A report's JSON object checked and migrated to the current schema.

        Returns the JSON object (``/2`` form), the shape every consumer reads.
        """
        schema = data.get("schema") if isinstance(data, dict) else None
        if not isinstance(schema, str) or not schema.startswith("routebench/"):
            raise RoutebenchError(f"{where} is not a routebench report (no \"schema\": "
                                  f"\"{SCHEMA}\")")
        if schema not in READABLE_SCHEMAS:
            raise RoutebenchError(f"{where} has schema {schema!r}; this routebench reads "
                                  f"{', '.join(READABLE_SCHEMAS)}")
        if not isinstance(data.get("results"), list):
            raise RoutebenchError(f"{where}: \"results\" must be a list")
        for i, r in enumerate(data["results"]):
            _check_result(r, f"{where}: result {i + 1}")
        if schema == "routebench/1":
            data = _migrate_1(data)
        return data

    @staticmethod
    def records(data: Mapping[str, Any]) -> list[Record]:
        """The typed records of a checked report object."""
        return [record_from_json(r) for r in data["results"]]


def _check_result(r: Any, what: str) -> None:
    if not isinstance(r, dict):
        raise RoutebenchError(f"{what} is {type(r).__name__}, expected an object")
    if not isinstance(r.get("metrics", {}), dict):
        raise RoutebenchError(f"{what}: \"metrics\" must be an object of name: number")
    nodes = r.get("nodes")
    if nodes is not None and (isinstance(nodes, bool) or not isinstance(nodes, int)):
        raise RoutebenchError(f"{what}: \"nodes\" is {nodes!r}, expected a whole number")
    bad = [k for k, v in r.get("metrics", {}).items()
           if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))]
    if bad:
        raise RoutebenchError(f"{what}: metric {bad[0]!r} is {r['metrics'][bad[0]]!r}, "
                              "expected a number or null")


# -- migrations ---------------------------------------------------------------
_KIND_OF_REPORT = {"run": "static", "simulate": "sim", "claims": "claim",
                   "trace-inspect": "trace-summary"}


def _migrate_1(data: Mapping[str, Any]) -> dict[str, Any]:
    """``routebench/1`` -> ``/2``: a record kind, a label and a workload on every result.

    ``/1`` results kept only the parameters; the label shows them all (the
    defaults of the day are unknown), which is what ``/1`` tables showed for a
    plugin not installed.
    """
    out = dict(data)
    kind = _KIND_OF_REPORT.get(str(data.get("kind")), "static")
    results = []
    for r in data["results"]:
        r = dict(r)
        rk = "claim" if "claim" in r and "verdict" in r else kind
        r["record"] = rk
        if rk == "claim":
            r.setdefault("strategy", f"claim-{r.get('claim')}")
            r.setdefault("params", {})
            r.setdefault("label", f"claim {r.get('claim')}")
            r.setdefault("nodes", None)
            r.setdefault("metrics", {})
        elif rk == "trace-summary":
            r = TraceSummary.of(r).to_json()
        else:
            name = str(r.get("strategy") or r.get("balancer") or "?")
            r["strategy"] = name
            r.pop("balancer", None)
            r.setdefault("params", {})
            r.setdefault("label", display_label(name, r["params"], None))
            if r.get("nodes") is None and isinstance(r.get("backends"), int):
                r["nodes"] = r.pop("backends")
            r.setdefault("nodes", None)
            r.setdefault("metrics", {})
        results.append(r)
    out["results"] = results
    out["schema"] = SCHEMA
    out["migrated_from"] = "routebench/1"
    return out


def clean_json(x: Any) -> Any:
    """NaN and infinities are not JSON: they become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean_json(v) for v in x]
    if hasattr(x, "item"):  # numpy scalars
        return clean_json(x.item())
    return x


def make_report(kind: str, results: Sequence[Record | Mapping[str, Any]],
                config: dict[str, Any], command: list[str] | None = None,
                env: dict[str, Any] | None = None) -> dict[str, Any]:
    """A report's JSON object; ``env`` is the environment block when the caller has one
    (default: this process's)."""
    rows = [r if isinstance(r, Record) else dict(r) for r in results]
    return Report(kind, rows, config, list(sys.argv if command is None else command),
                  env).to_json()


def attach_timing(records: Iterable[dict[str, Any]], timed: Iterable[Mapping[str, Any]]) -> int:
    """Give ``records`` the interleaved rounds of the matching ``timed`` records.

    Timed records (from ``interleaved_timing``) are matched by strategy,
    parameters and node count, whatever the trace: lookups were timed on
    random keys, and those rounds stand for every trace's row. Returns how
    many records got rounds.
    """
    by_key: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    by_loose: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for t in timed:
        by_key[(t.get("strategy"), params_key(t), t.get("nodes"))] = t
        by_loose.setdefault((t.get("strategy"), t.get("nodes")), []).append(t)
    n = 0
    for r in records:
        found = by_key.get((r.get("strategy"), params_key(r), r.get("nodes")))
        if found is None:
            loose = by_loose.get((r.get("strategy"), r.get("nodes")), [])
            found = loose[0] if len(loose) == 1 else None
        if found is not None and "timing" in found:
            r["timing"] = found["timing"]
            n += 1
    return n
