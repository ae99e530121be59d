"""``multiprobe``: multi-probe consistent hashing (Appleton & O'Reilly 2015).

One point per node on a 64-bit circle; a key is hashed ``probes`` times and
goes to the node whose point follows the closest probe. More probes, more even
load (peak-to-mean ~1 + 1/probes), with no virtual nodes to store.
"""

from __future__ import annotations

import numpy as np

from ._base import HASH_PARAM, KeyedStrategy, Param
from ._kernels import fmix64_py, multiprobe_many, multiprobe_one

__all__ = ["MultiProbeStrategy"]


class MultiProbeStrategy(KeyedStrategy):
    name = "multiprobe"
    summary = "multi-probe consistent hashing: one point a node, k probes a key"
    weighted = False
    params = (HASH_PARAM, Param("probes", 21, "hashes of each key (k in the paper)", minimum=1))

    def _rebuild(self) -> None:
        pts = np.array([fmix64_py(self.hasher(n)) for n in self._names], dtype=np.uint64)
        owners = np.arange(len(self._names), dtype=np.int64)
        order = np.lexsort((owners, pts))
        self._points = np.ascontiguousarray(pts[order])
        self._owners = np.ascontiguousarray(owners[order])
        # bucket index on the top bits: a probe's successor search starts at
        # the first point of its bucket instead of a binary search
        bits = max(1, int(np.ceil(np.log2(len(pts)))) + 1)
        self._shift = np.uint64(64 - bits)
        edges = np.arange(2**bits, dtype=np.uint64) << self._shift
        self._start = np.searchsorted(self._points, edges, side="left").astype(np.int64)
        self._probes = self.config["probes"]

    def _lookup_one(self, digest: int) -> int:
        return multiprobe_one(
            digest, self._probes, self._points, self._owners, self._start, self._shift
        )

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        multiprobe_many(
            digests, self._probes, self._points, self._owners, self._start, self._shift, out
        )
        return out


STRATEGIES = (MultiProbeStrategy,)
