"""``jumpback``: JumpBackHash (Ertl, arXiv:2403.18682; Softw. Pract. Exp. 2025).

Bucket i is the i-th node, as in ``jump``, but a lookup takes expected
constant time instead of O(ln N), with no floating point: SplitMix64 draws
seeded by the digest decide, from the highest power-of-two range down, the
last range whose growth took the key, and jump back from there. It returns
the same bucket as hash4j's ``ConsistentHashing.jumpBackHashSplitMix64()
.getBucket(digest, N)`` for every digest and N (checked against vectors from
hash4j in the tests). Only the last node can be removed.
"""

from __future__ import annotations

import numpy as np

from ._bucketset import RangeStrategy
from ._kernels_ch import jumpback_many, jumpback_one

__all__ = ["JumpBackStrategy"]


class JumpBackStrategy(RangeStrategy):
    name = "jumpback"
    summary = ("JumpBackHash (Ertl 2024): jump's buckets in O(1), hash4j-compatible; "
               "only the last node can be removed")
    limit_reason = "hash4j's getBucket takes an int bucket count"

    @classmethod
    def _bucket(cls, digest: int, n: int) -> int:
        return jumpback_one(digest, n)

    def _lookup_one(self, digest: int) -> int:
        return jumpback_one(digest, self._n)

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        jumpback_many(digests, self._n, out)
        return out


STRATEGIES = (JumpBackStrategy,)
