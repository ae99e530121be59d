"""Compiled loops for the product models (nginx, HAProxy, Envoy): key hashes over
a buffer of many keys, and the batch lookups.

Arithmetic stays in ``uint64`` (32-bit values are masked with ``M32``): numba
promotes a mix of signed and unsigned 64-bit integers to float.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._kernels import successor_index

U64 = np.uint64
M32 = U64(0xFFFFFFFF)
_CRC_POLY = U64(0xEDB88320)


# -- CRC-32 (IEEE, reflected; the same function as zlib.crc32) -----------------
def _crc_table() -> np.ndarray:
    t = np.zeros(256, dtype=np.uint64)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        t[n] = c
    return t


CRC_TABLE = _crc_table()


@njit(cache=True, inline="always")
def _gf2_mult(a, b):
    """a * b modulo the CRC-32 polynomial (bit-reflected, x^0 is the top bit)."""
    m = U64(0x80000000)
    p = U64(0)
    while True:
        if a & m:
            p ^= b
            if (a & (m - U64(1))) == U64(0):
                break
        m >>= U64(1)
        if b & U64(1):
            b = (b >> U64(1)) ^ _CRC_POLY
        else:
            b >>= U64(1)
    return p


def _gf2_mult_py(a: int, b: int) -> int:
    m, p = 0x80000000, 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ 0xEDB88320 if b & 1 else b >> 1


def _x2n_table() -> np.ndarray:
    """x^(2^k) modulo the polynomial, k = 0..31 (zlib's x2n_table)."""
    t = [1 << 30]  # x^1
    for _ in range(31):
        t.append(_gf2_mult_py(t[-1], t[-1]))
    return np.array(t, dtype=np.uint64)


X2N = _x2n_table()


@njit(cache=True, inline="always")
def _x8n(n, x2n):
    """x^(8 n) modulo the polynomial: what appending n zero bytes multiplies a CRC by."""
    p = U64(0x80000000)  # x^0
    k = 3
    while n:
        if n & 1:
            p = _gf2_mult(x2n[k & 31], p)
        n >>= 1
        k += 1
    return p


@njit(cache=True, inline="always")
def _crc_decimal(v, table):
    """CRC-32 of the decimal digits of v (v >= 1), as nginx's "%ui" prints them."""
    digits = np.empty(20, dtype=np.uint64)
    nd = 0
    while v:
        digits[nd] = U64(v % 10) + U64(48)
        v //= 10
        nd += 1
    c = M32
    for i in range(nd - 1, -1, -1):
        c = table[(c ^ digits[i]) & U64(0xFF)] ^ (c >> U64(8))
    return c ^ M32


# -- nginx ---------------------------------------------------------------------
@njit(cache=True)
def nginx_chash_many(digests, points, owners, down, any_down, out, tries):
    """``hash KEY consistent``: the first point at or after crc32(key), wrapping; a
    point whose server is down passes the key to the next point. ``tries`` (same
    size as ``out``, or empty) receives how many points were passed over."""
    n = points.size
    keep = tries.size > 0
    for i in range(digests.size):
        j = successor_index(points, digests[i] & M32)
        if j == n:
            j = 0
        o = owners[j]
        t = 0
        if any_down:
            while down[o] and t < n:  # every point passed over: all down (no answer)
                t += 1
                o = owners[(j + t) % n]
        out[i] = o
        if keep:
            tries[i] = t


@njit(cache=True, inline="always")
def _walk(w, cum):
    """The peer a weight offset lands on: the first i with w < cum[i]."""
    lo = 0
    hi = cum.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[mid] <= w:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def nginx_hash_many(digests, first, cum, down, any_down, x2n, table, out, tries):
    """``hash KEY`` (no consistent). ``digests`` hold crc32(key) in the low 32 bits
    and the key's length above them. Attempt r (from 0) hashes the decimal r
    before the key (none at r = 0) and adds ((crc >> 16) & 0x7fff) to a running
    sum; the sum modulo the total weight walks the peers' weights; a down peer
    means another attempt. ``first[v]`` is the peer of the first attempt."""
    total = cum[cum.size - 1]
    keep = tries.size > 0
    for i in range(digests.size):
        d = digests[i]
        crc = d & M32
        acc = (crc >> U64(16)) & U64(0x7FFF)
        p = first[acc]
        p0 = p
        t = 0
        if any_down and down[p]:
            shift = _x8n(d >> U64(32), x2n)
            while down[p]:
                if t == NGINX_TRIES:  # nginx's round robin from here on
                    p = _next_up(down, p0)
                    t += 1
                    break
                t += 1
                c = _gf2_mult(shift, _crc_decimal(U64(t), table)) ^ crc
                acc = (acc + ((c >> U64(16)) & U64(0x7FFF))) & M32
                p = _walk(np.int64(acc % U64(total)), cum)
        out[i] = p
        if keep:
            tries[i] = t


IPHASH_MOD = 6271


#: attempts nginx makes past down peers before it falls back to round robin: a key
#: still on a down peer after them (tries > 20) is given to the next peer that is up
#: after the first one tried, the model's stand-in for round robin (which depends on
#: earlier traffic); the rehash sequence can cycle among down peers forever (ip_hash's
#: affine map has fixed points), so the loop must stop here
NGINX_TRIES = 20


@njit(cache=True, inline="always")
def _next_up(down, p0):
    n = down.size
    for k in range(1, n + 1):
        j = (p0 + k) % n
        if not down[j]:
            return j
    return p0


@njit(cache=True)
def nginx_iphash_many(digests, first, cum, down, any_down, mul3, mul16, out, tries):
    """``ip_hash``. ``digests`` hold c = sum(b[i] * 113^(L-1-i)) mod 6271 over the
    address bytes b (L = 3 for IPv4, 16 for IPv6) and L << 32: folding the bytes
    into h is h -> (h * 113^L + c) mod 6271, starting from 89, once an attempt.
    ``first[c]`` is the first attempt's peer for L = 3, ``first[6271 + c]`` for
    L = 16; the peer of a hash is where h % total_weight falls in ``cum``."""
    keep = tries.size > 0
    tw = cum[cum.size - 1]
    for i in range(digests.size):
        d = digests[i]
        c = np.int64((d & M32) % U64(IPHASH_MOD))
        v6 = (d >> U64(32)) == U64(16)
        p = first[c + IPHASH_MOD] if v6 else first[c]
        p0 = p
        t = 0
        if any_down and down[p]:
            mul = mul16 if v6 else mul3
            h = (89 * mul + c) % IPHASH_MOD
            while down[p]:
                if t == NGINX_TRIES:  # nginx's round robin from here on
                    p = _next_up(down, p0)
                    t += 1
                    break
                t += 1
                h = (h * mul + c) % IPHASH_MOD
                p = _walk(h % tw, cum)
        out[i] = p
        if keep:
            tries[i] = t


# -- HAProxy ---------------------------------------------------------------------
@njit(cache=True, inline="always")
def _rotl32(x, r):
    return ((x << U64(r)) | (x >> U64(32 - r))) & M32


@njit(cache=True, inline="always")
def _haproxy_hash(data, start, end, fn):
    """HAProxy's string hash of data[start:end]. fn: 0 sdbm, 1 djb2, 2 wt6, 3 crc32."""
    if fn == 0:
        h = U64(0)
        for j in range(start, end):
            h = (U64(data[j]) + (h << U64(6)) + (h << U64(16)) - h) & M32
    elif fn == 1:
        h = U64(5381)
        for j in range(start, end):
            h = ((h << U64(5)) + h + U64(data[j])) & M32
    elif fn == 2:
        h0 = U64(0xA53C965A)
        h1 = U64(0x5CA6953A)
        s0 = 6
        s1 = 18
        for j in range(start, end):
            c = U64(data[j])
            h0 = ~(h0 ^ c) & M32
            h1 = ~(h1 + c) & M32
            t = _rotl32(h1, s0) if s0 else h1
            h1 = _rotl32(h0, s1) if s1 else h0
            h0 = t
            t = ((h0 >> U64(16)) ^ h1) & U64(0xFFFF)
            s0 = np.int64(t & U64(0x1F))
            s1 = np.int64(t >> U64(11))
        h = h0 ^ h1
    else:
        h = M32
        for j in range(start, end):
            h = CRC_TABLE[(h ^ U64(data[j])) & U64(0xFF)] ^ (h >> U64(8))
        h ^= M32
    return h


@njit(cache=True)
def haproxy_hash_buffer(data, ends, fn, out):
    """HAProxy's string hashes over keys packed in ``data`` (key i ends at ends[i])."""
    start = 0
    for i in range(ends.size):
        out[i] = _haproxy_hash(data, start, ends[i], fn)
        start = ends[i]


@njit(cache=True, inline="always")
def full_hash(a):
    """HAProxy's full_hash(): Bob Jenkins' 32-bit integer avalanche, then a
    multiplication by 3221225473 (all modulo 2^32)."""
    a = ((a + U64(0x7ED55D16)) + (a << U64(12))) & M32
    a = ((a ^ U64(0xC761C23C)) ^ (a >> U64(19))) & M32
    a = ((a + U64(0x165667B1)) + (a << U64(5))) & M32
    a = ((a + U64(0xD3A2646C)) ^ (a << U64(9))) & M32
    a = ((a + U64(0xFD7046C5)) + (a << U64(3))) & M32
    a = ((a ^ U64(0xB55A4F09)) ^ (a >> U64(16))) & M32
    return (a * U64(3221225473)) & M32


@njit(cache=True)
def haproxy_hash_one(key, fn, avalanche):
    """One key (``bytes``): HAProxy's string hash, then full_hash() if avalanche."""
    h = _haproxy_hash(key, 0, len(key), fn)
    return full_hash(h) if avalanche else h


@njit(cache=True)
def full_hash_many(values, out):
    for i in range(values.size):
        out[i] = full_hash(values[i] & M32)


@njit(cache=True)
def haproxy_nearest_many(digests, points, owners, out):
    """``hash-type consistent``: the nearer of the points just before and at or
    after the hash (distances modulo 2^32; a tie goes to the one before)."""
    n = points.size
    for i in range(digests.size):
        h = digests[i] & M32
        nx = successor_index(points, h)
        if nx == n:
            nx = 0
        pv = nx - 1 if nx > 0 else n - 1
        dp = (h - points[pv]) & M32
        dn = (points[nx] - h) & M32
        out[i] = owners[pv] if dp <= dn else owners[nx]


@njit(cache=True)
def haproxy_map_many(digests, table, out):
    """``hash-type map-based``: map[hash % total eweight]."""
    m = U64(table.size)
    for i in range(digests.size):
        out[i] = table[(digests[i] & M32) % m]


@njit(cache=True)
def haproxy_recalc_map(eweights, tot):
    """lb_map.c's recalc_server_map(): the server of each of the tot slots, by
    weighted scores; among equal scores the first declared server wins."""
    n = eweights.size
    score = np.zeros(n, dtype=np.int64)
    out = np.empty(tot, dtype=np.intp)
    for o in range(tot):
        best = -1
        mx = 0
        for j in range(n):
            if tot == 1:
                best = j
                break
            score[j] += eweights[j]
            v = (score[j] + tot) // tot
            if best < 0 or v > mx:
                mx = v
                best = j
        out[o] = best
        score[best] -= tot
    return out


# -- Envoy -------------------------------------------------------------------------
_MURMUR_MUL = U64(0xC6A4A7935BD1E995)


@njit(cache=True, inline="always")
def _shift_mix(v):
    return v ^ (v >> U64(47))


@njit(cache=True)
def murmur2_64_buffer(data, ends, seed, out):
    """Envoy's MurmurHash::murmurHash2_64 (libstdc++'s 64-bit _Hash_bytes)."""
    start = 0
    for i in range(ends.size):
        end = ends[i]
        ln = U64(end - start)
        h = seed ^ (ln * _MURMUR_MUL)
        aligned = start + ((end - start) & ~7)
        for p in range(start, aligned, 8):
            v = U64(0)
            for b in range(7, -1, -1):
                v = (v << U64(8)) | U64(data[p + b])
            h ^= _shift_mix(v * _MURMUR_MUL) * _MURMUR_MUL
            h *= _MURMUR_MUL
        rest = end - aligned
        if rest:
            v = U64(0)
            for b in range(rest - 1, -1, -1):
                v = (v << U64(8)) | U64(data[aligned + b])
            h ^= v
            h *= _MURMUR_MUL
        h = _shift_mix(h) * _MURMUR_MUL
        out[i] = _shift_mix(h)
        start = end


@njit(cache=True)
def envoy_maglev_populate(offsets, skips, weights, max_weight, m):
    """maglev_lb.cc's table build: hosts (in key order) take turns; a host whose
    weight is below the largest sits out an iteration while iteration x weight
    is below its target (the target grows by the largest weight a pick)."""
    n = offsets.size
    nxt = np.zeros(n, dtype=np.uint64)
    target = np.zeros(n, dtype=np.float64)
    table = np.full(m, -1, dtype=np.int32)
    filled = 0
    iteration = 1
    while filled < m:
        for i in range(n):
            if filled >= m:
                break
            if np.float64(iteration) * weights[i] < target[i]:
                continue
            target[i] += max_weight
            c = (offsets[i] + skips[i] * nxt[i]) % U64(m)
            while table[c] >= 0:
                nxt[i] += U64(1)
                c = (offsets[i] + skips[i] * nxt[i]) % U64(m)
            table[c] = i
            nxt[i] += U64(1)
            filled += 1
        iteration += 1
    return table
