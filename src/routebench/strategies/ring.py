"""Consistent-hash rings: ``ring`` (virtual nodes) and ``ketama`` (libketama).

A key belongs to the first point at or after its digest on the circle,
wrapping past the largest point to the smallest.
"""

from __future__ import annotations

import math
from bisect import bisect_left

import numpy as np

from ..hashing import (
    KETAMA,
    Hasher,
    _md5,  # the fast builtin MD5 ketama's scalar path needs
    as_bytes,
)
from ._base import HASH_PARAM, KeyedStrategy, Param
from ._kernels import successor_many

__all__ = ["RingStrategy", "KetamaStrategy"]


class _Continuum(KeyedStrategy):
    """Shared machinery: sorted points, their owners, successor lookup."""

    def _set_points(self, points: np.ndarray, owners: np.ndarray) -> None:
        order = np.lexsort((owners, points))  # ties broken by node order, deterministically
        self._points = np.ascontiguousarray(points[order], dtype=np.uint64)
        self._owners = np.ascontiguousarray(owners[order], dtype=np.intp)
        self._point_list = self._points.tolist()  # bisect on a list beats numpy for one key
        self._owner_list = self._owners.tolist()
        self._owner_names = [self._names[i] for i in self._owner_list]
        self._npoints = len(self._point_list)

    def _lookup_one(self, digest: int) -> int:
        i = bisect_left(self._point_list, digest)
        return self._owner_list[i if i < self._npoints else 0]

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        successor_many(digests, self._points, self._owners, out)
        return out

    @property
    def points(self) -> np.ndarray:
        """The sorted ring positions (read-only view)."""
        v = self._points.view()
        v.flags.writeable = False
        return v


class RingStrategy(_Continuum):
    name = "ring"
    summary = "consistent hash ring with virtual nodes, binary-search lookup"
    params = (
        HASH_PARAM,
        Param("vnodes", 160, "virtual nodes (ring points) per node at weight 1", minimum=1),
    )

    def _rebuild(self) -> None:
        vnodes = self.config["vnodes"]
        cache: dict[tuple[str, int], np.ndarray] = getattr(self, "_point_cache", {})
        self._point_cache = {}
        parts, owners = [], []
        for i, (name, w) in enumerate(zip(self._names, self._weights)):
            count = max(1, round(vnodes * w))
            pts = cache.get((name, count))
            if pts is None:
                pts = self.hasher.many([f"{name}-{v}" for v in range(count)])
            self._point_cache[(name, count)] = pts
            parts.append(pts)
            owners.append(np.full(count, i, dtype=np.intp))
        self._set_points(np.concatenate(parts), np.concatenate(owners))


class KetamaStrategy(_Continuum):
    name = "ketama"
    summary = "libketama-compatible ring: md5, 40 hashes x 4 points per node at weight 1"
    params = ()  # libketama fixes the hash (md5) and the point count

    def _make_hasher(self) -> Hasher:
        return KETAMA

    def _rebuild(self) -> None:
        n = len(self._names)
        total = np.float32(sum(self._weights))
        parts, owners = [], []
        for i, (name, w) in enumerate(zip(self._names, self._weights)):
            # libketama: float pct = (float)w / (float)total;
            #            unsigned ks = floorf(pct * 40.0 * (float)numservers);
            pct = np.float32(np.float32(w) / total)
            ks = math.floor(np.float32(float(pct) * 40.0 * float(np.float32(n))))
            digests = b"".join(_md5(f"{name}-{k}".encode()).digest() for k in range(ks))
            # each 16-byte digest gives four little-endian 32-bit points
            parts.append(np.frombuffer(digests, dtype="<u4").astype(np.uint64))
            owners.append(np.full(4 * ks, i, dtype=np.intp))
        self._set_points(np.concatenate(parts), np.concatenate(owners))

    def _set_points(self, points: np.ndarray, owners: np.ndarray) -> None:
        super()._set_points(points, owners)
        # Scalar fast path. A bisect over 16k Python ints costs ~450 ns in cache
        # misses, so index the 32-bit circle by its top 16 bits: a bucket with
        # no point in it maps every hash in it to the same owner (most do); a
        # bucket with points is bisected over its own few points only.
        edges = np.arange(65537, dtype=np.uint64) << np.uint64(16)
        start = np.searchsorted(self._points, edges, side="left")
        after = start[1:] % max(self._npoints, 1)  # first point past the bucket, wrapping
        empty = start[1:] == start[:-1]
        names = self._owner_names
        self._bucket_owner = [
            names[a] if e else None for a, e in zip(after.tolist(), empty.tolist())
        ]
        self._bucket_start = start.tolist()
        # points as 4 big-endian bytes: they sort like the integers and compare
        # against a reversed digest slice with no int conversion
        self._point_bytes = [p.to_bytes(4, "big") for p in self._point_list]

    def lookup(self, key: str | bytes) -> str:
        if type(key) is str:
            key = key.encode()
        elif type(key) is not bytes:
            key = as_bytes(key)
        d = _md5(key).digest()
        b = d[3] << 8 | d[2]  # top 16 bits of libketama's little-endian hash
        owner = self._bucket_owner[b]
        if owner is not None:
            return owner
        i = bisect_left(self._point_bytes, d[3::-1], self._bucket_start[b],
                        self._bucket_start[b + 1])
        return self._owner_names[i if i < self._npoints else 0]


STRATEGIES = (RingStrategy, KetamaStrategy)
