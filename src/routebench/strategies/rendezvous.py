"""``rendezvous``: highest random weight hashing (Thaler & Ravishankar 1998).

Each node scores a key with a hash of (node, key); the highest score wins.
With weights, the logarithmic method: score = -w / ln(u), u uniform in (0, 1).
No ring to build; a lookup costs O(N).
"""

from __future__ import annotations

import numpy as np

from ._base import KeyedStrategy
from ._kernels import (
    fmix64_py,
    rendezvous_many,
    rendezvous_one,
    rendezvous_weighted_many,
    rendezvous_weighted_one,
)

__all__ = ["RendezvousStrategy"]


class RendezvousStrategy(KeyedStrategy):
    name = "rendezvous"
    summary = "highest random weight (HRW); weighted by the logarithmic method; O(N) a lookup"

    def _rebuild(self) -> None:
        # a node's seed: its name's digest, mixed so 32-bit hashes fill 64 bits
        self._seeds = np.array(
            [fmix64_py(self.hasher(n)) for n in self._names], dtype=np.uint64
        )
        w = np.asarray(self._weights, dtype=np.float64)
        # equal weights: -w/ln(u) orders like u, so skip the logarithm
        self._w = None if np.all(w == w[0]) else w

    def _lookup_one(self, digest: int) -> int:
        if self._w is None:
            return rendezvous_one(digest, self._seeds)
        return rendezvous_weighted_one(digest, self._seeds, self._w)

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        if self._w is None:
            rendezvous_many(digests, self._seeds, out)
        else:
            rendezvous_weighted_many(digests, self._seeds, self._w, out)
        return out


STRATEGIES = (RendezvousStrategy,)
