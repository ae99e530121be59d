"""Compiled loops for batch lookups (numba, cached on disk after the first run).

Every function takes digests as ``uint64`` and keeps all arithmetic in
``uint64``: numba promotes a mix of signed and unsigned 64-bit integers to
float, which would silently lose bits.
"""

from __future__ import annotations

import numpy as np
from numba import njit

U64 = np.uint64
GOLDEN = U64(0x9E3779B97F4A7C15)
_C1 = U64(0xFF51AFD7ED558CCD)
_C2 = U64(0xC4CEB9FE1A85EC53)
_S33 = U64(33)
_JUMP_MUL = U64(2862933555777941757)
_ONE = U64(1)
_TWO31 = 2147483648.0
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def fmix64(z):
    """MurmurHash3's 64-bit finaliser: a bijection with full avalanche."""
    z ^= z >> _S33
    z *= _C1
    z ^= z >> _S33
    z *= _C2
    z ^= z >> _S33
    return z


def fmix64_py(z: int) -> int:
    """``fmix64`` in plain Python, for node seeds and scalar paths."""
    m = 0xFFFFFFFFFFFFFFFF
    z ^= z >> 33
    z = (z * 0xFF51AFD7ED558CCD) & m
    z ^= z >> 33
    z = (z * 0xC4CEB9FE1A85EC53) & m
    z ^= z >> 33
    return z


# -- jump consistent hash (Lamping & Veach 2014) -----------------------------
@njit(cache=True, inline="always")
def _jump(key, n):
    b = -1
    j = 0
    while j < n:
        b = j
        key = key * _JUMP_MUL + _ONE
        j = np.int64((b + 1) * (_TWO31 / np.float64((key >> _S33) + _ONE)))
    return b


@njit(cache=True)
def jump_many(digests, n, out):
    for i in range(digests.size):
        out[i] = _jump(digests[i], n)


@njit("int64(uint64, int64)", cache=True)
def jump_one(digest, n):
    return _jump(digest, n)


# -- sorted points: ring and ketama ------------------------------------------
@njit(cache=True, inline="always")
def successor_index(points, x):
    """The index of the first point >= ``x`` in sorted ``points`` (``points.size`` if none)."""
    lo = 0
    hi = points.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if points[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def successor_many(digests, points, owners, out):
    """For each digest the owner of the first point >= it, wrapping past the end."""
    n = points.size
    for i in range(digests.size):
        lo = successor_index(points, digests[i])
        out[i] = owners[lo if lo < n else 0]


# -- rendezvous (highest random weight) ---------------------------------------
@njit(cache=True, inline="always")
def _hrw(key, seeds):
    best = U64(0)
    bi = 0
    for j in range(seeds.size):
        h = fmix64(key ^ seeds[j])
        if h > best:
            best = h
            bi = j
    return bi


@njit(cache=True, inline="always")
def _hrw_weighted(key, seeds, weights):
    # logarithmic method: score = -w / ln(u), u uniform in (0, 1)
    best = -np.inf
    bi = 0
    for j in range(seeds.size):
        h = fmix64(key ^ seeds[j])
        u = (np.float64(h >> U64(11)) + 0.5) * _INV53
        s = -weights[j] / np.log(u)
        if s > best:
            best = s
            bi = j
    return bi


@njit(cache=True)
def rendezvous_many(digests, seeds, out):
    for i in range(digests.size):
        out[i] = _hrw(digests[i], seeds)


@njit(cache=True)
def rendezvous_weighted_many(digests, seeds, weights, out):
    for i in range(digests.size):
        out[i] = _hrw_weighted(digests[i], seeds, weights)


@njit("int64(uint64, uint64[::1])", cache=True)
def rendezvous_one(digest, seeds):
    return _hrw(digest, seeds)


@njit("int64(uint64, uint64[::1], float64[::1])", cache=True)
def rendezvous_weighted_one(digest, seeds, weights):
    return _hrw_weighted(digest, seeds, weights)


# -- maglev -------------------------------------------------------------------
@njit(cache=True)
def maglev_populate(offsets, skips, turns, m):
    """The lookup table of Eisenbud et al. (NSDI 2016), Pseudocode 1.

    Backends take turns claiming their next preferred free slot. ``turns[i]``
    in (0, 1] is how often backend i gets a turn (its weight over the largest
    weight): 1 for every backend is the paper's unweighted table.
    """
    n = offsets.size
    nxt = np.zeros(n, dtype=np.int64)
    credit = np.zeros(n, dtype=np.float64)
    entry = np.full(m, -1, dtype=np.int32)
    filled = 0
    while True:
        for i in range(n):
            credit[i] += turns[i]
            if credit[i] < 1.0:
                continue
            credit[i] -= 1.0
            c = (offsets[i] + nxt[i] * skips[i]) % m
            while entry[c] >= 0:
                nxt[i] += 1
                c = (offsets[i] + nxt[i] * skips[i]) % m
            entry[c] = i
            nxt[i] += 1
            filled += 1
            if filled == m:
                return entry
    return entry


@njit(cache=True)
def table_many(digests, table, out):
    m = U64(table.size)
    for i in range(digests.size):
        out[i] = table[digests[i] % m]


# -- multi-probe consistent hashing (Appleton & O'Reilly 2015) ----------------
@njit(cache=True, inline="always")
def _multiprobe(key, probes, points, owners, start, shift):
    n = points.size
    best = U64(0xFFFFFFFFFFFFFFFF)
    bi = 0
    for j in range(probes):
        h = fmix64(key + U64(j) * GOLDEN)
        i = start[h >> shift]
        while i < n and points[i] < h:
            i += 1
        p = points[i] if i < n else points[0]
        dist = p - h  # clockwise distance, wrapping modulo 2**64
        if dist < best:
            best = dist
            bi = owners[i if i < n else 0]
    return bi


@njit(cache=True)
def multiprobe_many(digests, probes, points, owners, start, shift, out):
    for i in range(digests.size):
        out[i] = _multiprobe(digests[i], probes, points, owners, start, shift)


@njit("int64(uint64, int64, uint64[::1], int64[::1], int64[::1], uint64)", cache=True)
def multiprobe_one(digest, probes, points, owners, start, shift):
    return _multiprobe(digest, probes, points, owners, start, shift)
