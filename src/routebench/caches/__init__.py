"""Per-node cache models: hit ratios of routing strategies (issue 14).

Each node owns a cache of ``POLICY:size=S``; requests routed by a strategy go
to their node's cache, chunk by chunk::

    from routebench.caches import NodeCaches

    caches = NodeCaches("LRU:size=1%", n_nodes=100, distinct_keys=186_880)
    for chunk in trace.chunks():
        digests = chunk.columns["key"].digest(hasher)
        hits = caches.request_chunk(strategy.lookup_many(digests), digests)
    caches.event("crash", 7)            # node 7's cache is gone; requests go on
    caches.stats().hit_ratio, caches.windows.ratios(), caches.recovery(caches.events[0])

LRU and FIFO run on compiled multi-cache kernels (numba; the same hit or miss
on every request as libCacheSim's LRU and FIFO); every other policy of
libCacheSim's Python bindings (``pip install libcachesim``) runs through them,
one request at a time. ``policies()`` lists what is available.
"""

from __future__ import annotations

from ._metrics import (
    DEFAULT_WINDOW,
    HitWindows,
    Recovery,
    dip_and_recovery,
    miss_load_peak_to_mean,
    window_for,
)
from ._nodes import (
    EVENTS,
    CacheEvent,
    CacheReferences,
    CacheStats,
    NodeCaches,
    available_memory,
)
from ._spec import (
    COMPILED_POLICIES,
    CacheSpec,
    Policy,
    SizeSpec,
    parse_size,
    policies,
    split_total,
)

__all__ = [
    "CacheSpec",
    "SizeSpec",
    "Policy",
    "policies",
    "parse_size",
    "split_total",
    "COMPILED_POLICIES",
    "NodeCaches",
    "CacheStats",
    "CacheEvent",
    "CacheReferences",
    "EVENTS",
    "available_memory",
    "HitWindows",
    "Recovery",
    "dip_and_recovery",
    "miss_load_peak_to_mean",
    "DEFAULT_WINDOW",
    "window_for",
]
