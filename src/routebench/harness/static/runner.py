"""The static runner: keyed strategies over traces, node counts and topology changes.

Chunks are the outer loop: each chunk is read once and hashed once per hash
function, and every (strategy, node count) scenario accumulates its tallies
from the same digest arrays. Memory therefore stays flat however long the
trace is.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from ..._errors import RoutebenchError
from ..._params import format_spec
from ..._units import format_duration
from ...caches import CacheSpec
from ...datasets import Chunk, FileSetTrace, Trace
from ...datasets._distinct import DistinctSample
from ...hashing import Hasher, get_hasher
from ...records import StaticResult, display_label
from ...registry import Registry, registry
from ...strategies import KeyedStrategy
from .. import metrics, timing
from .cache import trace_caches

__all__ = ["StrategySpec", "StaticScenario", "run_static", "DEFAULT_NODES"]

DEFAULT_NODES = (10, 100)
#: keys timed one call at a time for the scalar latency figures
SCALAR_SAMPLES = 10_000


@dataclass(frozen=True)
class StrategySpec:
    """A strategy name and the parameters given for it."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return format_spec(self.name, self.params)


def _node_name(i: int) -> str:
    return f"node-{i}"


class StaticScenario:
    """One strategy at one node count over one trace: balance, remap, NAT skew."""

    def __init__(self, spec: StrategySpec, n: int, trace: Trace, seed: int,
                 reg: Registry = registry) -> None:
        if n < 1:
            raise RoutebenchError(f"node count {n}: need at least 1 node")
        self.spec = spec
        self.n = n
        self.trace = trace
        self.route_on = trace.route_on  # the column run_static samples too
        self._reg = reg
        self.base = reg.create_keyed(spec.name, [_node_name(i) for i in range(n)], **spec.params)
        self.hasher = self.base.hasher
        self.counts = np.zeros(n, dtype=np.int64)
        self.total = 0
        self.assigned = np.zeros(0, dtype=np.int64)
        # join: one new node
        self.join = self.base.copy()
        self.join_node = _node_name(n)
        self.join.add(self.join_node)
        self.moved_join = 0
        # leave: a random node (seeded), or the last where only the last can go
        self.leave: KeyedStrategy | None = None
        self.leave_node: str | None = None
        self.moved_leave = 0
        if n > 1:
            if self.base.removable == "last":
                li = n - 1
            else:
                li = int(np.random.default_rng([seed, n]).integers(n))
            self.leave_index = li
            self.leave_node = self.base.nodes[li]
            self.leave = self.base.copy()
            self.leave.remove(self.leave_node)
            self._leave_to_base = metrics.survivor_index(self.base.nodes, self.leave.nodes)
        # NAT skew: the same requests routed on the client IP and on the user
        self.nat = {"client", "user"} <= set(trace.columns)
        self.nat_counts = {c: np.zeros(n, dtype=np.int64) for c in ("client", "user")}

    def update(self, digests: Callable[[str, Hasher], np.ndarray]) -> None:
        """Tally one chunk; ``digests(column, hasher)`` gives a column's digests."""
        d = digests(self.route_on, self.hasher)
        if d.size == 0:
            return
        a0 = self.base.lookup_many(d)
        self.assigned = a0  # this chunk's nodes, for the caches (harness/static/cache.py)
        self.counts += np.bincount(a0, minlength=self.n)
        self.total += d.size
        a1 = self.join.lookup_many(d)
        # base nodes keep their indices in the joined strategy
        self.moved_join += int(np.count_nonzero(a1 != a0))
        if self.leave is not None:
            b2 = self._leave_to_base[self.leave.lookup_many(d)]
            self.moved_leave += int(np.count_nonzero(b2 != a0))
        if self.nat:
            for col in ("client", "user"):
                a = a0 if col == self.route_on else self.base.lookup_many(digests(col, self.hasher))
                self.nat_counts[col] += np.bincount(a, minlength=self.n)

    def tally(self) -> dict[str, Any]:
        """The counts ``update`` accumulated: what a byte range's task hands back."""
        return {"counts": self.counts, "total": self.total, "moved_join": self.moved_join,
                "moved_leave": self.moved_leave, "nat_counts": self.nat_counts}

    def absorb(self, t: dict[str, Any]) -> None:
        """Add another replay's ``tally()`` (of other requests of the same trace): every
        count adds, so the result is the one a single pass would give."""
        self.counts = self.counts + t["counts"]
        self.total += int(t["total"])
        self.moved_join += int(t["moved_join"])
        self.moved_leave += int(t["moved_leave"])
        for col, c in t["nat_counts"].items():
            self.nat_counts[col] = self.nat_counts[col] + c

    def _key_remap(self, keys: DistinctSample) -> dict[str, Any]:
        """Remap and monotonicity over the distinct keys (the sample's digests)."""
        d = keys.digests[self.hasher.name]
        a0 = self.base.lookup_many(d)
        a1 = self.join.lookup_many(d)
        moved = a1 != a0
        m: dict[str, Any] = {
            "distinct_keys": keys.estimate(),
            "remap_join": metrics.fraction(int(moved.sum()), d.size),
            "remap_join_ideal": metrics.remap_ideal_join(self.base.weights),
        }
        viol_join = int((moved & (a1 != self.n)).sum())
        viol_leave = 0
        if self.leave is not None:
            b2 = self._leave_to_base[self.leave.lookup_many(d)]
            moved = b2 != a0
            viol_leave = int((moved & (a0 != self.leave_index)).sum())
            m["remap_leave"] = metrics.fraction(int(moved.sum()), d.size)
            m["remap_leave_ideal"] = metrics.remap_ideal_leave(self.base.weights, self.leave_index)
        else:
            m["remap_leave"] = m["remap_leave_ideal"] = None
        m["monotonicity_violations"] = viol_join + viol_leave
        m["monotonicity_violations_join"] = viol_join
        m["monotonicity_violations_leave"] = viol_leave
        return m

    def result(self, keys: DistinctSample, sample_keys: Sequence[bytes],
               sample_digests: np.ndarray,
               builds: dict[tuple[str, int], tuple[float, int]] | None = None) -> StaticResult:
        """The result record: metrics from the tallies plus timing and memory.

        ``builds`` keeps build cost and memory per (strategy, N) across traces:
        they do not depend on the trace, so they are measured once a run.
        """
        weights = self.base.weights
        m: dict[str, Any] = {"requests": self.total}
        m.update(metrics.balance(self.counts, weights))
        m["peak_to_mean_random"] = metrics.peak_to_mean_random(self.total, weights)
        m.update(self._key_remap(keys))
        m["remap_join_requests"] = metrics.fraction(self.moved_join, self.total)
        m["remap_leave_requests"] = (
            metrics.fraction(self.moved_leave, self.total) if self.leave is not None else None
        )
        if self.nat:
            m["nat_peak_to_mean_ip"] = metrics.peak_to_mean(self.nat_counts["client"])
            m["nat_peak_to_mean_user"] = metrics.peak_to_mean(self.nat_counts["user"])
        s = self.base
        # ns a call, pyperf-style (calibrated loops, median of round medians); no per-call
        # p99: a sub-microsecond call timed on its own measures the clock (lookup_ns_p99 is
        # retired; older reports that carry it still load)
        m["lookup_ns_p50"] = timing.scalar_latency_ns(s.lookup, sample_keys)
        m["batch_ns_per_key"] = timing.batch_ns_per_item(
            lambda: s.lookup_many(sample_digests), sample_digests.size
        )
        names = list(s.nodes)
        builds = {} if builds is None else builds
        built = (self.spec.label, self.n)
        if built not in builds:
            builds[built] = timing.build_cost(
                lambda: self._reg.create_keyed(self.spec.name, names, **self.spec.params))
        m["build_ms"], m["memory_bytes"] = builds[built]
        defaults = self._reg.get(self.spec.name).resolve_params({})
        return StaticResult(
            strategy=self.spec.name, params=dict(s.config),
            label=display_label(self.spec.name, s.config, defaults), nodes=self.n, metrics=m,
            trace=self.trace.label, trace_params=self.trace.describe(),
            route_on=self.route_on, events={"join": self.join_node, "leave": self.leave_node},
            counts=self.counts.tolist())


def run_static(strategies: Iterable[StrategySpec], node_counts: Iterable[int],
               traces: Iterable[Trace], *, seed: int = 0, reg: Registry = registry,
               progress: Callable[[str, int | None], Any] | None = None,
               cache: CacheSpec | str | None = None, cache_total: bool = False,
               cache_window: int | None = None,
               max_memory: int | None = None, split: Any = None) -> list[StaticResult]:
    """Every strategy at every node count over every trace, as result records.

    ``cache`` (``"LRU:size=1%"``) gives every node a cache (``cache_total``: the
    size is the total, split across the nodes) and adds the cache metrics to each
    result (see ``harness/static/cache.py``); ``cache_window`` is the hit-ratio
    window in requests (default: 10,000, fewer on a short trace), ``max_memory``
    what all the caches together may take (bytes).

    ``split`` (a ``harness.static.split.Split``: workers, scheduler, range size) replays
    every trace of files (``datasets.FileSetTrace``: a glob, or a file opened to be
    split) as byte ranges, one a task, and merges their counts exactly; timing is measured
    here after the merge, as without it.

    ``progress(stage, total)`` is called to start each stage and must return
    an object with ``update(n)`` and ``close()`` (a tqdm bar fits).
    """
    specs = list(strategies)
    counts = list(node_counts)
    if not specs:
        raise RoutebenchError("no strategies to run")
    if not counts:
        raise RoutebenchError("no node counts to run")
    for spec in specs:  # fail on a bad name or parameter before any work is done
        if reg.get(spec.name).kind != "keyed":
            raise RoutebenchError(
                f"strategy {spec.name!r} is a {reg.get(spec.name).kind}; "
                "`routebench run` measures keyed strategies (balancers: `routebench simulate`)"
            )
    if split is not None and cache is not None:
        raise RoutebenchError(
            "--cache replays every node's cache in request order over the whole trace, "
            "which byte ranges replayed apart cannot do exactly: drop --workers/--scheduler "
            "(a glob then runs as one trace in this process)")
    builds: dict[tuple[str, int], tuple[float, int]] = {}
    results: list[StaticResult] = []
    for trace in traces:
        scenarios = [StaticScenario(spec, n, trace, seed, reg) for spec in specs for n in counts]
        tc = trace_caches(cache, trace, scenarios, seed=seed, total=cache_total,
                          window=cache_window, max_memory=max_memory)
        if split is not None and isinstance(trace, FileSetTrace):
            from .split import replay_split

            keys, sample_keys, sample_digests = replay_split(trace, specs, counts, scenarios,
                                                             seed, split, progress)
        else:
            keys, sample_keys, sample_digests = replay(trace, scenarios, tc, progress)
        _check_keys_vary(trace, keys, scenarios)
        tc.finish()  # with caches: the join and leave phases replay the trace's start
        bar = progress(f"{trace.label}: timing", len(scenarios)) if progress else None
        for sc in scenarios:
            results.append(
                sc.result(keys, sample_keys, sample_digests[sc.hasher.name], builds)
            )
            tc.annotate(results[-1], sc)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        _warn_noise_floor(results[-len(scenarios):])
    return results


def replay(trace: Trace, scenarios: Sequence[StaticScenario], tc: Any,
           progress: Callable[[str, int | None], Any] | None = None,
           sample: int = SCALAR_SAMPLES,
           ) -> tuple[DistinctSample, list[bytes], dict[str, np.ndarray]]:
    """One pass over ``trace``: every scenario (and the caches ``tc``, or None) tallies
    every chunk. Returns the distinct-key sample and the first chunk's keys (up to
    ``sample``) and digests by hash function, which the timing uses."""
    keys = DistinctSample(sc.hasher for sc in scenarios)
    sample_keys: list[bytes] = []
    sample_digests: dict[str, np.ndarray] = {}
    bar = progress(f"{trace.label}: replay", trace.requests) if progress else None
    for chunk in trace.chunks():
        digests = _ChunkDigests(chunk)
        for sc in scenarios:
            sc.update(digests)
        if tc is not None:
            tc.update(chunk, digests)
        keys.add(partial(digests, trace.route_on))
        if not sample_keys:
            sample_keys = chunk.columns[trace.route_on].keys(sample)
            for h in keys.hashers:
                sample_digests[h.name] = digests(trace.route_on, h)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return keys, sample_keys, sample_digests


def _check_keys_vary(trace: Trace, keys: DistinctSample,
                     scenarios: Sequence[StaticScenario]) -> None:
    """Every request with the same routing key (a constant column routed on) is an error
    naming the column and the columns that vary."""
    if keys.estimate() != 1 or not scenarios or scenarios[0].total < 2:
        return
    varying: list[str] = []
    try:
        first = next(iter(trace.chunks()))
        h = get_hasher("xxh3")
        varying = [c for c in first.columns
                   if np.unique(first.columns[c].digest(h)).size > 1]
    except (RoutebenchError, StopIteration):  # stdin cannot be read twice: no suggestions
        pass
    hint = (f"; columns with more than one value in its first requests: {', '.join(varying)} "
            "(--route-on COL)" if varying else
            "; route on a column that varies (--route-on COL, or --columns key=N for a CSV "
            "or TSV)")
    raise RoutebenchError(
        f"{trace.label}: every request has the same {trace.route_on!r} value, so every "
        f"strategy would send everything to one node{hint}")


def _warn_noise_floor(results: Sequence[StaticResult]) -> None:
    """Say when a trace has too few requests a node for its balance figures to mean much."""
    seen = set()
    for r in results:
        floor = r.metrics.get("peak_to_mean_random")
        if floor is None or floor < metrics.NOISE_FLOOR_WARN or r.nodes in seen:
            continue
        seen.add(r.nodes)
        per = r.metrics["requests"] / max(int(r.nodes or 1), 1)
        warnings.warn(
            f"{r.trace} at N={r.nodes}: {per:,.0f} requests a node; a uniformly random "
            f"assignment already shows peak/mean {floor:.2f}, so balance figures near it say "
            "little (give more requests: --keys)", RuntimeWarning, stacklevel=2)


class _ChunkDigests:
    """One chunk's digests, computed once per (column, hash function)."""

    def __init__(self, chunk: Chunk) -> None:
        self.chunk = chunk
        self.cache: dict[tuple[str, str], np.ndarray] = {}

    def __call__(self, column: str, hasher: Hasher) -> np.ndarray:
        key = (column, hasher.name)
        d = self.cache.get(key)
        if d is None:
            d = self.cache[key] = self.chunk.columns[column].digest(hasher)
        return d


# -- the cost estimate and key sampling (``run --budget``) ----------------------------------
# Kept apart from the replay above: the CLI asks for an estimate before it starts, and
# wraps the traces in a key sample when the user chose to fit the budget.

#: lookups ``run_static`` makes a request (the base, join and leave strategies), plus the
#: same three over each distinct key for the remap figures (counted as a request each: at
#: most as many keys as requests)
LOOKUPS_A_REQUEST = 6
#: builds a (strategy, N) costs: the base, the joined and the left copies (a rebuild each),
#: and build_cost's warm-up, timed and traced builds (tracemalloc slows the last ~2x)
BUILDS_A_SCENARIO = 7
#: the fewest requests a key sample aims at (below it the figures are mostly noise)
MIN_SAMPLED_REQUESTS = 10_000


@dataclass(frozen=True)
class CostPart:
    """What one (strategy, N) is expected to cost, from a calibration at that N."""

    label: str
    n: int
    build_s: float
    lookup_ns: float
    calibration_keys: int

    def seconds(self, requests: int, timed: int) -> float:
        """Builds, lookups over ``requests``, and the timing phases (over ``timed`` keys:
        the first chunk, a warm-up and at least three rounds; scalar: two passes of up to
        1,000 keys and 40 ms of rounds)."""
        per_key = self.lookup_ns * 1e-9
        return (BUILDS_A_SCENARIO * self.build_s + LOOKUPS_A_REQUEST * per_key * requests
                + 4 * per_key * timed + 2 * min(timed, 1000) * (per_key + 1e-6) + 0.04)


@dataclass
class CostEstimate:
    """The run's expected wall time, and how it was derived (``describe``)."""

    parts: list[CostPart]
    #: requests of each trace whose length is known (None: a file read whole, unknown)
    requests: list[int | None]
    #: wall time over CPU time to expect: the load average over the cores, at least 1
    stretch: float = 1.0
    #: traces whose requests are estimated (a file's size times its first bytes' lines)
    estimated: int = 0

    def seconds(self, share: float = 1.0) -> float:
        """Expected seconds with a ``share`` of the keys kept (1: all)."""
        return self._cpu_seconds(share) * self.stretch

    def _cpu_seconds(self, share: float) -> float:
        total = 0.0
        for r in self.requests:
            if r is None:
                continue
            kept = int(r * share)
            total += sum(p.seconds(kept, min(kept, 1 << 18)) for p in self.parts)
        return total

    @property
    def unknown(self) -> int:
        return sum(1 for r in self.requests if r is None)

    def share_to_fit(self, budget_s: float) -> float:
        """The share of keys (at most 1) whose run fits ``budget_s``; never so few that a
        trace keeps under MIN_SAMPLED_REQUESTS requests (the builds may not fit at all)."""
        known = [r for r in self.requests if r]
        if not known or self.seconds() <= budget_s:
            return 1.0
        floor = min(1.0, MIN_SAMPLED_REQUESTS / max(known))
        lo, hi = floor, 1.0
        if self.seconds(lo) > budget_s:
            return floor
        for _ in range(40):  # cost grows with the share: bisect
            mid = (lo + hi) / 2
            if self.seconds(mid) <= budget_s:
                lo = mid
            else:
                hi = mid
        return lo

    def describe(self) -> str:
        """How the estimate was derived, in one line: the costliest (strategy, N) first."""
        worst = max(self.parts, key=lambda p: p.seconds(max((r or 0) for r in self.requests),
                                                        1 << 18))
        requests = sum(r for r in self.requests if r)
        text = (f"{len(self.parts)} strateg{'y' if len(self.parts) == 1 else 'ies'} x N, "
                f"{'about ' if self.estimated else ''}{requests:,} requests in "
                f"{len(self.requests) - self.unknown} trace"
                f"{'s' if len(self.requests) - self.unknown != 1 else ''}"
                f"{f' ({self.estimated} estimated from its size)' if self.estimated == 1 else ''}"
                f"{f' ({self.estimated} estimated from their sizes)' if self.estimated > 1 else ''}"
                "; each request costs "
                f"{LOOKUPS_A_REQUEST} lookups and each (strategy, N) {BUILDS_A_SCENARIO} "
                f"builds, timed at that N; costliest: {worst.label} at N={worst.n:,} "
                f"(build {format_duration(worst.build_s)}, {worst.lookup_ns:,.0f} ns a key over "
                f"{worst.calibration_keys:,} keys)")
        if self.stretch > 1:
            text += f"; x{self.stretch:.1f} for the machine's load ({load_note()})"
        if self.unknown:
            text += (f"; {self.unknown} trace file{'s' if self.unknown != 1 else ''} of "
                     "unknown length not counted (--keys K bounds it)")
        return text


def calibrate(spec: StrategySpec, n: int, reg: Registry = registry,
              min_time: float = 0.005) -> CostPart:
    """Build ``spec`` over N nodes (timed), then time ``lookup_many`` on a batch of random
    digests, growing the batch until a call lasts ``min_time`` (best of three)."""
    import time

    cls = reg.get(spec.name)
    if issubclass(cls, KeyedStrategy):  # before N names are made: N above what it supports
        cls.check_count(n)
        cls.check_size(n, **spec.params)
    t0 = time.perf_counter()
    s = reg.create_keyed(spec.name, [_node_name(i) for i in range(n)], **spec.params)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(n)
    pool = s.digest([b"%016x" % int(x) for x in rng.integers(0, 2**63, 4096)])
    k = 64
    while True:
        d = np.resize(pool, k)
        s.lookup_many(d[:64])  # warm: lazy maps, compilation
        best = float("inf")
        for _ in range(3):
            t1 = time.perf_counter()
            s.lookup_many(d)
            best = min(best, time.perf_counter() - t1)
        if best >= min_time or k >= 1 << 20:
            break
        k *= 8 if best < min_time / 16 else 2
    del s
    return CostPart(spec.label, n, build_s, best / k * 1e9, k)


def estimate_run_cost(strategies: Iterable[StrategySpec], node_counts: Iterable[int],
                      traces: Iterable[Trace], reg: Registry = registry) -> CostEstimate:
    """What ``run_static`` over these will take: each (strategy, N) built and timed once."""
    parts = [calibrate(spec, n, reg) for spec in strategies for n in node_counts]
    traces = list(traces)
    requests = [t.estimated_requests() for t in traces]  # a file's from its size
    guessed = sum(1 for t, r in zip(traces, requests) if t.requests is None and r is not None)
    return CostEstimate(parts, requests, load_stretch(), guessed)


def load_stretch() -> float:
    """How much longer than its CPU time a CPU-bound run takes here now: the 1-minute load
    average over the cores, at least 1 (a calibration's best-of-three short batches see
    the CPU alone; a long run shares it)."""
    import os

    try:
        return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    except (OSError, AttributeError):  # pragma: no cover - no load average
        return 1.0


def load_note() -> str:
    import os

    try:
        return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    except (OSError, AttributeError):  # pragma: no cover
        return "load unknown"


def _mix(d: np.ndarray) -> np.ndarray:
    """A bijection of the digests (SplitMix64's finaliser after a constant): a key sample
    by it is no arc of any strategy's digest space."""
    z = d ^ np.uint64(0x243F6A8885A308D3)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _select(col: Any, idx: np.ndarray) -> Any:
    from ...datasets import _trace as tr

    if isinstance(col, tr.InternedColumn):
        return tr.InternedColumn(col.ids[idx], col.vocab)
    values = col.values if isinstance(col, tr.RawColumn) else col.keys()
    return tr.RawColumn([values[i] for i in idx.tolist()])


class KeySampledTrace(Trace):
    """Every request of a uniform sample of the keys: those whose (mixed) xxh3 digest of
    the routed column falls in the first ``share`` of the digest space. A key is in or
    out with all its requests, so each kept key's popularity is the trace's."""

    def __init__(self, inner: Trace, share: float) -> None:
        if not 0 < share <= 1:
            raise RoutebenchError(f"key sample share {share!r}: not in (0, 1]")
        self.inner, self.share = inner, float(share)
        self.route_on = inner.route_on
        self.columns = inner.columns
        self.available = inner.available
        self.requests = None  # how many a sample keeps is known once read
        self.recorded = inner.recorded  # type: ignore[misc]
        self.kept = 0
        self._limit = np.uint64(min(int(share * 2.0**64), 2**64 - 1))
        self._hasher = get_hasher("xxh3")

    @property
    def stats(self) -> Any:  # type: ignore[override]
        return self.inner.stats

    @property
    def label(self) -> str:
        return self.inner.label

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "key_sample": round(self.share, 6),
                "sampled_requests": self.kept or None}

    def with_columns(self, *extra: str) -> KeySampledTrace:
        self.inner.with_columns(*extra)
        self.columns, self.available = self.inner.columns, self.inner.available
        return self

    def chunks(self) -> Any:
        kept = 0
        for chunk in self.inner.chunks():
            keep = np.flatnonzero(
                _mix(chunk.columns[self.route_on].digest(self._hasher)) < self._limit)
            if keep.size == 0:
                continue
            kept += int(keep.size)
            yield Chunk({c: _select(col, keep) for c, col in chunk.columns.items()},
                        None if chunk.ts is None else chunk.ts[keep])
        self.kept = kept


def sample_keys(traces: Iterable[Trace], share: float) -> list[Trace]:
    """The traces with only a ``share`` of their keys (all the requests of each kept key)."""
    if share >= 1:
        return list(traces)
    return [KeySampledTrace(t, share) for t in traces]
