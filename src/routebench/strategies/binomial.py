"""``binomial``: BinomialHash (Coluzzi, Brocco & Antonucci, arXiv:2406.19836).

Buckets are laid out as the levels of a binary tree: the digest's low bits
pick a bucket of the smallest tree that holds N buckets, a rehash relocates
it within its level, and a key that lands at or beyond N retries a few times
in the enclosing tree before falling back to the next smaller tree. Bucket i
is the i-th node; the same buckets as SUPSI's ``BinomialEngine`` (the authors'
Java code) with the digest as the key hash. Only the last node can be removed.
"""

from __future__ import annotations

import numpy as np

from ._bucketset import RangeStrategy
from ._kernels_ch import binomial_many, binomial_one

__all__ = ["BinomialStrategy"]


def _trees(n: int) -> tuple[int, int]:
    """Filters of the enclosing tree (2**ceil(log2 n) - 1) and the minor tree (half of it)."""
    enclosing = (1 << (n - 1).bit_length()) - 1 if n > 1 else 0
    return enclosing, enclosing >> 1


class BinomialStrategy(RangeStrategy):
    name = "binomial"
    summary = ("BinomialHash (Coluzzi et al. 2024): O(1), binary-tree levels; "
               "only the last node can be removed")
    limit_reason = "the authors' BinomialEngine counts buckets with int"

    def _setup(self, n: int) -> None:
        self._enclosing, self._minor = _trees(n)

    @classmethod
    def _bucket(cls, digest: int, n: int) -> int:
        return binomial_one(digest, n, *_trees(n))

    def _lookup_one(self, digest: int) -> int:
        return binomial_one(digest, self._n, self._enclosing, self._minor)

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        binomial_many(digests, self._n, self._enclosing, self._minor, out)
        return out


STRATEGIES = (BinomialStrategy,)
