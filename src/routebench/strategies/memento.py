"""``memento``: MementoHash (Coluzzi et al., arXiv:2306.09783; IEEE/ACM ToN 2024).

A LIFO-only consistent hash over the b-array [0, size) plus a memory of the
removed buckets: each remembers its replacer (the working-set size right after
it left, also the bucket that took its place) and the bucket removed before
it. A key that lands on a removed bucket rehashes into [0, replacer) and
follows replacers from there. Removing the last bucket with nothing
remembered just shrinks the b-array; any other removal adds one entry, so
memory grows with removals, not with N. A new node takes back the bucket
removed last (LIFO restore: re-adding nodes in the reverse order of their
removal restores every key).

The structure follows SUPSI's ``MementoEngine`` (the authors' Java code);
the LIFO-only hash underneath is JumpBackHash (hash4j-compatible, O(1))
where the paper uses JumpHash (O(ln N): about 75 ns a lookup at N = 10^6
alone), and the rehash is fmix64 of the digest and the bucket. The tests
check both against the authors' engine run with those two pieces.

Adds and removes update the memory (a hash table of the removed buckets:
bucket, replacer, previous removal). Lookups read the replacers from the
bucket -> node map every routebench strategy keeps anyway (a removed bucket's
entry holds its replacer), refreshed once after changes: the same buckets,
and a key whose bucket works costs one memory access.
"""

from __future__ import annotations

import numpy as np

from ._bucketset import BucketSetStrategy
from ._kernels_ch import (
    fill_node_map,
    fill_replacers,
    memento_many,
    memento_one,
    table_pop,
    table_put,
    table_rehash,
)

__all__ = ["MementoStrategy"]

_MIN_TABLE = 16


class MementoStrategy(BucketSetStrategy):
    name = "memento"
    summary = ("MementoHash (Coluzzi et al. 2023): JumpBackHash plus a memory of removals; "
               "any node can be removed, LIFO restore")
    limit_reason = "its reference numbers buckets with int"

    def _build(self, n: int) -> None:
        self._size = n  # the b-array: buckets [0, size), some of them removed
        self._last_removed = n
        self._new_table(_MIN_TABLE)
        self._count_removed = 0
        self._node_of = np.full(max(n, 16), -1, dtype=np.int32)

    def _new_table(self, slots: int) -> None:
        self._keys = np.full(slots, -1, dtype=np.int32)
        self._repl = np.zeros(slots, dtype=np.int32)
        self._prev = np.zeros(slots, dtype=np.int32)
        self._shift = np.uint64(64 - (slots.bit_length() - 1))

    def _resize_table(self, slots: int) -> None:
        old = self._keys, self._repl, self._prev
        self._new_table(slots)
        table_rehash(*old, self._keys, self._repl, self._prev, self._shift)

    def _remove_bucket(self, bucket: int) -> None:
        if self._count_removed == 0 and bucket == self._size - 1:
            self._size = self._last_removed = bucket  # jump's case: the b-array shrinks
            return
        working = self._size - self._count_removed
        table_put(self._keys, self._repl, self._prev, self._shift, bucket, working - 1,
                  self._last_removed)
        self._last_removed = bucket
        self._count_removed += 1
        if 2 * self._count_removed > self._keys.size:
            self._resize_table(2 * self._keys.size)

    def _add_bucket(self) -> int:
        bucket = self._last_removed
        if self._count_removed == 0:
            self._last_removed = bucket + 1
        else:
            self._last_removed = int(table_pop(self._keys, self._repl, self._prev, self._shift,
                                               bucket))
            self._count_removed -= 1
            if self._keys.size > _MIN_TABLE and 8 * self._count_removed < self._keys.size:
                self._resize_table(self._keys.size // 2)
        if bucket >= self._size:
            self._size = bucket + 1
            if self._size > self._node_of.size:
                self._node_of = np.full(2 * self._size, -1, dtype=np.int32)
        return bucket

    def _refresh(self, buckets: np.ndarray) -> None:
        fill_node_map(self._node_of, buckets)
        fill_replacers(self._node_of, self._keys, self._repl)
        self._ident = self._ident and self._count_removed == 0

    def _many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        memento_many(digests, self._size, self._node_of, self._ident, out)
        return out

    def _one(self, digest: int) -> int:
        return memento_one(digest, self._size, self._node_of, self._ident)

    def _state_arrays(self) -> list[np.ndarray]:
        return [self._keys, self._repl, self._prev]

    def _map_arrays(self) -> list[np.ndarray]:
        return [self._node_of]


STRATEGIES = (MementoStrategy,)
