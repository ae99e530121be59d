"""Per-node caches on libCacheSim's Python bindings (``pip install libcachesim``).

One libCacheSim cache object a node, fed one ``Request`` at a time through
``cache.get(req)`` (hit or miss, inserting on a miss as libCacheSim's
``cache_get_base`` does). About 0.4-1.5 us a request from Python: the compiled
LRU/FIFO in ``_kernels`` is the fast path; this one is for every other policy
and is the reference the compiled one is tested against.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import RoutebenchError

__all__ = ["LibCacheSimCaches", "hashpower_for", "OBJECT_BYTES"]

#: rough bytes a cached object costs libCacheSim (cache_obj_t, list and hash links)
OBJECT_BYTES = 128


def hashpower_for(objects: int) -> int:
    """libCacheSim's hash table starts at 2**hashpower buckets (8 bytes each) and grows;
    its default 24 would be 128 MiB a cache, so start near the expected object count
    (at most 2**20 buckets, 8 MiB: it grows past that as objects arrive)."""
    return int(min(20, max(8, math.ceil(math.log2(max(2, objects))))))


class LibCacheSimCaches:
    """``n`` libCacheSim caches of one policy; same interface as the compiled backend."""

    engine = "libcachesim"

    def __init__(self, policy: str, params: dict[str, Any], caps: np.ndarray, byte_mode: bool,
                 object_hint: int | None = None) -> None:
        try:
            import libcachesim as lcs
        except ImportError:  # pragma: no cover - the spec refuses this engine first
            raise RoutebenchError("engine=libcachesim needs libcachesim "
                                  "(pip install libcachesim, or routebench[cache])") from None
        self._cls = getattr(lcs, policy)
        self._params = dict(params)
        self.byte_mode = byte_mode
        self._hint = object_hint
        self.caps = np.array(caps, dtype=np.int64)
        self._caches = [self._make(int(c)) for c in self.caps]
        self._req = lcs.Request()
        n = self.caps.size
        self.hits = np.zeros(n, np.int64)
        self.misses = np.zeros(n, np.int64)
        self.hit_bytes = np.zeros(n, np.int64)
        self.miss_bytes = np.zeros(n, np.int64)

    def _objects(self, cap: int) -> int:
        """Objects a node is expected to hold, for its first hash table."""
        if self.byte_mode:
            return self._hint or 1 << 12
        return min(cap, self._hint) if self._hint else cap

    def _make(self, cap: int):
        return self._cls(cache_size=cap, hashpower=hashpower_for(self._objects(cap)),
                         **self._params)

    # -- requests -------------------------------------------------------------
    def request(self, node_idx: np.ndarray, keys: np.ndarray, sizes: np.ndarray | None,
                hits: np.ndarray) -> None:
        caches = self._caches
        req = self._req
        ids = keys.view(np.uint64).tolist()
        nodes = node_idx.tolist()
        if sizes is not None and self.byte_mode:
            out = []
            for n, k, s in zip(nodes, ids, sizes.tolist()):
                req.obj_id = k
                req.obj_size = s
                out.append(caches[n].get(req))
        else:
            req.obj_size = 1
            out = []
            for n, k in zip(nodes, ids):
                req.obj_id = k
                out.append(caches[n].get(req))
        hits[:] = out
        nn = self.caps.size
        h = np.bincount(node_idx[hits], minlength=nn)
        t = np.bincount(node_idx, minlength=nn)
        self.hits += h
        self.misses += t - h
        if sizes is None:
            self.hit_bytes += h
            self.miss_bytes += t - h
        else:
            np.add.at(self.hit_bytes, node_idx[hits], sizes[hits])
            np.add.at(self.miss_bytes, node_idx[~hits], sizes[~hits])

    # -- membership -----------------------------------------------------------
    def clear(self, node: int) -> None:
        self._caches[node] = self._make(int(self.caps[node]))

    def add_node(self, cap: int) -> None:
        self.caps = np.append(self.caps, np.int64(cap))
        self._caches.append(self._make(int(cap)))
        for name in ("hits", "misses", "hit_bytes", "miss_bytes"):
            setattr(self, name, np.append(getattr(self, name), np.int64(0)))

    def reset(self, caps: np.ndarray) -> None:
        self.caps = np.array(caps, dtype=np.int64)
        self._caches = [self._make(int(c)) for c in self.caps]
        for name in ("hits", "misses", "hit_bytes", "miss_bytes"):
            setattr(self, name, np.zeros(self.caps.size, np.int64))

    def set_capacity(self, node: int, cap: int) -> None:
        """libCacheSim's own resize; a smaller size evicts as later requests arrive."""
        self.caps[node] = cap
        self._caches[node].set_cache_size(int(cap))

    # -- state ----------------------------------------------------------------
    def used(self) -> np.ndarray:
        if self.byte_mode:
            return np.array([c.get_occupied_byte() for c in self._caches], np.int64)
        return self.objects()

    def objects(self) -> np.ndarray:
        return np.array([c.get_n_obj() for c in self._caches], np.int64)

    def memory_bytes(self) -> int:
        """An estimate: objects held and hash buckets (libCacheSim's memory is not ours to see)."""
        return int(self.objects().sum()) * OBJECT_BYTES + sum(
            8 << hashpower_for(self._objects(int(c))) for c in self.caps)
