"""Compiled LRU and FIFO caches, many at once (numba, cached on disk after the first run).

All the caches of a run share one open-addressing hash table (linear probing,
backward-shift deletion, no tombstones) whose rows are also the elements of
each cache's intrusive, circular doubly-linked list, so a request touches one
row to find its object and a few more to move it. ``ent`` has ``rows`` table
rows (a power of two) and after them one sentinel row a node (row ``rows + n``
heads node n's list: its ``NEXT`` is the most recent object, its ``PREV`` the
next to evict; an empty list points at itself). Sentinels make every list edit
branch-free. A row is four ``int64`` words (32 bytes):

``KEY``   the key: a 64-bit digest or a key id, as its ``int64`` bit pattern
``META``  ``unit << 24 | tag``: the node's tag (node index + 1; 0 marks an empty
          row) and the object's unit (its size in bytes for a byte capacity,
          1 for an object-count capacity)
``PREV``, ``NEXT``  the neighbouring rows towards the tail and the head

Per node, a row of ``NODE_COLS`` ``int64`` counters (``USED`` ... ``MISS_BYTES``).
``glob`` holds the objects in the table, the most it may hold before it must
grow (half its rows), and ``rows``.

Semantics follow libCacheSim's ``cache_get_base`` for LRU and FIFO exactly: a
request is looked up first (a hit never changes the stored size); on a miss an
object whose unit exceeds the node's capacity is not admitted, otherwise the
tail is evicted until the object fits and it is inserted at the head. LRU moves
a hit to the head; FIFO leaves it.

The table is far larger than the CPU's caches and each request is a chain of
dependent loads, so rows are prefetched a few dozen requests ahead (each
request's home row, and for LRU the list neighbours of what sits there).

Hashes stay in ``uint64`` (numba promotes a mix of signed and unsigned 64-bit
integers to float); positions and counters are ``int64``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..strategies._kernels import fmix64

GOLDEN = np.uint64(0x9E3779B97F4A7C15)

KEY, META, PREV, NEXT = 0, 1, 2, 3
ROW_WORDS = 4
TAG_BITS = 24
TAG_MASK = (1 << TAG_BITS) - 1
#: largest node count (tags are 24 bits, 0 is "empty") and largest unit (39 bits left)
MAX_NODES = TAG_MASK - 1
MAX_UNIT = (1 << (63 - TAG_BITS)) - 1

USED, CAP, NOBJ, HITS, MISSES, HIT_BYTES, MISS_BYTES = range(7)
NODE_COLS = 7
COUNT, LIMIT, ROWS = range(3)

_TAG_MASK = np.int64(TAG_MASK)
_TAG_BITS = np.int64(TAG_BITS)

#: how many requests ahead a home row is prefetched, and (LRU) its list neighbours
PREFETCH_ROW = 32
PREFETCH_LINKS = 16


@intrinsic
def _prefetch_row(typingctx, arr, row):
    """A hint to load row ``row`` of a 2-d array into cache (LLVM's prefetch; no fault)."""
    if not isinstance(arr, types.Array) or arr.ndim != 2 or not isinstance(row, types.Integer):
        return None
    sig = types.void(arr, row)

    def codegen(context, builder, signature, args):
        aryty, rowty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        r = context.cast(builder, args[1], rowty, types.intp)
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer2(context, builder, ary.data,
                                        cgutils.unpack_tuple(builder, ary.shape),
                                        cgutils.unpack_tuple(builder, ary.strides),
                                        aryty.layout, [r, zero], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read, high temporal locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, inline="always")
def _home(key, tag, imask):
    h = fmix64(np.uint64(key) ^ (np.uint64(tag) * GOLDEN))
    return np.int64(h >> np.uint64(1)) & imask


@njit(cache=True, inline="always")
def _unlink(ent, p):
    pr = ent[p, PREV]
    nx = ent[p, NEXT]
    ent[pr, NEXT] = nx
    ent[nx, PREV] = pr


@njit(cache=True, inline="always")
def _push_front(ent, s, p):
    """Row ``p`` becomes the head of the list whose sentinel is row ``s``."""
    h = ent[s, NEXT]
    ent[p, PREV] = s
    ent[p, NEXT] = h
    ent[h, PREV] = p
    ent[s, NEXT] = p


@njit(cache=True)
def _erase(ent, p, imask):
    """Empty table row ``p`` (already unlinked), shifting back the rows probed past it."""
    i = p
    j = p
    while True:
        j = (j + 1) & imask
        meta = ent[j, META]
        if meta == 0:
            break
        h = _home(ent[j, KEY], meta & _TAG_MASK, imask)
        # the row at j may move to the hole at i unless its home lies cyclically in (i, j]
        if i <= j:
            movable = h <= i or h > j
        else:
            movable = h <= i and h > j
        if movable:
            pr = ent[j, PREV]
            nx = ent[j, NEXT]
            ent[i, KEY] = ent[j, KEY]
            ent[i, META] = meta
            ent[i, PREV] = pr
            ent[i, NEXT] = nx
            ent[pr, NEXT] = i
            ent[nx, PREV] = i
            i = j
    ent[i, META] = 0


@njit(cache=True, inline="always")
def _evict_tail(ent, nodes, n, s, imask):
    t = ent[s, PREV]
    _unlink(ent, t)
    nodes[n, USED] -= ent[t, META] >> _TAG_BITS
    nodes[n, NOBJ] -= 1
    _erase(ent, t, imask)


@njit(cache=True, inline="always")
def _access(ent, nodes, glob, n, k, s, unit, lru, home, rows):
    """One request: 1 on a hit, 0 on a miss, -1 (nothing done) if the table must grow."""
    imask = rows - 1
    tag = n + 1
    sent = rows + n
    p = home
    while True:
        meta = ent[p, META]
        if meta == 0:
            break
        if (meta & _TAG_MASK) == tag and ent[p, KEY] == k:
            nodes[n, HITS] += 1
            nodes[n, HIT_BYTES] += s
            if lru and ent[sent, NEXT] != p:
                _unlink(ent, p)
                _push_front(ent, sent, p)
            return 1
        p = (p + 1) & imask
    cap = nodes[n, CAP]
    admit = unit <= cap
    if admit and glob[COUNT] >= glob[LIMIT]:
        return -1
    nodes[n, MISSES] += 1
    nodes[n, MISS_BYTES] += s
    if not admit:
        return 0
    if nodes[n, USED] + unit > cap:
        while nodes[n, USED] + unit > cap:
            _evict_tail(ent, nodes, n, sent, imask)
            glob[COUNT] -= 1
        p = home
        while ent[p, META] != 0:
            p = (p + 1) & imask
    ent[p, KEY] = k
    ent[p, META] = (unit << _TAG_BITS) | tag
    _push_front(ent, sent, p)
    nodes[n, USED] += unit
    nodes[n, NOBJ] += 1
    glob[COUNT] += 1
    return 0


@njit(cache=True)
def request_many(ent, nodes, glob, node_idx, keys, sizes, has_sizes, byte_cap, lru, hits,
                 start):
    """Requests ``start..`` of a chunk against the caches; ``hits[i]`` says request i hit.

    ``keys`` are ``int64`` (a ``uint64`` digest viewed as ``int64`` is fine);
    ``sizes`` is read only when ``has_sizes`` (object sizes: the byte counters,
    and the unit of a byte capacity when ``byte_cap``). Returns the index of the
    first request not processed: the chunk's length, or earlier when the table
    must grow first (nothing of that request has been counted yet).
    """
    rows = glob[ROWS]
    imask = rows - 1
    last = np.int64(ent.shape[0] - 1)
    count = glob[COUNT]
    limit = glob[LIMIT]
    end = keys.size
    homes = np.empty(end, np.int64)
    for i in range(start, end):
        homes[i] = _home(np.int64(keys[i]), np.int64(node_idx[i]) + 1, imask)
    for i in range(start, end):
        if i + PREFETCH_ROW < end:
            _prefetch_row(ent, homes[i + PREFETCH_ROW])
        if lru and i + PREFETCH_LINKS < end:
            # the list neighbours of what sits in that row now: a hint, stale is harmless
            q = homes[i + PREFETCH_LINKS]
            _prefetch_row(ent, min(max(ent[q, PREV], 0), last))
            _prefetch_row(ent, min(max(ent[q, NEXT], 0), last))
        # the body of _access, written out: the loop runs about twice as fast so
        # (request_one shares _access; the tests hold the two to the same answers)
        n = np.int64(node_idx[i])
        k = np.int64(keys[i])
        s = np.int64(sizes[i]) if has_sizes else np.int64(1)
        tag = n + 1
        sent = rows + n
        p = homes[i]
        found = False
        while True:
            meta = ent[p, META]
            if meta == 0:
                break
            if (meta & _TAG_MASK) == tag and ent[p, KEY] == k:
                found = True
                break
            p = (p + 1) & imask
        if found:
            hits[i] = True
            nodes[n, HITS] += 1
            nodes[n, HIT_BYTES] += s
            if lru and ent[sent, NEXT] != p:
                _unlink(ent, p)
                _push_front(ent, sent, p)
            continue
        unit = s if byte_cap else np.int64(1)
        cap = nodes[n, CAP]
        admit = unit <= cap
        if admit and count >= limit:
            glob[COUNT] = count
            return i
        hits[i] = False
        nodes[n, MISSES] += 1
        nodes[n, MISS_BYTES] += s
        if not admit:
            continue
        if nodes[n, USED] + unit > cap:
            while nodes[n, USED] + unit > cap:
                _evict_tail(ent, nodes, n, sent, imask)
                count -= 1
            p = homes[i]
            while ent[p, META] != 0:
                p = (p + 1) & imask
        ent[p, KEY] = k
        ent[p, META] = (unit << _TAG_BITS) | tag
        _push_front(ent, sent, p)
        nodes[n, USED] += unit
        nodes[n, NOBJ] += 1
        count += 1
    glob[COUNT] = count
    return end


@njit(cache=True)
def request_one(ent, nodes, glob, node, key, size, byte_cap, lru):
    """One request from other compiled code (a simulator's event loop): 1 hit, 0 miss,
    -1 if the table must grow first (call ``CompiledCaches.grow()``, then again)."""
    rows = glob[ROWS]
    n = np.int64(node)
    k = np.int64(key)
    s = np.int64(size)
    return _access(ent, nodes, glob, n, k, s, s if byte_cap else np.int64(1), lru,
                   _home(k, n + 1, rows - 1), rows)


@njit(cache=True)
def init_sentinels(ent, rows, first, stop):
    """Empty lists for nodes ``first..stop-1``: their sentinels point at themselves."""
    for n in range(first, stop):
        s = rows + n
        ent[s, KEY] = 0
        ent[s, META] = 0
        ent[s, PREV] = s
        ent[s, NEXT] = s


@njit(cache=True)
def shrink_node(ent, nodes, glob, n, cap):
    """Evict node ``n``'s tail until it holds at most ``cap`` units; 0 empties it."""
    rows = glob[ROWS]
    imask = rows - 1
    s = rows + n
    count = glob[COUNT]
    while nodes[n, USED] > cap and ent[s, PREV] != s:
        _evict_tail(ent, nodes, n, s, imask)
        count -= 1
    glob[COUNT] = count


@njit(cache=True)
def rehash(old, old_rows, n_nodes, new, new_rows):
    """Move every node's list into the empty table ``new``, order kept."""
    imask = new_rows - 1
    init_sentinels(new, new_rows, 0, n_nodes)
    for n in range(n_nodes):
        so = old_rows + n
        sn = new_rows + n
        tag = n + 1
        p = old[so, PREV]
        while p != so:
            k = old[p, KEY]
            q = _home(k, tag, imask)
            while new[q, META] != 0:
                q = (q + 1) & imask
            new[q, KEY] = k
            new[q, META] = old[p, META]
            _push_front(new, sn, q)
            p = old[p, PREV]


@njit(cache=True)
def node_keys(ent, rows, n, out):
    """Node ``n``'s keys from the head (most recent, or newest for FIFO) to the tail."""
    s = rows + n
    p = ent[s, NEXT]
    i = 0
    while p != s:
        out[i] = ent[p, KEY]
        i += 1
        p = ent[p, NEXT]
    return i
