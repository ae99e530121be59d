"""A bounded, uniform sample of a trace's distinct keys (bottom-k by a reference hash).

The one distinct-key sketch: the static engine's remap sample and
``trace inspect``'s distinct counts both use it.

Remap and monotonicity are properties of keys, not requests: a hot key that
moves is one key. The sample keeps every distinct key while there are at
most ``capacity`` of them (exact), then the ``capacity`` keys with the
smallest reference digests: a uniform sample of the distinct keys whatever
their popularity, in fixed memory however long the trace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ..hashing import Hasher, get_hasher

__all__ = ["DistinctSample"]

CAPACITY = 1 << 20


class DistinctSample:
    """Distinct keys seen so far, as digests under each hash function in use."""

    def __init__(self, hashers: Iterable[Hasher], capacity: int = CAPACITY) -> None:
        hs = {h.name: h for h in hashers}
        # the reference must be 64-bit so distinct keys do not collide
        self.ref = next((h for h in hs.values() if h.bits == 64), get_hasher("xxh3"))
        hs.setdefault(self.ref.name, self.ref)
        self.hashers = list(hs.values())
        self.capacity = capacity
        self.threshold = np.uint64(2**64 - 1)  # keys with ref digest <= threshold are kept
        self.refs = np.empty(0, dtype=np.uint64)  # sorted, unique
        self.digests = {h: np.empty(0, dtype=np.uint64) for h in hs}

    @property
    def sampled(self) -> bool:
        """True once the sample is a subset (more distinct keys than capacity)."""
        return bool(self.threshold < np.uint64(2**64 - 1))

    @property
    def size(self) -> int:
        return int(self.refs.size)

    def estimate(self) -> int:
        """The number of distinct keys: exact unless sampled, then the KMV estimate."""
        if not self.sampled:
            return self.size
        return int(round((self.size - 1) / (float(self.threshold) / 2.0**64)))

    @property
    def exact(self) -> bool:
        """True while every distinct key is kept (not yet a sample)."""
        return not self.sampled

    def add(self, digests: Callable[[Hasher], np.ndarray]) -> np.ndarray:
        """Add one chunk's keys; ``digests(hasher)`` gives that chunk's digests.

        Returns the reference digests that were new to the sample.
        """
        r = digests(self.ref)
        keep = np.flatnonzero(r <= self.threshold)
        if keep.size == 0:
            return r[:0]
        uniq, first = np.unique(r[keep], return_index=True)
        pos = np.searchsorted(self.refs, uniq)
        present = pos < self.refs.size
        present[present] = self.refs[pos[present]] == uniq[present]
        new = ~present
        if not new.any():
            return uniq[:0]
        at, rows = pos[new], keep[first[new]]
        self.refs = np.insert(self.refs, at, uniq[new])
        for h in self.hashers:
            self.digests[h.name] = np.insert(self.digests[h.name], at, digests(h)[rows])
        if self.refs.size > self.capacity:
            self.refs = self.refs[: self.capacity]
            for name in self.digests:
                self.digests[name] = self.digests[name][: self.capacity]
            self.threshold = self.refs[-1]
        return uniq[new]

    def state(self) -> tuple[np.ndarray, dict[str, np.ndarray], bool]:
        """What :meth:`merge` takes from another sample: its reference digests, every hash
        function's digests of the same keys, and whether it is a subset already."""
        return self.refs, self.digests, self.sampled

    def merge(self, refs: np.ndarray, digests: dict[str, np.ndarray], sampled: bool) -> None:
        """Add another sample's keys (its :meth:`state`): afterwards this sample is exactly
        the one a single pass over both inputs would hold.

        Each sample holds the smallest ``capacity`` reference digests of its input, so
        each of the smallest ``capacity`` of the union is in one of them: the smallest
        ``capacity`` of the two samples together are those of the whole input.
        """
        if refs.size == 0 and not sampled:
            return
        allr = np.concatenate([self.refs, refs])
        uniq, first = np.unique(allr, return_index=True)
        cut = uniq.size > self.capacity or sampled or self.sampled
        keep = first[: self.capacity]
        self.refs = uniq[: self.capacity]
        for name in self.digests:
            self.digests[name] = np.concatenate([self.digests[name], digests[name]])[keep]
        if cut and self.refs.size:
            self.threshold = self.refs[-1]
