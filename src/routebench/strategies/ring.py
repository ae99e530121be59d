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
    _md5,  # the fast builtin MD5, for the continuum points
    as_bytes,
)
from ._base import HASH_PARAM, KeyedStrategy, Param, read_only
from ._kernels import successor_many

_CContinuum: type | None
try:  # the optional C scalar path (built when a compiler is present at install)
    from .._cketama import Continuum as _CContinuum
except ImportError:  # pragma: no cover - exercised on machines without a compiler
    _CContinuum = None

__all__ = ["RingStrategy", "KetamaStrategy"]

#: memory a ring point takes at the build's peak, all structures together, the scalar
#: path's lists included (tracemalloc, 1M points: 148 bytes held, 180 at the peak)
_BYTES_PER_POINT = 180
#: rings with more points than this look up one key on the arrays, not on Python lists
_LIST_POINTS = 1 << 21
#: the same above _LIST_POINTS, where no lists are built (``ring``'s build, see _rebuild)
_ARRAY_BYTES_PER_POINT = 32


class _Continuum(KeyedStrategy):
    """Shared machinery: sorted points, their owners, successor lookup."""

    #: which node keeps a point that two nodes share (lookups take the first of equal
    #: points): the one listed first (False) or the one listed, or added, last (True)
    _later_node_wins_shared_point = False
    #: the owners' dtype (``ring`` keeps int32: 4 bytes a point of 16M at N=100,000)
    _owner_dtype: type = np.intp

    def _set_points(self, points: np.ndarray, owners: np.ndarray) -> None:
        # ties broken by node order, deterministically (see _later_node_wins_shared_point)
        tie = -owners if self._later_node_wins_shared_point else owners
        order = np.lexsort((tie, points))
        self._store(points[order], owners[order])

    def _store(self, points: np.ndarray, owners: np.ndarray) -> None:
        """Keep sorted points and their owners. The scalar path's Python lists (bisect on
        a list beats numpy for one key) are built on the first scalar lookup: ~130 bytes a
        point that a batch-only run of a large ring (16M points at N=100,000) should not
        pay."""
        self._points = np.ascontiguousarray(points, dtype=np.uint64)
        self._owners: np.ndarray = np.ascontiguousarray(owners, dtype=self._owner_dtype)
        self._npoints = int(self._points.size)
        self._point_list: list[int] | None = None
        self._owner_list: list[int] = []

    def _scalar_lists(self) -> list[int]:
        if self._point_list is None:
            self._point_list = self._points.tolist()
            self._owner_list = self._owners.tolist()
        return self._point_list

    @property
    def _owner_names(self) -> list[str]:
        return [self._names[i] for i in self._owners.tolist()]

    def _lookup_one(self, digest: int) -> int:
        if self._npoints > _LIST_POINTS:  # a huge ring: search the array (~1 us a call)
            i = int(self._points.searchsorted(np.uint64(digest)))
            return int(self._owners[i if i < self._npoints else 0])
        i = bisect_left(self._point_list or self._scalar_lists(), digest)
        return self._owner_list[i if i < self._npoints else 0]

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        successor_many(digests, self._points, self._owners, out)
        return out

    @property
    def points(self) -> np.ndarray:
        """The sorted ring positions (read-only view)."""
        return read_only(self._points)

    @property
    def owners(self) -> np.ndarray:
        """The node index of each point in ``points`` (read-only view)."""
        return read_only(self._owners)


class RingStrategy(_Continuum):
    name = "ring"
    summary = "consistent hash ring with virtual nodes, binary-search lookup"
    params = (
        HASH_PARAM,
        Param("vnodes", 160, "virtual nodes (ring points) per node at weight 1", minimum=1),
    )
    _owner_dtype = np.int32

    def _estimate_bytes(self) -> int:
        # per point at the build's peak: the unsorted digests, the sort order, the sorted
        # points and the int32 owners (tracemalloc, 16M points: 30 bytes), and below
        # _LIST_POINTS the Python lists a scalar lookup bisects (an int object and two
        # list slots, ~130 bytes a point, built on the first scalar lookup)
        points = sum(max(1, round(self.config["vnodes"] * w)) for w in self._weights)
        return points * (_BYTES_PER_POINT if points <= _LIST_POINTS else _ARRAY_BYTES_PER_POINT)

    def _rebuild(self) -> None:
        # Built from arrays only (no Python object a point, no per-node cache): the digests
        # of every node's points in node order, sorted stably (equal points: the node listed
        # first wins, as lexsort on (owner, point) would). After an add or a remove, the
        # points of the nodes that stay are taken from the sorted arrays as they are (their
        # order holds), and only a new node's points are hashed and merged in.
        vnodes = self.config["vnodes"]
        counts = np.array([max(1, round(vnodes * w)) for w in self._weights], dtype=np.int64)
        names = list(self._names)
        built = getattr(self, "_built_for", None)
        if built is None or not self._update(built, names, counts):
            self._build_all(names, counts)
        self._built_for = (names, counts)

    def _hash_points(self, names: list[str], counts: list[int]) -> np.ndarray:
        """The digests of ``"{name}-{v}"`` for v < count, node after node (as bytes: the
        suffixes made once, one hash call a point and no str object)."""
        out = np.empty(int(sum(counts)), dtype=np.uint64)
        fn = self.hasher.fn
        chunk = 1 << 16
        suffixes = [b"-%d" % v for v in range(min(max(counts, default=0), chunk))]
        pos, batch = 0, []
        for name, c in zip(names, counts):
            prefix = name.encode("utf-8")
            for start in range(0, c, chunk):  # a node of many points: a chunk at a time
                if start == 0:
                    batch.extend([prefix + x for x in suffixes[:c]])
                else:
                    batch.extend([b"%s-%d" % (prefix, v)
                                  for v in range(start, min(c, start + chunk))])
                if len(batch) >= chunk:
                    out[pos: pos + len(batch)] = np.fromiter(map(fn, batch), np.uint64,
                                                             len(batch))
                    pos, batch = pos + len(batch), []
        if batch:
            out[pos: pos + len(batch)] = np.fromiter(map(fn, batch), np.uint64, len(batch))
        return out

    def _build_all(self, names: list[str], counts: np.ndarray) -> None:
        raw = self._hash_points(names, counts.tolist())
        order = np.argsort(raw)  # quicksort; equal points are put in node order below
        points = raw[order]
        del raw
        owners = np.repeat(np.arange(len(names), dtype=np.int32), counts)[order]
        del order
        tied = np.flatnonzero(points[1:] == points[:-1])
        if tied.size:  # runs of equal points (32-bit hashes: many): the first node wins
            at = np.unique(np.concatenate([tied, tied + 1]))
            owners[at] = owners[at][np.lexsort((owners[at], points[at]))]
        self._store(points, owners)

    def _update(self, built: tuple[list[str], np.ndarray], names: list[str],
                counts: np.ndarray) -> bool:
        """Reuse the sorted points of the nodes that stay; False: build from scratch."""
        old_names, old_counts = built
        old_index = {n: i for i, n in enumerate(old_names)}
        remap = np.full(len(old_names), -1, dtype=np.int32)
        fresh = []
        for i, (name, c) in enumerate(zip(names, counts.tolist())):
            j = old_index.get(name)
            if j is not None and old_counts[j] == c:
                remap[j] = i
            else:
                fresh.append(i)
        kept = remap[remap >= 0]
        if kept.size == 0 or np.any(kept[1:] < kept[:-1]) or len(fresh) > len(names) // 4:
            return False  # reordered, or mostly new: sorting afresh is as cheap
        own = remap[self._owners]
        keep = own >= 0
        points = self._points[keep] if not keep.all() else self._points
        owners = own[keep] if not keep.all() else own
        del own, keep
        if fresh:
            new_pts = self._hash_points([names[i] for i in fresh], counts[fresh].tolist())
            new_own = np.repeat(np.asarray(fresh, dtype=np.int32), counts[fresh])
            o = np.lexsort((new_own, new_pts))
            new_pts, new_own = new_pts[o], new_own[o]
            pos = np.searchsorted(points, new_pts, side="left")
            right = np.searchsorted(points, new_pts, side="right")
            for t in np.flatnonzero(right > pos).tolist():  # equal points: by node order
                pos[t] += int(np.count_nonzero(owners[pos[t]: right[t]] < new_own[t]))
            points = np.insert(points, pos, new_pts)
            owners = np.insert(owners, pos, new_own)
        self._store(points, owners)
        return True


class KetamaStrategy(_Continuum):
    name = "ketama"
    summary = "libketama-compatible ring: md5, 40 hashes x 4 points per node at weight 1"
    params = ()  # libketama fixes the hash (md5) and the point count

    # Two servers with the same 32-bit point (~15-25% of rings of 200-300 servers):
    # the server listed (or added) later keeps it, as in uhashring (its point map is
    # written in server order, the later server overwriting) and RJ/ketama's Java
    # client (TreeMap.put). libketama's C qsorts the points on the point alone, which
    # C leaves unordered for equal points: glibc's merge sort keeps the earlier server.
    # A key hashing exactly onto a point belongs to that point (libketama's
    # ``h <= point``, the Java client's ceilingKey); uhashring's bisect_right gives it
    # the next point's server, the one place routebench and uhashring differ.
    _later_node_wins_shared_point = True

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
        self._c = None
        if _CContinuum is not None:
            # The C continuum does MD5 and the search in one call, with the same
            # results as the Python path. Bound as the instance's ``lookup`` so a
            # call costs no Python frame at all: the scalar path is what a
            # memcached client runs for every request.
            self._c = _CContinuum(self._points.astype(np.uint32).tobytes(), self._owner_names,
                                  as_bytes)
            self.lookup = self._c.lookup  # type: ignore[method-assign]


STRATEGIES = (RingStrategy, KetamaStrategy)
