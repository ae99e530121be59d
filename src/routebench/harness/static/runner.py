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
