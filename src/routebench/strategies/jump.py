"""``jump``: jump consistent hash (Lamping & Veach 2014).

Bucket i is the i-th node. Jump has no memory and no ring, but only the last
bucket can go: removing any other node is refused.
"""

from __future__ import annotations

import numpy as np

from ._base import KeyedStrategy
from ._kernels import jump_many, jump_one

__all__ = ["JumpStrategy"]


class JumpStrategy(KeyedStrategy):
    name = "jump"
    summary = "jump consistent hash: no state, O(ln N); only the last node can be removed"
    weighted = False
    removable = "last"
    max_nodes = 2**31 - 1
    limit_reason = "Lamping & Veach's reference takes an int32 bucket count"

    def _rebuild(self) -> None:
        self._n = len(self._names)

    def _lookup_one(self, digest: int) -> int:
        return jump_one(digest, self._n)

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        jump_many(digests, self._n, out)
        return out


STRATEGIES = (JumpStrategy,)
