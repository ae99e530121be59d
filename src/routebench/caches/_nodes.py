"""One cache per node, fed a chunk of (node, key, size) requests at a time."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import RoutebenchError, choices
from . import _kernels as K
from ._libcachesim import OBJECT_BYTES, LibCacheSimCaches, hashpower_for
from ._metrics import (
    DEFAULT_WINDOW,
    HitWindows,
    Recovery,
    dip_and_recovery,
    miss_load_peak_to_mean,
)
from ._spec import CacheSpec

__all__ = ["NodeCaches", "CacheStats", "CacheEvent", "CacheReferences", "CompiledCaches",
           "available_memory", "EVENTS"]

ROW_BYTES = K.ROW_WORDS * 8
NODE_BYTES = K.NODE_COLS * 8
#: table rows before the object count is known, and the most objects a first table holds
_START_ROWS = 1 << 16
_START_OBJECTS = 1 << 20
#: what a node event does to its cache: every one but join empties it
EVENTS = ("join", "leave", "crash", "recover")


def available_memory() -> int:
    """Bytes this process may still allocate (MemAvailable; physical memory as a fallback)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 1 << 34


def _rows_for(objects: int) -> int:
    """Table rows (a power of two) holding ``objects`` at a load of at most 1/2."""
    return 1 << max(4, math.ceil(math.log2(2 * (int(objects) + 1))))


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


class CompiledCaches:
    """LRU or FIFO caches of many nodes in flat numpy arrays (see ``_kernels``)."""

    engine = "numba"

    def __init__(self, lru: bool, caps: np.ndarray, byte_mode: bool, rows: int,
                 check_memory) -> None:
        self.lru = lru
        self.byte_mode = byte_mode
        self._check_memory = check_memory
        caps = np.asarray(caps, np.int64)
        self.nodes = self._node_rows(caps)
        self.ent = self._table(rows, caps.size)
        K.init_sentinels(self.ent, rows, 0, caps.size)
        self.glob = np.array([0, rows // 2, rows], np.int64)
        self._no_sizes = np.zeros(1, np.int64)

    @staticmethod
    def _node_rows(caps: np.ndarray) -> np.ndarray:
        nodes = np.zeros((caps.size, K.NODE_COLS), np.int64)
        nodes[:, K.CAP] = caps
        return nodes

    @staticmethod
    def _table(rows: int, sentinels: int) -> np.ndarray:
        return np.zeros((rows + sentinels, K.ROW_WORDS), np.int64)

    @property
    def rows(self) -> int:
        return int(self.glob[K.ROWS])

    @property
    def caps(self) -> np.ndarray:
        return self.nodes[:, K.CAP]

    def request(self, node_idx: np.ndarray, keys: np.ndarray, sizes: np.ndarray | None,
                hits: np.ndarray) -> None:
        has = sizes is not None
        sz = sizes if has else self._no_sizes
        start = 0
        while True:
            start = K.request_many(self.ent, self.nodes, self.glob, node_idx, keys, sz, has,
                                   self.byte_mode, self.lru, hits, start)
            if start >= keys.size:
                return
            self._grow(2 * self.rows)

    def _grow(self, rows: int) -> None:
        n = self.nodes.shape[0]
        self._check_memory((rows + n) * ROW_BYTES + self.nodes.nbytes, rows // 2,
                           int(self.glob[K.COUNT]))
        new = self._table(rows, self.ent.shape[0] - self.rows)
        K.rehash(self.ent, self.rows, n, new, rows)
        self.ent = new
        self.glob[K.LIMIT] = rows // 2
        self.glob[K.ROWS] = rows

    def grow(self) -> None:
        """Double the table (after ``_kernels.request_one`` returned -1)."""
        self._grow(2 * self.rows)

    def ensure_objects(self, objects: int) -> None:
        """Make room for ``objects`` in the table (an object-count capacity grew)."""
        if objects >= self.glob[K.LIMIT]:
            self._grow(_rows_for(objects))

    def clear(self, node: int) -> None:
        K.shrink_node(self.ent, self.nodes, self.glob, node, 0)

    def add_node(self, cap: int) -> None:
        n = self.nodes.shape[0]
        if self.rows + n >= self.ent.shape[0]:  # no sentinel row left: copy into a larger one
            new = self._table(self.rows, 2 * n)
            new[: self.ent.shape[0]] = self.ent
            self.ent = new
        K.init_sentinels(self.ent, self.rows, n, n + 1)
        self.nodes = np.vstack([self.nodes, self._node_rows(np.array([cap], np.int64))])

    def set_capacity(self, node: int, cap: int) -> None:
        K.shrink_node(self.ent, self.nodes, self.glob, node, cap)
        self.nodes[node, K.CAP] = cap

    def reset(self, caps: np.ndarray) -> None:
        """Every cache empty, counters 0, ``caps`` the nodes; the table's memory is kept."""
        caps = np.asarray(caps, np.int64)
        rows = self.rows
        if rows + caps.size > self.ent.shape[0]:
            self.ent = self._table(rows, caps.size)
        else:
            self.ent.fill(0)
        self.nodes = self._node_rows(caps)
        K.init_sentinels(self.ent, rows, 0, caps.size)
        self.glob[K.COUNT] = 0

    @property
    def hits(self) -> np.ndarray:
        return self.nodes[:, K.HITS].copy()

    @property
    def misses(self) -> np.ndarray:
        return self.nodes[:, K.MISSES].copy()

    @property
    def hit_bytes(self) -> np.ndarray:
        return self.nodes[:, K.HIT_BYTES].copy()

    @property
    def miss_bytes(self) -> np.ndarray:
        return self.nodes[:, K.MISS_BYTES].copy()

    def used(self) -> np.ndarray:
        return self.nodes[:, K.USED].copy()

    def objects(self) -> np.ndarray:
        return self.nodes[:, K.NOBJ].copy()

    def memory_bytes(self) -> int:
        return int(self.ent.nbytes + self.nodes.nbytes)

    def keys_of(self, node: int) -> np.ndarray:
        """The node's keys, most recent (LRU) or newest (FIFO) first."""
        out = np.empty(int(self.nodes[node, K.NOBJ]), np.int64)
        K.node_keys(self.ent, self.rows, node, out)
        return out


@dataclass(frozen=True)
class CacheEvent:
    """A membership event at request index ``at`` (the requests seen before it)."""

    at: int
    kind: str
    node: int


@dataclass(frozen=True)
class CacheStats:
    """Per-node counters and what follows from them. Arrays are indexed by node."""

    policy: str
    byte_mode: bool
    capacity: np.ndarray
    hits: np.ndarray
    misses: np.ndarray
    hit_bytes: np.ndarray
    miss_bytes: np.ndarray
    objects: np.ndarray
    used: np.ndarray

    @property
    def requests(self) -> int:
        return int(self.hits.sum() + self.misses.sum())

    @property
    def hit_ratio(self) -> float:
        r = self.requests
        return float(self.hits.sum() / r) if r else math.nan

    @property
    def byte_hit_ratio(self) -> float:
        b = int(self.hit_bytes.sum() + self.miss_bytes.sum())
        return float(self.hit_bytes.sum() / b) if b else math.nan

    @property
    def node_hit_ratio(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.hits / (self.hits + self.misses)

    @property
    def miss_load_peak_to_mean(self) -> float:
        return miss_load_peak_to_mean(self.misses)

    def summary(self) -> dict[str, Any]:
        """Plain numbers for a report's JSON."""
        return {"policy": self.policy, "requests": self.requests,
                "hits": int(self.hits.sum()), "misses": int(self.misses.sum()),
                "hit_ratio": self.hit_ratio, "byte_hit_ratio": self.byte_hit_ratio,
                "hit_bytes": int(self.hit_bytes.sum()), "miss_bytes": int(self.miss_bytes.sum()),
                "miss_load_peak_to_mean": self.miss_load_peak_to_mean,
                "capacity_total": int(self.capacity.sum()),
                "capacity_unit": "bytes" if self.byte_mode else "objects"}


class NodeCaches:
    """A cache of ``spec`` on each of ``n_nodes`` nodes (indexes ``0..n_nodes-1``).

    Feed requests chunk by chunk with :meth:`request_chunk`; node membership
    changes with :meth:`event` (or :meth:`clear`, :meth:`add_node`,
    :meth:`set_capacity`). Hit ratio per window of ``window`` requests is kept in
    :attr:`windows` (``window=0`` keeps none).

    ``distinct_keys`` resolves ``size=1%``; ``has_sizes`` says the requests will
    carry object sizes (needed by byte sizes); ``weights`` split a ``total=``;
    ``mean_object_size`` sizes a byte-capacity table up front; ``max_memory``
    (bytes; default 80% of what is available) is what the caches may take
    before they are refused.
    """

    def __init__(self, spec: CacheSpec | str, n_nodes: int, *, distinct_keys: int | None = None,
                 has_sizes: bool = False, weights: np.ndarray | None = None,
                 window: int = DEFAULT_WINDOW, max_memory: int | None = None,
                 mean_object_size: float | None = None,
                 capacities: np.ndarray | None = None) -> None:
        self.spec = CacheSpec.parse(spec) if not isinstance(spec, CacheSpec) else spec
        if capacities is None:
            caps, byte_mode = self.spec.capacities(int(n_nodes), distinct_keys=distinct_keys,
                                                   has_sizes=has_sizes, weights=weights)
        else:
            caps = np.asarray(capacities, np.int64)
            byte_mode = self.spec.size.is_bytes
            if caps.shape != (int(n_nodes),) or caps.min(initial=1) < 1:
                raise RoutebenchError(f"cache capacities: expected {n_nodes} sizes of at least 1")
        if caps.size > K.MAX_NODES:
            raise RoutebenchError(f"cache {self.spec.label}: {caps.size:,} nodes; "
                                  f"at most {K.MAX_NODES:,} are supported")
        self._n_start = int(caps.size)
        self._caps0 = caps.copy()
        self.byte_mode = byte_mode
        self._check_size(int(caps.min()))
        self.has_sizes = has_sizes
        self.max_memory = int(max_memory) if max_memory else int(0.8 * available_memory())
        self._mean_size = mean_object_size
        self._node_size = None if self.spec.split else int(caps[0])
        self.requests = 0
        self.events: list[CacheEvent] = []
        self.windows = HitWindows(window) if window else None
        self.distinct_keys = distinct_keys
        objects = self._expected_objects(caps)
        if self.spec.engine == "numba":
            rows = _START_ROWS
            if objects is not None:
                self._check_memory(_rows_for(objects) * ROW_BYTES
                                   + caps.size * (ROW_BYTES + NODE_BYTES), objects, None)
                # the table grows as objects arrive: a size far beyond what the trace
                # fills costs only what it fills
                rows = _rows_for(min(objects, _START_OBJECTS))
            self._be: Any = CompiledCaches(self.spec.policy == "LRU", caps, byte_mode, rows,
                                           self._check_memory)
        else:
            hint = None if objects is None else max(1, objects // caps.size)
            if objects is not None and hint is not None:
                est = objects * OBJECT_BYTES + caps.size * (8 << hashpower_for(hint))
                self._check_memory(est, objects, None)
            self._be = LibCacheSimCaches(self.spec.policy, dict(self.spec.params), caps,
                                         byte_mode, hint)

    @classmethod
    def shared_reference(cls, caches: NodeCaches, **kw: Any) -> NodeCaches:
        """One cache of the total size of ``caches``' nodes: the no-partitioning bound."""
        spec = caches.spec
        return cls(spec, 1, capacities=np.array([int(caches.capacities.sum())]),
                   has_sizes=caches.has_sizes, max_memory=caches.max_memory,
                   distinct_keys=caches.distinct_keys,
                   mean_object_size=caches._mean_size,
                   window=caches.windows.window if caches.windows else 0, **kw)

    def _check_size(self, cap: int) -> None:
        if self.spec.engine != "libcachesim":
            return
        why = (self.spec.policy_info.too_small(cap, dict(self.spec.params)) if cap >= 1
               else "libCacheSim needs a size of at least 1")
        if why:
            raise RoutebenchError(f"cache {self.spec.label}: a node of {cap:,} "
                                  f"{'bytes' if self.byte_mode else 'objects'}: {why}")

    # -- memory ---------------------------------------------------------------
    def _expected_objects(self, caps: np.ndarray) -> int | None:
        """The most objects the caches can come to hold (None: not known up front).

        A node holds each key at most once, so never more than the trace's
        distinct keys; a byte capacity holds about its size over the mean size.
        """
        most = None if self.distinct_keys is None else int(self.distinct_keys) * caps.size
        total = int(caps.sum())
        if self.byte_mode:
            if not self._mean_size:
                return None  # refused, if ever, when the table has to grow past memory
            total = max(caps.size, int(total / max(1.0, float(self._mean_size))))
        return total if most is None else min(total, most)

    def _check_memory(self, need: int, objects: int, held: int | None) -> None:
        if need <= self.max_memory:
            return
        what = (f"{objects:,} objects" if held is None
                else f"room for {objects:,} objects, {held:,} cached so far")
        raise RoutebenchError(
            f"cache {self.spec.label} on {self.n_nodes} nodes needs about {_fmt_bytes(need)} "
            f"({what}); {_fmt_bytes(self.max_memory)} may be used: choose a smaller size"
        )

    @property
    def compiled(self) -> CompiledCaches | None:
        """The compiled LRU/FIFO state, for compiled callers (None on libcachesim).

        A numba loop (a simulator's) can call
        ``_kernels.request_one(c.ent, c.nodes, c.glob, node, key, size, c.byte_mode,
        c.lru)`` per request: 1 hit, 0 miss, -1 when the table must grow first
        (leave the loop, call ``c.grow()``, which replaces ``c.ent``, and retry).
        Such requests bypass :attr:`requests` and :attr:`windows` (feed the hit
        mask to ``windows.add`` yourself); the per-node counters are kept.
        """
        return self._be if self._be.engine == "numba" else None

    @property
    def memory_bytes(self) -> int:
        """What the caches hold now (the compiled tables exactly; libcachesim estimated)."""
        return self._be.memory_bytes()

    # -- requests -------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return int(self._be.caps.size) if hasattr(self, "_be") else self._n_start

    @property
    def capacities(self) -> np.ndarray:
        return np.array(self._be.caps, np.int64)

    def request_chunk(self, node_idx: np.ndarray, keys: np.ndarray,
                      sizes: np.ndarray | None = None,
                      out: np.ndarray | None = None) -> np.ndarray:
        """Send request ``i`` (key ``keys[i]``, size ``sizes[i]``) to node ``node_idx[i]``.

        Returns the hit mask (``bool``, into ``out`` when given). Keys are integer
        ids or ``uint64`` digests; a key is the same object on every node (each
        node caches its own copy). Sizes (bytes, >= 1) are needed for a byte
        capacity and count hit/miss bytes; without them a request counts 1.
        """
        nodes = np.ascontiguousarray(node_idx)
        k = np.ascontiguousarray(keys)
        n = k.size
        if nodes.shape != (n,) or k.ndim != 1:
            raise RoutebenchError(f"request_chunk: node_idx ({nodes.shape}) and keys "
                                  f"({k.shape}) must be 1-d and of one length")
        if nodes.dtype.kind not in "iu" or k.dtype.kind not in "iu":
            raise RoutebenchError("request_chunk: node_idx and keys must be integer arrays")
        if k.dtype.itemsize == 8:
            k = k.view(np.int64)
        else:
            k = k.astype(np.int64)
        if nodes.dtype != np.int64:
            nodes = nodes.astype(np.int64)
        s = None
        if sizes is not None:
            s = np.ascontiguousarray(sizes)
            if s.shape != (n,) or s.dtype.kind not in "iu":
                raise RoutebenchError(f"request_chunk: sizes must be integers, one a request "
                                      f"({n}); got {s.dtype} {s.shape}")
            s = s.astype(np.int64, copy=False)
        elif self.byte_mode:
            raise RoutebenchError(f"cache {self.spec.label}: a byte capacity needs object "
                                  "sizes with every chunk")
        if n:
            lo, hi = int(nodes.min()), int(nodes.max())
            if lo < 0 or hi >= self.n_nodes:
                raise RoutebenchError(f"request_chunk: node index {lo if lo < 0 else hi} is "
                                      f"outside 0..{self.n_nodes - 1}")
            if s is not None:
                smin, smax = int(s.min()), int(s.max())
                if smin < 1 or smax > K.MAX_UNIT:
                    bad = smin if smin < 1 else smax
                    raise RoutebenchError(f"request_chunk: object size {bad} is outside "
                                          f"1..{K.MAX_UNIT:,} bytes")
        hits = out if out is not None else np.empty(n, np.bool_)
        if hits.shape != (n,) or hits.dtype != np.bool_:
            raise RoutebenchError("request_chunk: out must be a bool array, one a request")
        if n:
            self._be.request(nodes, k, s, hits)
        self.requests += n
        if self.windows is not None:
            self.windows.add(hits)
        return hits

    # -- membership -----------------------------------------------------------
    def _node(self, node: int) -> int:
        i = int(node)
        if not 0 <= i < self.n_nodes:
            raise RoutebenchError(f"cache node {node!r} is outside 0..{self.n_nodes - 1}")
        return i

    def clear(self, node: int) -> None:
        """Empty a node's cache (crash: its contents are gone; recover comes back cold)."""
        self._be.clear(self._node(node))

    def add_node(self, capacity: int | None = None) -> int:
        """A new node with an empty cache; returns its index (the next one).

        ``capacity`` defaults to the spec's per-node size, or for ``total=`` to
        the current mean capacity (a joining node brings its own memory).
        """
        if self.n_nodes + 1 > K.MAX_NODES:
            raise RoutebenchError(f"at most {K.MAX_NODES:,} cache nodes are supported")
        if capacity is None:
            capacity = self._node_size or max(1, round(float(self.capacities.mean())))
        capacity = int(capacity)
        if capacity < 1:
            raise RoutebenchError(f"cache capacity {capacity}: a cache must hold something")
        self._check_size(capacity)
        if not self.byte_mode and self._be.engine == "numba":
            self._be.ensure_objects(int(self.capacities.sum()) + capacity)
        self._be.add_node(capacity)
        return self.n_nodes - 1

    def set_capacity(self, node: int, capacity: int) -> None:
        """Resize a node's cache (objects or bytes, as the spec); shrinking evicts its tail."""
        i = self._node(node)
        capacity = int(capacity)
        if capacity < 0:
            raise RoutebenchError(f"cache capacity {capacity} is negative")
        self._check_size(capacity)
        if not self.byte_mode and self._be.engine == "numba":
            self._be.ensure_objects(int(self.capacities.sum()) - int(self._be.caps[i])
                                    + capacity)
        self._be.set_capacity(i, capacity)

    def reset(self) -> None:
        """Back to the state just built: empty caches of the first capacities, no requests,
        windows or events. Cheaper than a new NodeCaches for the next strategy over the
        same trace: the table's memory (already faulted in) is reused."""
        self._be.reset(self._caps0)
        self.requests = 0
        self.events = []
        if self.windows is not None:
            self.windows = HitWindows(self.windows.window)

    def event(self, kind: str, node: int | None = None) -> int:
        """Record a membership event at the current request index and apply it.

        ``join`` with ``node`` None (or the next index) adds a node with an empty
        cache of the default capacity (see :meth:`add_node`) and returns its
        index; ``join`` of an existing index (a node back after ``leave``)
        empties that node's cache. ``leave``, ``crash`` and ``recover`` empty
        the node's cache: whatever comes back starts cold. Node indexes are
        never renumbered; where requests go is the router's business.
        """
        if kind not in EVENTS:
            raise RoutebenchError(f"cache event {kind!r}; expected one of {choices(EVENTS)}")
        if kind == "join":
            if node is not None and int(node) != self.n_nodes:
                if 0 <= int(node) < self.n_nodes:  # an old node back: cold
                    self.clear(int(node))
                    self.events.append(CacheEvent(self.requests, kind, int(node)))
                    return int(node)
                raise RoutebenchError(f"cache join: node {node} is not the next index "
                                      f"{self.n_nodes}")
            i = self.add_node()
        else:
            if node is None:
                raise RoutebenchError(f"cache event {kind!r} needs a node")
            i = self._node(node)
            self.clear(i)
        self.events.append(CacheEvent(self.requests, kind, i))
        return i

    def recovery(self, event: CacheEvent | int, *, tolerance: float = 0.01,
                 baseline: int = 5) -> Recovery:
        """Dip and recovery of the windowed hit ratio around an event (or a request index)."""
        if self.windows is None:
            raise RoutebenchError("recovery needs hit-ratio windows (window=0 keeps none)")
        at = event.at if isinstance(event, CacheEvent) else int(event)
        return dip_and_recovery(self.windows.ratios(), self.windows.window, at,
                                tolerance=tolerance, baseline=baseline)

    # -- results --------------------------------------------------------------
    def stats(self) -> CacheStats:
        be = self._be
        return CacheStats(self.spec.policy, self.byte_mode, self.capacities, be.hits.copy(),
                          be.misses.copy(), be.hit_bytes.copy(), be.miss_bytes.copy(),
                          be.objects(), be.used())

    def keys_of(self, node: int) -> np.ndarray:
        """A node's cached keys (``int64`` bit patterns), most recent first; compiled only."""
        if self._be.engine != "numba":
            raise RoutebenchError("keys_of is available for the compiled LRU and FIFO only")
        return self._be.keys_of(self._node(node))


class CacheReferences:
    """The two reference lines, fed the same requests as the strategies' caches.

    ``shared``: one cache of the total capacity (no partitioning: the best any
    routing can do with that much memory, for LRU). ``random``: the per-node
    caches with each request sent to a node drawn at random (seeded; by weight
    when given): routing with no locality at all.
    """

    def __init__(self, spec: CacheSpec | str, n_nodes: int, *, seed: int = 0,
                 weights: np.ndarray | None = None, **kw: Any) -> None:
        self.random = NodeCaches(spec, n_nodes, weights=weights, **kw)
        self.shared = NodeCaches.shared_reference(self.random)
        self._rng = np.random.default_rng([int(seed), 0x6361636865])
        self._p = None
        if weights is not None:
            w = np.asarray(weights, np.float64)
            self._p = w / w.sum()

    def request_chunk(self, keys: np.ndarray, sizes: np.ndarray | None = None) -> None:
        n = np.asarray(keys).size
        self.shared.request_chunk(np.zeros(n, np.int64), keys, sizes)
        k = self.random.n_nodes
        nodes = (self._rng.integers(0, k, n) if self._p is None
                 else self._rng.choice(k, n, p=self._p))
        self.random.request_chunk(nodes, keys, sizes)
