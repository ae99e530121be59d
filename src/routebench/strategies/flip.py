"""``flip``: FlipHash (Masson & Lee, arXiv:2402.17549).

A consistent range-hash in constant time: over a power-of-two range the key's
masked hash has the bits below its top bit flipped by a second hash keyed on
that bit; between powers of two a few keyed draws decide whether the key
takes one of the new buckets or keeps its place in the smaller power of two.
Bucket i is the i-th node; the result equals fliphash-rs's ``fliphash_64(digest,
..=N-1)`` (seed 0, its moremur-style keyed hash). Only the last node can be removed.
"""

from __future__ import annotations

import numpy as np

from ._bucketset import RangeStrategy
from ._kernels_ch import flip_many, flip_one

__all__ = ["FlipStrategy"]


class FlipStrategy(RangeStrategy):
    name = "flip"
    summary = "FlipHash (Masson & Lee 2024): O(1) range hash; only the last node can be removed"
    max_nodes = 2**63 - 1
    limit_reason = "node indices are int64"

    @classmethod
    def _bucket(cls, digest: int, n: int) -> int:
        return flip_one(digest, n)

    def _lookup_one(self, digest: int) -> int:
        return flip_one(digest, self._n)

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        flip_many(digests, self._n, out)
        return out


STRATEGIES = (FlipStrategy,)
