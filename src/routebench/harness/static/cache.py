"""Per-node caches for the static runner (issue 14): what routing does to hit ratios.

Every (strategy, N) scenario of ``run_static`` gets a :class:`~routebench.caches.NodeCaches`
(one cache a node), fed each chunk's node assignment and the requests' cache
keys; two reference lines are fed the same requests once per trace and N: one
shared cache of the total size (the best any routing can do) and per-node caches
behind random routing (no locality at all).

Cache keys are the routed column's xxh3 digests whatever the strategy hashes
with, so every strategy and both references see the same objects. A size given
as a share of distinct keys (``size=1%``) needs the trace's distinct keys up
front: a first pass over the trace counts them (exact up to 1,048,576, then the
bottom-k estimate ``run`` uses for remap). Traces with object sizes (Twitter's
key + value size, CacheLib's ``size``) feed byte sizes; the others count objects.

**Topology events** (after the replay; the replay's figures are taken first):

1. *join*: a replay of the trace's first ``phase`` requests (``PHASE_WINDOWS``
   windows of ``window`` requests, fewer on a short trace): the first
   ``LEAD_WINDOWS`` routed as before (the caches, warm from the whole replay,
   settle on the start of the trace: the level before the event), then one node
   joins with an empty cache and the rest is routed by the strategy with that
   node added (``strategy.add``);
2. *leave*: the same from the joined topology: a lead-in routed as after the join,
   then one node leaves (its cache is gone: the seeded leave node, or the last one
   for strategies that can only remove the last) and the rest is routed without it.

Around each event, hit ratios per window of the phase are compared with a
*control*: at the event the caches are copied and the copy gets the same
requests routed as before the event (the level the caches would have had
without it, on the same requests, so the windows' sampling noise cancels).
``dip``: the lowest windowed hit ratio after the event; ``drop``: the largest
loss against the control in a window; ``recovery_requests``: requests from the
event to the end of the first window, at or after the largest loss, within 1
point of the control (0 if no window lost more; None if the phase ends first);
``extra_misses``: misses after the event beyond the control's (negative when the
new topology's caches, warm again, do better: a join adds a cache's memory).
A key the event moves misses once where it lands, then hits. The record keeps
the windowed hit ratios (``series["cache"]``): the replay's, and each phase's with
its control's. Policies without a
compiled kernel (libcachesim's) cannot be copied: there the level is the mean of
the 5 windows before the event, as ``NodeCaches.recovery`` measures it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np

from ..._errors import RoutebenchError
from ...caches import (
    CacheReferences,
    CacheSpec,
    HitWindows,
    NodeCaches,
    available_memory,
    dip_and_recovery,
    window_for,
)
from ...datasets import Chunk, Trace
from ...datasets._distinct import DistinctSample
from ...hashing import Hasher, get_hasher
from ...strategies import KeyedStrategy
from .. import metrics

__all__ = ["CACHE_KEY_HASH", "TraceCaches", "trace_caches", "EventPhase", "cache_window",
           "size_columns", "PHASE_WINDOWS", "LEAD_WINDOWS"]

#: the hash of cache keys (the routed column), the same for every strategy
CACHE_KEY_HASH = "xxh3"
#: windows in an event phase, and of those the lead-in before the event
PHASE_WINDOWS = 40
LEAD_WINDOWS = 10
#: the tolerance of recovery (absolute: 1 point) and the windows of the level before
TOLERANCE = 0.01
BASELINE = 5
#: object-size columns by trace format (summed); a trace with none counts objects
_SIZE_COLUMNS = (("key_size", "value_size"), ("size",))

Digests = Callable[[str, Hasher], np.ndarray]


def size_columns(trace: Trace) -> tuple[str, ...]:
    """The columns whose sum is a request's object size in bytes (empty: no sizes)."""
    for cols in _SIZE_COLUMNS:
        if all(c in trace.available for c in cols):
            return cols
    return ()


def cache_window(requests: int | None) -> int:
    """Hit-ratio window: 10,000 requests, fewer on a short trace (at least 100 windows)."""
    return window_for(requests)


def _sizes(chunk: Chunk, cols: Sequence[str]) -> np.ndarray:
    """Object sizes of a chunk (bytes, at least 1; an unreadable size counts 1)."""
    total = np.zeros(len(chunk), np.int64)
    for c in cols:
        raw = chunk.columns[c].keys()
        vals = np.fromiter((int(v) if v.isdigit() else 0 for v in raw), np.int64, len(raw))
        total += vals
    return np.maximum(total, 1)


class EventPhase:
    """One topology event replayed on one scenario's caches, against a control.

    ``route_before`` and ``route_after`` map a chunk's routing digests to cache
    node indexes; ``apply`` changes the caches at the event (a join adds a cold
    node, a leave empties one). Feed chunks in order with :meth:`feed`; the event
    happens after ``lead`` requests (a multiple of ``window``).

    At the event the caches are copied (the compiled LRU and FIFO; libcachesim's
    cannot be, and run without a control): the copy, the *control*, gets the same
    requests routed as before the event. Window by window, the control's hit ratio
    is the level the caches would have had without the event, so the event's cost
    is measured on the same requests, free of the windows' sampling noise.
    """

    def __init__(self, caches: NodeCaches, kind: str, lead: int, window: int,
                 route_before: Callable[[np.ndarray], np.ndarray],
                 route_after: Callable[[np.ndarray], np.ndarray],
                 apply: Callable[[], Any]) -> None:
        self.caches = caches
        self.kind = kind
        self.lead = int(lead)
        self.windows = HitWindows(window)
        self.route_before, self.route_after, self._apply = route_before, route_after, apply
        self.seen = 0
        self.misses_after = 0
        self.requests_after = 0
        self.applied = False
        self.control: NodeCaches | None = None
        self.control_windows = HitWindows(window)
        self.control_misses = 0

    def feed(self, route_digests: np.ndarray, keys: np.ndarray,
             sizes: np.ndarray | None) -> None:
        n = keys.size
        cut = min(n, max(0, self.lead - self.seen))
        if cut:
            hits = self.caches.request_chunk(self.route_before(route_digests[:cut]), keys[:cut],
                                             None if sizes is None else sizes[:cut])
            self.windows.add(hits)
        if cut < n:
            if not self.applied:
                self.control = _copy(self.caches)
                self._apply()
                self.applied = True
            rest = slice(cut, n)
            d, k, sz = route_digests[rest], keys[rest], None if sizes is None else sizes[rest]
            hits = self.caches.request_chunk(self.route_after(d), k, sz)
            self.windows.add(hits)
            self.misses_after += int(hits.size - np.count_nonzero(hits))
            self.requests_after += int(hits.size)
            if self.control is not None:
                ctl = self.control.request_chunk(self.route_before(d), k, sz)
                self.control_windows.add(ctl)
                self.control_misses += int(ctl.size - np.count_nonzero(ctl))
        self.seen += n

    def result(self) -> dict[str, Any]:
        """``hit_ratio_before``, ``dip``, ``drop``, ``recovery_requests``, ``misses``,
        ``extra_misses`` and ``phase_requests`` (None where the phase was too short)."""
        w = self.windows.window
        r = self.windows.ratios()
        at = self.lead // w
        out: dict[str, Any] = {"hit_ratio_before": None, "dip": None, "drop": None,
                               "recovery_requests": None, "misses": self.misses_after,
                               "extra_misses": None, "phase_requests": self.requests_after}
        if not self.applied or at < 1 or at >= r.size:
            return out
        after = r[at:]
        # the level before and the dip as everywhere (simulate's events, caches.recovery)
        rec = dip_and_recovery(r, w, self.lead, tolerance=TOLERANCE, baseline=BASELINE)
        out["hit_ratio_before"], out["dip"] = rec.before, rec.dip
        if self.control is None:  # no control: the drop from the level before it
            out["drop"], out["recovery_requests"] = rec.drop, rec.recovery_requests
            return out
        level = self.control_windows.ratios()[: after.size]
        deficit = level - after[: level.size]
        worst = int(np.argmax(deficit))
        out["drop"] = max(0.0, float(deficit[worst]))
        out["extra_misses"] = self.misses_after - self.control_misses
        if deficit[worst] <= TOLERANCE:
            out["recovery_requests"] = 0
        else:
            back = np.nonzero(deficit[worst + 1:] <= TOLERANCE)[0]
            out["recovery_requests"] = (None if back.size == 0
                                        else (worst + 1 + int(back[0]) + 1) * w)
        return out

    def metrics(self) -> dict[str, Any]:
        return {f"{self.kind}_{k}": v for k, v in self.result().items()}

    def series(self) -> dict[str, Any]:
        """The phase's windowed hit ratios: ``at`` (the event's request in the phase),
        ``hit_ratio`` of each full window and the control's after the event (``control``,
        from the event's window on; empty without a control)."""
        return {"at": self.lead if self.applied else None,
                "hit_ratio": [round(x, 6) for x in self.windows.ratios().tolist()],
                "control": [round(x, 6) for x in self.control_windows.ratios().tolist()]}


def _copy(caches: NodeCaches) -> NodeCaches | None:
    """A copy of the caches' state (compiled ones only; None for libcachesim's)."""
    if caches.compiled is None:
        return None
    return copy.deepcopy(caches)


class _ScenarioCaches:
    """A scenario's caches and what its events did to them."""

    def __init__(self, sc: Any, caches: NodeCaches) -> None:
        self.sc = sc
        self.caches = caches
        self.replay: dict[str, Any] = {}
        self.events: dict[str, Any] = {}
        self.series: dict[str, Any] = {}  # the event phases' windowed hit ratios
        self.joined: KeyedStrategy | None = None


class TraceCaches:
    """The caches of every scenario over one trace, with the references a node count.

    ``scenarios`` are the runner's ``StaticScenario`` objects (``base``, ``join``,
    ``join_node``, ``leave_node``, ``n``, ``route_on``; ``assigned`` after each
    ``update``). Built before the replay, so bad input fails before any work.
    """

    def __init__(self, spec: CacheSpec | str, trace: Trace, scenarios: Sequence[Any], *,
                 seed: int = 0, total: bool = False, window: int | None = None,
                 max_memory: int | None = None) -> None:
        self.spec = CacheSpec.parse(spec) if not isinstance(spec, CacheSpec) else spec
        if total and not self.spec.split:
            self.spec = dataclasses.replace(self.spec, split=True)
        self.trace = trace
        self.hasher = get_hasher(CACHE_KEY_HASH)
        self.size_cols = size_columns(trace)
        has_sizes = bool(self.size_cols)
        if self.spec.size.is_bytes and not has_sizes:
            raise RoutebenchError(
                f"cache {self.spec.label}: a size in bytes needs object sizes, and trace "
                f"{trace.label!r} has none; give the size in objects (1000) or as a share of "
                "distinct keys (1%)")
        if has_sizes:
            trace.with_columns(*self.size_cols)
        self.window = int(window) if window else cache_window(trace.requests)
        self.distinct_keys = self._distinct(trace) if self.spec.size.kind == "share" else None
        counts = sorted({int(sc.n) for sc in scenarios})
        # every cache of the run is in memory at once (and a copy of each scenario's during
        # the event phases, the control): each gets its share of the budget
        n_caches = 2 * len(scenarios) + 2 * len(counts)
        budget = int(max_memory) if max_memory else int(0.8 * available_memory())
        kw: dict[str, Any] = {"distinct_keys": self.distinct_keys, "has_sizes": has_sizes,
                              "max_memory": max(1, budget // n_caches), "window": 0}
        self.refs = {n: CacheReferences(self.spec, n, seed=seed, **kw) for n in counts}
        # the strategies' caches keep the replay's hit ratio per window (the references do not)
        windowed = {**kw, "window": self.window}
        self.per = [_ScenarioCaches(sc, NodeCaches(self.spec, sc.n, **windowed))
                    for sc in scenarios]
        self.has_sizes = has_sizes

    # -- the replay -------------------------------------------------------------
    def _distinct(self, trace: Trace) -> int:
        sample = DistinctSample([self.hasher])
        for chunk in trace.chunks():
            col = chunk.columns[trace.route_on]
            sample.add(col.digest)
        if sample.estimate() < 1:
            raise RoutebenchError(f"trace {trace.label!r} has no requests: a cache size given as "
                                  "a share of distinct keys needs some")
        return sample.estimate()

    def keys(self, chunk: Chunk, digests: Digests) -> tuple[np.ndarray, np.ndarray | None]:
        """A chunk's cache keys and object sizes (None without sizes)."""
        keys = digests(self.trace.route_on, self.hasher)
        return keys, (_sizes(chunk, self.size_cols) if self.has_sizes else None)

    def update(self, chunk: Chunk, digests: Digests) -> None:
        """Feed one chunk of the replay (after every scenario's ``update``)."""
        keys, sizes = self.keys(chunk, digests)
        if keys.size == 0:
            return
        for p in self.per:
            p.caches.request_chunk(p.sc.assigned, keys, sizes)
        for ref in self.refs.values():
            ref.request_chunk(keys, sizes)

    # -- after the replay: the events --------------------------------------------
    def finish(self) -> None:
        """Take the replay's figures, then replay the join and the leave phases."""
        for p in self.per:
            st = p.caches.stats()
            p.replay = {"hit_ratio": st.hit_ratio,
                        "byte_hit_ratio": st.byte_hit_ratio if self.has_sizes else None,
                        "miss_load_peak_to_mean": st.miss_load_peak_to_mean}
            if p.caches.windows is not None:  # the replay's windows; the phases keep their own
                p.series["replay"] = {"hit_ratio": [round(x, 6) for x in
                                                    p.caches.windows.ratios().tolist()]}
                p.caches.windows = None
        total = int(self.per[0].caches.requests) if self.per else 0
        w = self.window
        phase = min(total, PHASE_WINDOWS * w)
        lead = (min(LEAD_WINDOWS * w, phase // 3) // w) * w
        if lead < w or phase - lead < w:  # too short to see a window on each side
            for p in self.per:
                p.events = {**_empty("join"), **_empty("leave")}
            return
        self._phase(phase, [self._join(p, lead) for p in self.per])
        self._phase(phase, [self._leave(p, lead) for p in self.per])

    def _join(self, p: _ScenarioCaches, lead: int) -> EventPhase:
        sc = p.sc
        base, joined = sc.base, sc.join
        p.joined = joined
        return EventPhase(p.caches, "join", lead, self.window, base.lookup_many,
                          joined.lookup_many, partial(p.caches.event, "join"))

    def _leave(self, p: _ScenarioCaches, lead: int) -> EventPhase:
        joined = p.joined
        assert joined is not None
        if len(joined.nodes) < 2:
            return EventPhase(p.caches, "leave", 0, self.window, joined.lookup_many,
                              joined.lookup_many, _nothing)
        name = (joined.nodes[-1] if joined.removable == "last"
                else p.sc.leave_node or joined.nodes[-1])
        left = joined.copy()
        left.remove(name)
        back = metrics.survivor_index(joined.nodes, left.nodes)
        node = list(joined.nodes).index(name)
        p.events["leave_node"] = name
        return EventPhase(p.caches, "leave", lead, self.window, joined.lookup_many,
                          partial(_through, left.lookup_many, back),
                          partial(p.caches.event, "leave", node))

    def _phase(self, requests: int, phases: list[EventPhase]) -> None:
        """Replay the trace's first ``requests`` requests through every scenario's phase."""
        for chunk, digests in _first(self.trace, requests):
            keys, sizes = self.keys(chunk, digests)
            for p, ph in zip(self.per, phases, strict=True):
                ph.feed(digests(p.sc.route_on, p.sc.hasher), keys, sizes)
        for p, ph in zip(self.per, phases, strict=True):
            p.events.update(ph.metrics())
            p.series[ph.kind] = ph.series()

    # -- results ------------------------------------------------------------------
    def metrics(self, sc: Any) -> dict[str, Any]:
        """The cache metrics of one scenario (after :meth:`finish`)."""
        p = next(x for x in self.per if x.sc is sc)
        ref = self.refs[int(sc.n)]
        out: dict[str, Any] = dict(p.replay)
        out["hit_ratio_shared"] = ref.shared.stats().hit_ratio
        out["hit_ratio_random"] = ref.random.stats().hit_ratio
        caps = p.caches.stats().capacity[: int(sc.n)]
        out["cache_capacity_total"] = int(caps.sum())
        out["cache_capacity_node"] = float(caps.mean())
        out.update({k: v for k, v in p.events.items() if k != "leave_node"})
        return out

    def annotate(self, result: Any, sc: Any) -> None:
        """Add the cache metrics to a scenario's result, the cache to its trace's record,
        and the event phases' windowed hit ratios to its ``series`` (``{"cache": {"window":
        W, "join": {...}, "leave": {...}}}``, see :meth:`EventPhase.series`)."""
        result.metrics.update(self.metrics(sc))
        result.trace_params["cache"] = self.describe()
        p = next(x for x in self.per if x.sc is sc)
        if p.series:
            result.series["cache"] = {"window": self.window, **p.series}

    def describe(self) -> dict[str, Any]:
        """What a report records of the caches: the spec, distinct keys, window, sizes."""
        return {**self.spec.describe(), "distinct_keys": self.distinct_keys,
                "window": self.window, "sizes": list(self.size_cols),
                "key_hash": CACHE_KEY_HASH}


def _nothing() -> None:
    pass


def _through(lookup: Callable[[np.ndarray], np.ndarray], back: np.ndarray,
             digests: np.ndarray) -> np.ndarray:
    """Nodes of a strategy after a leave, numbered as before it."""
    return back[lookup(digests)]


class _NoCaches:
    """What ``run_static`` calls when it runs without caches: nothing happens."""

    def update(self, chunk: Chunk, digests: Digests) -> None:
        pass

    def finish(self) -> None:
        pass

    def annotate(self, result: Any, sc: Any) -> None:
        pass


def trace_caches(spec: CacheSpec | str | None, trace: Trace, scenarios: Sequence[Any],
                 **kw: Any) -> TraceCaches | _NoCaches:
    """The caches of a trace's scenarios (``TraceCaches``), or none when ``spec`` is None."""
    return _NoCaches() if spec is None else TraceCaches(spec, trace, scenarios, **kw)


def _empty(kind: str) -> dict[str, Any]:
    return {f"{kind}_{k}": None for k in ("hit_ratio_before", "dip", "drop", "recovery_requests",
                                          "misses", "extra_misses", "phase_requests")}


def _first(trace: Trace, requests: int) -> Iterator[tuple[Chunk, Digests]]:
    """The trace's first ``requests`` requests, a chunk at a time, with their digests."""
    from .runner import _ChunkDigests

    left = int(requests)
    for chunk in trace.chunks():
        if left <= 0:
            return
        if len(chunk) > left:
            chunk = _head(chunk, left)
        left -= len(chunk)
        yield chunk, _ChunkDigests(chunk)


def _head(chunk: Chunk, n: int) -> Chunk:
    """The first ``n`` requests of a chunk."""
    from ...datasets._trace import InternedColumn, RawColumn

    cols: dict[str, Any] = {}
    for name, c in chunk.columns.items():
        if isinstance(c, InternedColumn):
            cols[name] = InternedColumn(c.ids[:n], c.vocab)
        elif isinstance(c, RawColumn):
            cols[name] = RawColumn(c.values[:n])
        else:  # a reader's lazy column
            cols[name] = _Sliced(c, n)
    return Chunk(cols, None if chunk.ts is None else chunk.ts[:n])


class _Sliced:
    """Any key column cut to its first ``n`` keys (digests computed whole, then cut)."""

    def __init__(self, col: Any, n: int) -> None:
        self.col, self.n = col, n

    def __len__(self) -> int:
        return self.n

    def digest(self, hasher: Hasher) -> np.ndarray:
        return self.col.digest(hasher)[: self.n]

    def keys(self, n: int | None = None) -> list[bytes]:
        return list(self.col.keys(self.n if n is None else min(n, self.n)))

