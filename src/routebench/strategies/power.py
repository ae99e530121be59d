"""``power``: power consistent hashing (Leu, arXiv:2307.12448).

With m the smallest power of two >= N: ``f`` maps the key consistently over
[0, m) (its low bits pick a power-of-two range, a PCG draw a bucket in it); a
key landing at or beyond N takes ``g``, a jump-style walk from m/2 towards N,
and one that stays below m/2 falls back to ``f`` over [0, m/2). Expected
constant time, integers only. Bucket i is the i-th node; the same buckets as
the ``power-consistent-hash`` crate's ``PowerConsistentHasher::hash_u64(digest)``
(PCG32 for both auxiliary hashes; checked against its published vectors).
Only the last node can be removed.
"""

from __future__ import annotations

import numpy as np

from ._bucketset import RangeStrategy
from ._kernels_ch import power_many, power_one

__all__ = ["PowerStrategy"]


def _masks(n: int) -> tuple[int, int]:
    """m - 1 and m/2 - 1, m the smallest power of two >= n."""
    m = 1 << (n - 1).bit_length()
    return m - 1, max((m >> 1) - 1, 0)


class PowerStrategy(RangeStrategy):
    name = "power"
    summary = ("power consistent hashing (Leu 2023): O(1), two auxiliary hashes; "
               "only the last node can be removed")
    max_nodes = 2**31
    limit_reason = "the reference takes u32 bucket counts and rounds N up to a power of two"

    def _setup(self, n: int) -> None:
        self._m1, self._m2 = _masks(n)

    @classmethod
    def _bucket(cls, digest: int, n: int) -> int:
        return power_one(digest, n, *_masks(n))

    def _lookup_one(self, digest: int) -> int:
        return power_one(digest, self._n, self._m1, self._m2)

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        power_many(digests, self._n, self._m1, self._m2, out)
        return out


STRATEGIES = (PowerStrategy,)
