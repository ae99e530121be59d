"""``dx``: DxHash (Dong & Wang, arXiv:2107.07930).

``capacity`` buckets, of which N work (one bit each). A key's digest seeds a
pseudo-random sequence of buckets; the key belongs to the first working
bucket in it. Any node can be removed (its keys continue along their
sequences); a new node takes back the bucket removed last. Expected lookup
cost: capacity / working probes.

The sequence is ``java.util.Random(digest).nextInt(capacity)``, as in SUPSI's
``DxEngine`` (the Java port by the MementoHash authors): the same buckets as
their code with the digest as the key hash (checked in the tests).
``capacity`` as for ``anchor``: 0 (the default) is the smallest power of two
>= 2N, at least 64, where ``nextInt`` needs no rejection loop. Memory: one bit
a bucket of capacity, plus the removal stack and the bucket-to-node map.
"""

from __future__ import annotations

import numpy as np

from ._base import HASH_PARAM
from ._bucketset import CAPACITY_PARAM, BucketSetStrategy, IntStack, capacity_for, full_error
from ._kernels_ch import dx_many, dx_one, fill_node_map

__all__ = ["DxStrategy"]


class DxStrategy(BucketSetStrategy):
    name = "dx"
    summary = ("DxHash (Dong & Wang 2021): pseudo-random probes over a bit array; any node "
               "can be removed, LIFO restore")
    params = (
        HASH_PARAM,
        CAPACITY_PARAM,
    )
    limit_reason = "its buckets are numbered with int32"

    def _estimate_bytes(self) -> int:
        # checks the capacity against N before anything is built (check_size calls it)
        cap = capacity_for(self, len(self._names))
        return cap // 8 + 4 * cap + 24 * len(self._names)

    def _build(self, n: int) -> None:
        cap = capacity_for(self, n)
        self._cap = cap
        self._working = n
        self._alive = np.zeros((cap + 63) // 64, dtype=np.uint64)
        full, rest = divmod(n, 64)
        self._alive[:full] = np.uint64(0xFFFFFFFFFFFFFFFF)
        if rest:
            self._alive[full] = np.uint64((1 << rest) - 1)
        self._node_of = np.full(cap, -1, dtype=np.int32)
        self._removed = IntStack()

    def _set(self, b: int, on: bool) -> None:
        word, bit = divmod(b, 64)
        mask = np.uint64(1 << bit)
        if on:
            self._alive[word] |= mask
        else:
            self._alive[word] &= ~mask

    def _remove_bucket(self, bucket: int) -> None:
        self._set(bucket, False)
        self._removed.push(bucket)
        self._working -= 1

    def _add_bucket(self) -> int:
        if len(self._removed):
            b = self._removed.pop()
        elif self._working < self._cap:
            b = self._working
        else:
            raise full_error(self, self._cap)
        self._set(b, True)
        self._working += 1
        return b

    def _refresh(self, buckets: np.ndarray) -> None:
        fill_node_map(self._node_of, buckets)

    def _many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        dx_many(digests, self._alive, self._cap, self._node_of, self._ident, out)
        return out

    def _one(self, digest: int) -> int:
        return dx_one(digest, self._alive, self._cap, self._node_of, self._ident)

    def _state_arrays(self) -> list[np.ndarray]:
        return [self._alive, self._removed.items]

    def _map_arrays(self) -> list[np.ndarray]:
        return [self._node_of]

    @property
    def capacity(self) -> int:
        """The buckets it can ever hold."""
        return self._cap


STRATEGIES = (DxStrategy,)
