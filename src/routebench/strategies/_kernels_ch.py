"""Compiled loops for the constant-time and the stateful consistent hashes.

``jumpback``, ``flip``, ``binomial`` and ``power`` map a digest to one of N
buckets with no state but N; ``anchor``, ``dx`` and ``memento`` keep state
about which buckets were removed, and in what order. Like ``_kernels``, every
function keeps all arithmetic in ``uint64`` (numba turns a mix of signed and
unsigned 64-bit integers into float) and is compiled once, then cached on
disk. Bit counts come from LLVM's ``ctlz``/``ctpop`` (one instruction each).

The stateful kernels return node indices directly: each keeps a map from its
bucket ids to the index of the node that holds the bucket, refreshed by the
Python side after adds and removes (see ``_bucketset``).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ._kernels import GOLDEN, fmix64

U64 = np.uint64
_ZERO = U64(0)
_ONE = U64(1)
_ALL32 = U64(0xFFFFFFFF)
_ALL64 = U64(0xFFFFFFFFFFFFFFFF)
_S32 = U64(32)
_S63 = U64(63)


@intrinsic
def clz64(typingctx, x):
    """Leading zero bits of a ``uint64`` (64 for 0)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return types.uint64(types.uint64), codegen


@intrinsic
def popcount64(typingctx, x):
    """Set bits of a ``uint64``."""
    if x != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


# -- JumpBackHash (Ertl 2024), as hash4j's jumpBackHashSplitMix64 ------------------
_SM_C1 = U64(0xBF58476D1CE4E5B9)
_SM_C2 = U64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _splitmix(z):
    """SplitMix64's output function (java.util.SplittableRandom's mix64)."""
    z = (z ^ (z >> U64(30))) * _SM_C1
    z = (z ^ (z >> U64(27))) * _SM_C2
    return z ^ (z >> U64(31))


@njit(cache=True, inline="always")
def _jumpback(digest, n):
    """The bucket in [0, n) of hash4j's ``jumpBackHashSplitMix64().getBucket(digest, n)``.

    ``n`` is a uint64 in [1, 2**31 - 1]. A random 32-bit pattern (masked to
    the bits of n - 1) picks, from its highest set bit down, the last range
    [2**k, 2**(k+1)) that receives the key; a few more SplitMix64 draws decide
    whether the key's slot in that range is below n, or it jumps back.
    """
    if n <= _ONE:
        return _ZERO
    state = digest + GOLDEN
    r0 = _splitmix(state)
    x = (r0 ^ (r0 >> _S32)) & (_ALL32 >> (clz64(n - _ONE) - _S32))
    while x != _ZERO:
        lo = _ONE << (_S63 - clz64(x))
        b = lo + ((r0 >> ((popcount64(x) & _ONE) << U64(5))) & (lo - _ONE))
        if b < n:
            return b
        hi = (lo << _ONE) - _ONE
        while True:
            state += GOLDEN
            r1 = _splitmix(state)
            b = r1 & hi
            if b < lo:
                break
            if b < n:
                return b
            b = (r1 >> _S32) & hi
            if b < lo:
                break
            if b < n:
                return b
        x ^= lo
    return _ZERO


@njit(cache=True)
def jumpback_many(digests, n, out):
    m = U64(n)
    for i in range(digests.size):
        out[i] = _jumpback(digests[i], m)


@njit("int64(uint64, int64)", cache=True)
def jumpback_one(digest, n):
    return _jumpback(digest, U64(n))


# -- FlipHash (Masson & Lee 2024), as fliphash-rs's fliphash_64 (seed 0) -------
_MM_C1 = U64(0x3C79AC492BA7B653)
_MM_C2 = U64(0x1C69B3F74AC4AE35)


@njit(cache=True, inline="always")
def _flip_h(key, bits, iteration):
    """fliphash-rs's keyed hash (a moremur variant) of ``key`` for (bits, iteration)."""
    k = key * (bits * U64(2) + _ONE)
    k = (k ^ (k >> U64(27))) * _MM_C1
    k = k * (iteration * U64(2) + _ONE)
    k = (k ^ (k >> U64(33))) * _MM_C2
    return k ^ (k >> U64(27))


@njit(cache=True, inline="always")
def _flip_pow2(key, h, mask):
    """FlipHash over a power-of-two range [0, mask]: flip the bits below the top one."""
    m = h & mask
    if m == _ZERO:
        return _ZERO
    lz = clz64(m)
    return m ^ (_flip_h(key, _S63 - lz, _ZERO) & ((_ALL64 >> lz) >> _ONE))


@njit(cache=True, inline="always")
def _flip(key, n):
    if n <= _ONE:
        return _ZERO
    end = n - _ONE
    lz = clz64(end)
    mask = _ALL64 >> lz
    h = _flip_h(key, _ZERO, _ZERO)
    b = _flip_pow2(key, h, mask)
    if b <= end:
        return b
    bits = _S63 - lz
    half = mask >> _ONE
    for i in range(1, 65):
        draw = _flip_h(key, bits, U64(i)) & mask
        if draw <= half:
            break
        if draw <= end:
            return draw
    return _flip_pow2(key, h, half)


@njit(cache=True)
def flip_many(digests, n, out):
    m = U64(n)
    for i in range(digests.size):
        out[i] = _flip(digests[i], m)


@njit("int64(uint64, int64)", cache=True)
def flip_one(digest, n):
    return _flip(digest, U64(n))


# -- BinomialHash (Coluzzi et al. 2024), as SUPSI's BinomialEngine -----------------
_LCG_MUL = U64(2862933555777941757)


@njit(cache=True, inline="always")
def _binomial_rehash(value, seed):
    h = _LCG_MUL * value + _ONE
    return (h * h * seed) >> _S32


@njit(cache=True, inline="always")
def _relocate_within_level(bucket, h):
    """A random bucket on the same level of the binary tree as ``bucket``."""
    if bucket < U64(2):
        return bucket
    base = _ONE << (_S63 - clz64(bucket))
    f = base - _ONE
    return base + (_binomial_rehash(h, f) & f)


@njit(cache=True, inline="always")
def _binomial(h, n, enclosing, minor):
    """``enclosing``: 2**ceil(log2 n) - 1; ``minor``: enclosing >> 1."""
    if n < U64(2):
        return _ZERO
    b = _relocate_within_level(h & enclosing, h)
    if b < n:
        return b
    g = h
    for _ in range(4):
        g = _binomial_rehash(g, enclosing)
        b = _relocate_within_level(g & enclosing, g)
        if b <= minor:
            break
        if b < n:
            return b
    return _relocate_within_level(h & minor, h)


@njit(cache=True)
def binomial_many(digests, n, enclosing, minor, out):
    m, e, f = U64(n), U64(enclosing), U64(minor)
    for i in range(digests.size):
        out[i] = _binomial(digests[i], m, e, f)


@njit("int64(uint64, int64, int64, int64)", cache=True)
def binomial_one(digest, n, enclosing, minor):
    return _binomial(digest, U64(n), U64(enclosing), U64(minor))


# -- Power consistent hashing (Leu 2023), as the power-consistent-hash crate -------
_PCG_MUL = U64(6364136223846793005)
_U32_MAX = U64(0xFFFFFFFF)


@njit(cache=True, inline="always")
def _pcg_out(state):
    """PCG-XSH-RR 64/32's output for ``state`` (the state does not advance)."""
    rot = state >> U64(59)
    xsh = (((state >> U64(18)) ^ state) >> U64(27)) & _ALL32
    return ((xsh >> rot) | (xsh << ((U64(32) - rot) & U64(31)))) & _ALL32


@njit(cache=True, inline="always")
def _power_f(key, mask):
    """f: uniform and consistent over [0, mask] for a power-of-two mask + 1.

    Returns (bucket, PCG state, PCG increment); the state continues in ``g``.
    """
    low = key & mask
    if low == _ZERO:
        return _ZERO, _ZERO, _ONE
    msb = _S63 - clz64(low)
    inc = (msb << _ONE) | _ONE
    state = (key + inc) * _PCG_MUL + inc
    h = _ONE << msb
    return h + (_pcg_out(state) & (h - _ONE)), state, inc


@njit(cache=True, inline="always")
def _power(key, n, m1, m2):
    """``m1`` = 2**ceil(log2 n) - 1, ``m2`` = (m1 + 1) / 2 - 1."""
    if n < U64(2):
        return _ZERO
    r1, state, inc = _power_f(key, m1)
    if r1 < n:
        return r1
    # g: a jump-style walk from m2 towards n, one PCG draw a step
    state = state * _PCG_MUL + inc
    x = m2
    while True:
        scaled = (x + _ONE) * _U32_MAX
        r = _pcg_out(state) + _ONE
        if n * r <= scaled:
            break
        state = state * _PCG_MUL + inc
        x = scaled // r
    if x > m2:
        return x
    return _power_f(key, m2)[0]


@njit(cache=True)
def power_many(digests, n, m1, m2, out):
    a, b, c = U64(n), U64(m1), U64(m2)
    for i in range(digests.size):
        out[i] = _power(digests[i], a, b, c)


@njit("int64(uint64, int64, int64, int64)", cache=True)
def power_one(digest, n, m1, m2):
    return _power(digest, U64(n), U64(m1), U64(m2))


# -- AnchorHash (Mendelson et al. 2020), the authors' memory-optimised variant -----
# A[b] > 0: bucket b is removed, and A[b] is the working-set size right after its
# removal; A[b] <= 0: b is working, and -A[b] - 1 is the index of its node.
# K[b]: the bucket that replaced b. Values fit int32 (capacity < 2**31). A key's
# first bucket is H(key, 0) mod capacity; while its bucket is removed the next hash
# is H(key - bs, bs), bs the last one (the authors' crc32c(key1 - bs, key2 + bs), key2 = 0).


@njit(cache=True, inline="always")
def _anchor_h(x, y):
    """The 32-bit hash family: fmix64 of x and y, its high half."""
    return fmix64(x ^ (y * GOLDEN)) >> _S32


@njit(cache=True, inline="always")
def _anchor_from(key, bs, view, A, K):
    """The node for a key whose bucket was removed when the working set fell to ``view``;
    ``bs``: the key's last 32-bit hash. The loop of the authors' ComputeBucket(key, 0)."""
    while True:
        bs = _anchor_h(key - bs, bs)
        h = np.int64(bs % U64(view))
        while A[h] >= view:  # who had replaced h when the working set had `view` buckets
            h = K[h]
        view = A[h]
        if view <= 0:
            return -np.int64(view) - 1


@njit(cache=True)
def anchor_many(digests, A, K, out):
    m = U64(A.size)
    # first every key's first bucket, without branches: its node where it works, < 0 if not
    if m & (m - _ONE) == _ZERO:  # a power of two: the same as % m
        mask = m - _ONE
        for i in range(digests.size):
            out[i] = -np.int64(A[np.int64(_anchor_h(digests[i], _ZERO) & mask)]) - 1
    else:
        for i in range(digests.size):
            out[i] = -np.int64(A[np.int64(_anchor_h(digests[i], _ZERO) % m)]) - 1
    for i in range(digests.size):  # then the keys whose first bucket was removed
        v = out[i]
        if v < 0:
            out[i] = _anchor_from(digests[i], _anchor_h(digests[i], _ZERO), -v - 1, A, K)


@njit("int64(uint64, int32[::1], int32[::1])", cache=True)
def anchor_one(digest, A, K):
    bs = _anchor_h(digest, _ZERO)
    view = A[np.int64(bs % U64(A.size))]
    return -np.int64(view) - 1 if view <= 0 else _anchor_from(digest, bs, view, A, K)


@njit(cache=True)
def anchor_remove(A, K, b, n):
    """Remove working bucket b from a working set of n buckets; the authors' UpdateRemoval."""
    h = n - 1
    while A[h] >= n:
        h = K[h]
    K[b] = h
    A[b] = n - 1


# -- DxHash (Dong & Wang 2021), as SUPSI's DxEngine: java.util.Random probes -------
_JR_MUL = U64(0x5DEECE66D)
_JR_ADD = U64(0xB)
_JR_MASK = U64((1 << 48) - 1)


@njit(cache=True, inline="always")
def _dx_bucket(digest, alive, cap):
    """The first live bucket in the java.util.Random(digest).nextInt(cap) sequence."""
    seed = (digest ^ _JR_MUL) & _JR_MASK
    pow2 = (cap & (cap - _ONE)) == _ZERO
    while True:
        seed = (seed * _JR_MUL + _JR_ADD) & _JR_MASK
        r = seed >> U64(17)  # next(31)
        if pow2:
            b = (cap * r) >> U64(31)
        else:  # Random.nextInt's rejection loop: redraw where r - r % cap + cap - 1 >= 2**31
            b = r % cap
            while r - b + cap - _ONE >= U64(0x80000000):
                seed = (seed * _JR_MUL + _JR_ADD) & _JR_MASK
                r = seed >> U64(17)
                b = r % cap
        if (alive[b >> U64(6)] >> (b & _S63)) & _ONE:
            return np.int64(b)


@njit(cache=True)
def dx_many(digests, alive, cap, node_of, ident, out):
    c = U64(cap)
    for i in range(digests.size):
        b = _dx_bucket(digests[i], alive, c)
        out[i] = b if ident else node_of[b]


@njit("int64(uint64, uint64[::1], int64, int32[::1], boolean)", cache=True)
def dx_one(digest, alive, cap, node_of, ident):
    b = _dx_bucket(digest, alive, U64(cap))
    return b if ident else np.int64(node_of[b])


# -- MementoHash (Coluzzi et al. 2023), as SUPSI's MementoEngine ------------------
# over JumpBackHash instead of JumpHash. The removed buckets live in an
# open-addressing table (linear probing, power-of-two size, load <= 1/2):
# keys[i] = removed bucket or -1, repl[i] = its replacer (the working-set size
# right after it left, also the bucket that took its place), prev[i] = the
# bucket removed before it. Adds and removes keep the table; lookups read a
# dense copy of it, merged into the bucket -> node map: node_of[b] >= 0 is the
# node of working bucket b, node_of[b] = -(replacer + 1) a removed one's.
_TAB_MUL = U64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
def _slot(bucket, shift):
    return np.int64((U64(bucket) * _TAB_MUL) >> shift)


@njit(cache=True, inline="always")
def memento_rehash(digest, bucket):
    """The per-bucket rehash of a key, non-negative (63 bits)."""
    return fmix64(digest ^ (U64(bucket + 1) * GOLDEN)) >> _ONE


@njit(cache=True, inline="always")
def _memento_resolve(digest, b, v, node_of):
    """The node for a key whose b-array bucket b was removed (v = node_of[b] < 0)."""
    while True:
        replacer = -np.int64(v) - 1
        b = np.int64(memento_rehash(digest, b) % U64(replacer))
        v = node_of[b]
        while v < 0 and -np.int64(v) - 1 >= replacer:
            # b left after the bucket that sent us here: follow its replacers
            b = -np.int64(v) - 1
            v = node_of[b]
        if v >= 0:
            return np.int64(v)


@njit(cache=True)
def memento_many(digests, size, node_of, ident, out):
    """``ident``: nothing removed and node i holds bucket i (plain JumpBackHash)."""
    n = U64(size)
    if ident:
        for i in range(digests.size):
            out[i] = _jumpback(digests[i], n)
        return
    for i in range(digests.size):  # one pass for the common case: a working bucket
        out[i] = node_of[_jumpback(digests[i], n)]
    for i in range(digests.size):  # then the keys that landed on removed buckets
        v = out[i]
        if v < 0:
            out[i] = _memento_resolve(digests[i], np.int64(_jumpback(digests[i], n)), v, node_of)


@njit("int64(uint64, int64, int32[::1], boolean)", cache=True)
def memento_one(digest, size, node_of, ident):
    b = np.int64(_jumpback(digest, U64(size)))
    if ident:
        return b
    v = node_of[b]
    return np.int64(v) if v >= 0 else _memento_resolve(digest, b, v, node_of)


@njit(cache=True)
def fill_replacers(node_of, keys, repl):
    """node_of[b] = -(replacer + 1) for every removed bucket b in the table."""
    for i in range(keys.size):
        if keys[i] >= 0:
            node_of[keys[i]] = -(repl[i] + 1)


@njit(cache=True)
def table_put(keys, repl, prev, shift, bucket, replacer, previous):
    mask = keys.size - 1
    i = _slot(bucket, shift)
    while keys[i] >= 0:
        i = (i + 1) & mask
    keys[i] = bucket
    repl[i] = replacer
    prev[i] = previous


@njit(cache=True)
def table_pop(keys, repl, prev, shift, bucket):
    """Delete ``bucket`` (backward-shift deletion); returns its ``prev`` entry, -1 if absent."""
    mask = keys.size - 1
    i = _slot(bucket, shift)
    while keys[i] != bucket:
        if keys[i] < 0:
            return -1
        i = (i + 1) & mask
    out = prev[i]
    j = i
    while True:
        j = (j + 1) & mask
        if keys[j] < 0:
            break
        home = _slot(keys[j], shift)
        # move keys[j] back to the hole at i unless its home lies cyclically in (i, j]
        if (j > i and (home <= i or home > j)) or (j < i and (home <= i and home > j)):
            keys[i] = keys[j]
            repl[i] = repl[j]
            prev[i] = prev[j]
            i = j
    keys[i] = -1
    return out


@njit(cache=True)
def table_rehash(keys, repl, prev, new_keys, new_repl, new_prev, new_shift):
    for i in range(keys.size):
        if keys[i] >= 0:
            table_put(new_keys, new_repl, new_prev, new_shift, keys[i], repl[i], prev[i])


# -- bucket -> node index maps, refreshed after adds and removes -----------------
@njit(cache=True)
def fill_node_map(node_of, buckets):
    """node_of[buckets[i]] = i; every other entry -1."""
    node_of[:] = -1
    for i in range(buckets.size):
        node_of[buckets[i]] = i


@njit(cache=True)
def fill_anchor_map(A, buckets):
    """Working buckets carry their node index in A, as -(index + 1)."""
    for i in range(buckets.size):
        A[buckets[i]] = -(i + 1)
