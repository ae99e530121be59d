"""``anchor``: AnchorHash (Mendelson et al., arXiv:1812.09674; IEEE/ACM ToN 2020).

A fixed set of ``capacity`` buckets (the anchor), of which N work. A key
hashes uniformly onto the anchor; while it lands on a removed bucket it
rehashes onto the buckets that were still working when that one left,
following each bucket's replacement where needed. Any node can be removed;
a new node takes back the bucket removed last (and so its keys), so nodes
re-added in the reverse order of their removal restore every key.

This is the authors' memory-optimised variant (two int32 arrays of
``capacity``, the same decisions as the paper's four), with a 32-bit hash
family from fmix64 in place of their CRC32 instruction: ``ComputeBucket(digest,
0)`` of their C++ code with that hash (checked against it in the tests).

``capacity`` (0, the default: the smallest power of two >= 2N, at least 64)
bounds how many nodes the anchor can ever hold, so choose it for the largest
cluster you will grow to. A lookup takes about 1 + ln(capacity / working)
rounds: 2N keeps that near 1.7 at the start while leaving room to grow to 2N;
a power of two keeps the default the same for most N, so building with N nodes
routes like building with N - 1 and adding one (the two differ only when
N - 1 is a power of two of at least 32). Memory: 8 bytes a bucket of capacity.
"""

from __future__ import annotations

import numpy as np

from ._base import HASH_PARAM
from ._bucketset import CAPACITY_PARAM, BucketSetStrategy, IntStack, capacity_for, full_error
from ._kernels_ch import anchor_many, anchor_one, anchor_remove, fill_anchor_map

__all__ = ["AnchorStrategy"]


class AnchorStrategy(BucketSetStrategy):
    name = "anchor"
    summary = ("AnchorHash (Mendelson et al. 2020): any node can be removed, LIFO restore; "
               "fixed capacity")
    params = (
        HASH_PARAM,
        CAPACITY_PARAM,
    )
    limit_reason = "its buckets are numbered with int32"

    def _estimate_bytes(self) -> int:
        # checks the capacity against N before anything is built (check_size calls it)
        cap = capacity_for(self, len(self._names))
        return 8 * cap + 24 * len(self._names)

    def _build(self, n: int) -> None:
        cap = capacity_for(self, n)
        self._cap = cap
        self._working = n
        # A[b] > 0: removed when the working set fell to A[b]; <= 0: working (see
        # _kernels_ch). Buckets n..cap-1 start removed, in order cap-1 down to n.
        self._A = np.arange(cap, dtype=np.int32)
        self._A[:n] = -np.arange(1, n + 1, dtype=np.int32)
        self._K = np.arange(cap, dtype=np.int32)
        # the removed buckets, last on top; buckets never used (n..cap-1, the
        # smallest on top) are implied below it rather than stored
        self._removed = IntStack()
        self._stale_map = False

    def _remove_bucket(self, bucket: int) -> None:
        n = self._working
        if len(self._removed) or bucket != n - 1:
            self._removed.push(bucket)
        anchor_remove(self._A, self._K, bucket, n)
        self._working = n - 1

    def _add_bucket(self) -> int:
        if len(self._removed):
            b = self._removed.pop()
        elif self._working < self._cap:
            b = self._working
        else:
            raise full_error(self, self._cap)
        self._A[b] = -1  # working; its node index is filled in before the next lookup
        self._K[b] = b
        self._working += 1
        return b

    def _refresh(self, buckets: np.ndarray) -> None:
        fill_anchor_map(self._A, buckets)

    def _many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        anchor_many(digests, self._A, self._K, out)
        return out

    def _one(self, digest: int) -> int:
        return anchor_one(digest, self._A, self._K)

    def _state_arrays(self) -> list[np.ndarray]:
        # A doubles as the node map: working buckets hold -(node index + 1)
        return [self._A, self._K, self._removed.items]

    @property
    def capacity(self) -> int:
        """The buckets the anchor can ever hold."""
        return self._cap


STRATEGIES = (AnchorStrategy,)
