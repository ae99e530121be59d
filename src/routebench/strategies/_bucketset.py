"""Shared machinery for the bucket-numbered consistent hashes.

Two families:

- :class:`RangeStrategy`: N buckets, bucket i is the i-th node, and only the
  last can go (``jumpback``, ``flip``, ``binomial``, ``power``, like ``jump``).
- :class:`BucketSetStrategy`: any node can go (``anchor``, ``dx``,
  ``memento``). The algorithm keeps its own state (which buckets were removed,
  in what order) and its own bucket ids; a node keeps its bucket for as long as
  it stays. Removing a node removes its bucket incrementally (no rebuild), and
  adding a node restores the bucket removed last, so nodes re-added in the
  reverse order of their removal get their buckets, and their keys, back.

``nodes`` keeps routebench's order (a new node is appended; after a removal the
later nodes move down one index), while buckets keep theirs. The map from
bucket to node index is refreshed lazily, once, before the next lookup after
any number of adds and removes, so removing 10% of a million nodes costs
O(1) a removal, not a rebuild each time.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._errors import RoutebenchError, choices
from ._base import KeyedStrategy, Param, node_names

__all__ = ["RangeStrategy", "BucketSetStrategy", "INT32_BUCKETS", "CAPACITY_PARAM"]

#: the bucket counts of the int32-based references (hash4j, SUPSI's Java code)
INT32_BUCKETS = 2**31 - 1


def _too_many(cls: Any, n: int) -> RoutebenchError:
    """``cls``: a RangeStrategy or BucketSetStrategy subclass (``max_nodes``, ``limit_reason``)."""
    try:
        cls.check_count(n)
    except RoutebenchError as e:
        return e
    return RoutebenchError(f"{cls.name!r} supports at most {cls.max_nodes:,} nodes "
                           f"({cls.limit_reason}); got {n:,}")  # pragma: no cover


class RangeStrategy(KeyedStrategy):
    """N buckets 0..N-1, bucket i the i-th node; only the last node can be removed."""

    weighted = False
    removable = "last"
    #: most nodes (buckets) the algorithm supports
    max_nodes: ClassVar[int] = INT32_BUCKETS
    limit_reason: ClassVar[str] = "its reference takes an int32 bucket count"

    def _rebuild(self) -> None:
        n = len(self._names)
        if n > self.max_nodes:
            raise _too_many(type(self), n)
        self._n = n
        self._setup(n)

    def _setup(self, n: int) -> None:
        """Derived constants for n buckets (default: none)."""

    def add(self, node: str, weight: float = 1.0) -> None:
        if len(self._names) + 1 > self.max_nodes:
            raise _too_many(type(self), len(self._names) + 1)
        super().add(node, weight)

    def remove(self, node: str) -> None:
        """Remove the last node (O(1): the base class re-indexes every node)."""
        names = self._names
        if node in self._index and len(names) > 1 and node == names[-1]:
            names.pop()
            self._weights.pop()
            del self._index[node]
            self._rebuild()
        else:
            super().remove(node)  # refuses it, with the base class's message

    @classmethod
    def bucket(cls, digest: int, n: int) -> int:
        """The bucket in [0, n) for one digest, without building n nodes.

        For comparisons with reference code at any bucket count (up to
        ``max_nodes``); a strategy over n nodes returns the same index.
        """
        if not 1 <= n <= cls.max_nodes:
            raise RoutebenchError(f"{cls.name!r}: bucket count {n:,} is not in "
                                  f"[1, {cls.max_nodes:,}]")
        return cls._bucket(int(digest) & 0xFFFFFFFFFFFFFFFF, n)

    @classmethod
    def _bucket(cls, digest: int, n: int) -> int:
        raise NotImplementedError


class BucketSetStrategy(KeyedStrategy):
    """Any node can be removed; the algorithm's state survives adds and removes.

    Subclasses implement ``_build(n)`` (buckets 0..n-1 working),
    ``_remove_bucket(b)``, ``_add_bucket() -> b``, ``_refresh(buckets)`` (the
    working buckets in node order: point the lookup map at them) and
    ``_many(digests)`` / ``_one(digest)`` returning node indices.
    """

    weighted = False
    removable = "any"
    max_nodes: ClassVar[int] = INT32_BUCKETS
    limit_reason: ClassVar[str] = "its reference numbers buckets with int32"

    # -- membership: who holds which bucket, in node order ----------------------
    # Each node gets a sequence number when it joins; its index in ``nodes`` is
    # the number of live nodes with smaller sequence numbers.
    def _start(self, names: list[str]) -> None:
        n = len(names)
        if n > self.max_nodes:
            raise _too_many(type(self), n)
        size = max(n, 16)
        self._seq_bucket = np.full(size, -1, dtype=np.int64)
        self._seq_bucket[:n] = np.arange(n)
        self._seq_name = np.empty(size, dtype=object)  # names by sequence number
        self._seq_name[:n] = names
        self._nseq = n
        self._count = n
        self._seq_of = {name: i for i, name in enumerate(names)}
        self._names_cache = list(names)
        self._stale_names = False
        self._stale_map = True
        self._ident = False

    # The base class reads and writes ``_names``, ``_weights`` and ``_index``;
    # here they are views of the membership, built when first read after a change.
    @property
    def _names(self) -> list[str]:
        if self._stale_names:
            self._compact()
            live = np.flatnonzero(self._seq_bucket[: self._nseq] >= 0)
            self._names_cache = self._seq_name[live].tolist()
            self._stale_names = False
        return self._names_cache

    @_names.setter
    def _names(self, names: list[str]) -> None:
        self._start(list(names))

    @property
    def _weights(self) -> list[float]:
        return [1.0] * self._count

    @_weights.setter
    def _weights(self, weights: list[float]) -> None:
        pass  # unweighted: every weight is 1 (the base class refuses others)

    @property
    def _index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self._names)}

    @_index.setter
    def _index(self, index: dict[str, int]) -> None:
        pass

    def _compact(self, force: bool = False) -> None:
        """Drop departed nodes' sequence numbers once they outnumber the live ones (or,
        ``force``, now: ``add`` found the arrays full with 1/16 of them departed)."""
        if not force and self._nseq <= 2 * self._count + 64:
            return
        live = np.flatnonzero(self._seq_bucket[: self._nseq] >= 0)
        # forced (add found the arrays full): keep their size, the departed's room is reused
        size = self._seq_bucket.size if force else max(2 * live.size, 16)
        buckets = np.full(size, -1, dtype=np.int64)
        buckets[: live.size] = self._seq_bucket[live]
        names = np.empty(size, dtype=object)
        names[: live.size] = self._seq_name[live]
        self._seq_bucket, self._seq_name, self._nseq = buckets, names, live.size
        self._seq_of = {name: i for i, name in enumerate(names[: live.size].tolist())}

    def _sync(self) -> None:
        """Point the lookup map at the working buckets, in node order."""
        if self._stale_map:
            self._compact()
            seq = self._seq_bucket[: self._nseq]
            buckets = np.ascontiguousarray(seq[seq >= 0])
            # identity: node i holds bucket i (nothing removed, or only from the end)
            self._ident = bool(buckets.size == 0 or (
                buckets[0] == 0 and buckets[-1] == buckets.size - 1
                and np.all(buckets[1:] > buckets[:-1])))
            self._refresh(buckets)
            self._stale_map = False

    def _rebuild(self) -> None:
        # KeyedStrategy.__init__ calls this once; adds and removes are incremental. Called
        # again, it starts afresh: the current nodes in order on buckets 0..N-1, no history.
        if getattr(self, "_built", False):
            self._start(list(self._names))
        self._build(self._count)
        self._built = True

    # -- public API: incremental add and remove ---------------------------------
    def add(self, node: str, weight: float = 1.0) -> None:
        """Add a node (it becomes the last index); it takes the bucket removed last."""
        (name,), (w,) = node_names({node: weight})
        self._check_weight_supported(name, w)
        if name in self._seq_of:
            raise RoutebenchError(f"node {name!r} is already in {self.name!r}")
        if self._count + 1 > self.max_nodes:
            raise _too_many(type(self), self._count + 1)
        bucket = self._add_bucket()
        if self._nseq == self._seq_bucket.size and 16 * (self._nseq - self._count) >= self._nseq:
            # full, but 1/16 or more departed (a restore after removals): reuse their room
            # rather than double it (amortised O(1): an O(N) compaction per N/16 adds)
            self._compact(force=True)
            self._stale_names = True
        if self._nseq == self._seq_bucket.size:
            grown = np.full(2 * self._nseq, -1, dtype=np.int64)
            grown[: self._nseq] = self._seq_bucket
            self._seq_bucket = grown
            names = np.empty(2 * self._nseq, dtype=object)
            names[: self._nseq] = self._seq_name
            self._seq_name = names
        self._seq_bucket[self._nseq] = bucket
        self._seq_name[self._nseq] = name
        self._seq_of[name] = self._nseq
        self._nseq += 1
        self._count += 1
        if not self._stale_names:
            self._names_cache.append(name)
        self._stale_map = True

    def remove(self, node: str) -> None:
        """Remove a node; the indices of later nodes shift down by one."""
        seq = self._seq_of.get(node)
        if seq is None:
            raise RoutebenchError(
                f"node {node!r} is not in {self.name!r}; nodes: {choices(self._names)}"
            )
        if self._count == 1:
            raise RoutebenchError(f"cannot remove {node!r}: it is the only node left")
        self._remove_bucket(int(self._seq_bucket[seq]))
        self._seq_bucket[seq] = -1
        self._seq_name[seq] = None
        del self._seq_of[node]
        self._count -= 1
        self._stale_names = self._stale_map = True

    def bucket_of(self, node: str) -> int:
        """The algorithm's bucket id for ``node`` (stable while the node stays)."""
        seq = self._seq_of.get(node)
        if seq is None:
            raise RoutebenchError(f"node {node!r} is not in {self.name!r}")
        return int(self._seq_bucket[seq])

    def memory(self) -> dict[str, int]:
        """Bytes held, by part: ``state`` (the algorithm's own arrays, what its paper
        counts), ``node_map`` (bucket -> node index) and ``membership`` (the join-order
        bookkeeping: bucket and name slot by sequence number; the name strings not counted)."""
        return {
            "state": sum(a.nbytes for a in self._state_arrays()),
            "node_map": sum(a.nbytes for a in self._map_arrays()),
            "membership": self._seq_bucket.nbytes + self._seq_name.nbytes,
        }

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        self._sync()
        return self._many(digests)

    def _lookup_one(self, digest: int) -> int:
        self._sync()
        return self._one(digest)

    # -- subclass hooks -----------------------------------------------------------
    def _build(self, n: int) -> None:
        raise NotImplementedError

    def _remove_bucket(self, bucket: int) -> None:
        raise NotImplementedError

    def _add_bucket(self) -> int:
        raise NotImplementedError

    def _refresh(self, buckets: np.ndarray) -> None:
        raise NotImplementedError

    def _state_arrays(self) -> list[np.ndarray]:
        raise NotImplementedError

    def _map_arrays(self) -> list[np.ndarray]:
        return []

    def _many(self, digests: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _one(self, digest: int) -> int:
        raise NotImplementedError


class IntStack:
    """A growable stack of bucket ids (int32), for LIFO restores."""

    def __init__(self) -> None:
        self.items = np.empty(16, dtype=np.int32)
        self.size = 0

    def push(self, value: int) -> None:
        if self.size == self.items.size:
            self.items = np.concatenate([self.items, np.empty_like(self.items)])
        self.items[self.size] = value
        self.size += 1

    def pop(self) -> int:
        self.size -= 1
        value = int(self.items[self.size])
        if self.items.size > 64 and self.size < self.items.size // 4:
            self.items = self.items[: self.items.size // 2].copy()
        return value

    def __len__(self) -> int:
        return self.size


def auto_capacity(n: int) -> int:
    """The default capacity: the smallest power of two >= 2N, at least 64."""
    return min(max(64, 1 << (2 * n - 1).bit_length()), INT32_BUCKETS)


#: the bucket count a capacity-bounded strategy (anchor, dx) can ever hold
CAPACITY_PARAM = Param("capacity", 0, "buckets it can ever hold (>= N); 0: the smallest "
                                      "power of two >= 2N, at least 64", minimum=0)


def capacity_for(strategy: KeyedStrategy, n: int) -> int:
    """The configured capacity (0: :func:`auto_capacity`), checked against N."""
    given = strategy.config["capacity"]
    cap = auto_capacity(n) if given == 0 else given
    if cap > INT32_BUCKETS:
        raise RoutebenchError(
            f"{strategy.name!r} capacity={cap:,} is above the most it supports, "
            f"{INT32_BUCKETS:,} (int32 bucket ids)"
        )
    if cap < n:
        raise RoutebenchError(
            f"{strategy.name!r} capacity={cap:,} is below the {n:,} nodes: the capacity is the "
            f"most nodes it can ever hold; give capacity={auto_capacity(n):,} or more, "
            "or 0 for the default (a power of two >= 2N)"
        )
    return cap


def full_error(strategy: KeyedStrategy, cap: int) -> RoutebenchError:
    return RoutebenchError(
        f"{strategy.name!r} is full: all {cap:,} buckets of its capacity hold nodes; "
        f"build it with a larger capacity= to add more"
    )
