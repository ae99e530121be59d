"""The simulator's compiled core: event heap, random streams, routing, metrics.

Everything here is numba ``@njit(cache=True)`` over flat arrays, because the
per-request work (two heap operations, a routing decision, a few random draws,
streamed metrics) has to cost about a microsecond for a million requests to
simulate in seconds; a Python event loop costs tens of microseconds a request.

State lives in a handful of arrays owned by ``simulator._State``; the field
indices below name their rows and cells. The loop (``run``) is resumable: it
returns a status whenever it needs Python (a topology event, more slots, more
fresh keys, the next block of arrival times, a decision from a Python-level
balancer, a full log of cache requests, or simply a progress tick) and carries
on from where it stopped on the next call.

With caches on, the loop does not look anything up: it logs each routed
request's (backend, content key, time) in order into ``clog``/``clog_t`` and
returns ``ST_CACHE_FLUSH`` when the log is nearly full. Python feeds the log to
the backends' caches (``NodeCaches.request_chunk``: the compiled LRU/FIFO, or
libCacheSim's policies) and empties it, and does so again before each topology
event and at the end, so every cache sees exactly its requests in the loop's
order, with a crash's emptying between the right two. A hit or miss changes
nothing in the simulation (service times do not depend on it), so deciding it
in batches is exact.

Random numbers come from xoshiro256** streams kept in a ``uint64`` array
rather than from numpy's ``Generator``: the streams are resumable across
calls, cheap to draw from in compiled code, and give the same numbers on every
numpy version (numpy does not promise stable distribution algorithms).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ...strategies._kernels import successor_index
from ...strategies._live import POLICIES, ROUTE_ON

__all__ = ["run", "apply_event", "prefill", "seed_streams", "quantiles", "HIST_BINS"]

U64 = np.uint64
_INV53 = 1.0 / 9007199254740992.0

# -- status codes returned by run ---------------------------------------------
ST_DONE = 0  # nothing left to simulate
ST_YIELD = 1  # event budget used up (progress tick); call again
ST_TOPO = 2  # the next topology event is due: apply it, call again
ST_GROW = 3  # no free session slot: grow the slot arrays, call again
ST_REFILL = 4  # the block of fresh hash keys is used up: refill, call again
ST_ARRIVALS = 5  # the block of arrival times is used up: next block, call again
ST_PICK = 6  # a Python balancer must pick a backend for gi[G_PENDING]
ST_CACHE_FLUSH = 7  # the log of cache requests is nearly full: feed it to the caches

# -- random streams (rows of the rng array) -----------------------------------
R_ARRIVAL = 0  # inter-arrival gaps, client of a session, session length
R_THINK = 1
R_SERVICE = 2
R_BALANCER = 3
R_IPCHANGE = 4
R_KEY = 5
N_STREAMS = 6

# -- distribution codes --------------------------------------------------------
D_FIXED = 0
D_EXP = 1
D_LOGNORMAL = 2
D_PARETO = 3
D_EMPIRICAL = 4  # service times replayed from an array, in order, cycling

#: topology event kinds; an event's code is its index here
EVENT_KINDS = ("crash", "recover", "join", "drain")

# -- policies -------------------------------------------------------------------
# Each code is the name's index in the one list of names (strategies/_live.py),
# so the Python side maps a name to its code with ``POLICIES.index``.
P_ROUND_ROBIN = POLICIES.index("round-robin")
P_RANDOM = POLICIES.index("random")
P_LEAST_CONN = POLICIES.index("least-connections")
P_P2C = POLICIES.index("p2c")
P_HASH = POLICIES.index("hash")  # the backend a keyed strategy maps the routing key to
P_BOUNDED = POLICIES.index("bounded-load")  # consistent hashing with bounded loads on a ring
P_PYTHON = POLICIES.index("python")

# routing key of hashing policies: 0 for none, else 1 + the index in ROUTE_ON
ROUTE_ON_CODES = ("",) + ROUTE_ON
ON_NONE = 0
ON_IP = ROUTE_ON_CODES.index("ip")
ON_SESSION = ROUTE_ON_CODES.index("session")
ON_USER = ROUTE_ON_CODES.index("user")
ON_KEY = ROUTE_ON_CODES.index("key")

# -- backend int fields: bi[field, backend] ------------------------------------
B_UP = 0  # 1 while present and not crashed (draining backends are up)
B_DRAIN = 1
B_WORKERS = 2
B_BUSY = 3
B_OUT = 4  # outstanding: queued + in service
B_QHEAD = 5
B_QTAIL = 6
B_QLEN = 7
B_SERVED = 8
B_SERVED_WIN = 9
B_FAILED = 10
B_EVER = 11  # 1 once the backend has been up
B_PEAK = 12  # most outstanding requests ever
B_OFFERED = 13  # requests committed here while measuring (see _offer)
B_OUT0 = 14  # outstanding when measuring started
B_OUT1 = 15  # outstanding when measuring stopped
NB_I = 16
# backend float fields
BF_SPEED = 0
BF_T = 1  # last time the integrals below were brought up to date
BF_OUT_INT = 2  # integral of outstanding over measured time
BF_BUSY_INT = 3  # integral of busy workers over measured time
BF_OUT_SNAP = 4  # BF_OUT_INT at the end of the last window (the load series)
NB_F = 5

# -- session slot int fields: si[field, slot] ----------------------------------
S_FLAGS = 0
S_CLIENT = 1
S_REMAIN = 2  # requests still to issue
S_HOME = 3  # backend holding the local state, -1 when there is none
S_COOKIE = 4  # backend the affinity cookie names, -1 when none
S_BACKEND = 5  # backend of the request in flight
S_GEN = 6  # bumped whenever a pending event of the slot becomes stale
S_NEXT = 7  # queue link, or free-list link
S_LAST = 8  # backend that served (or was routed) the last request, -1 before
S_KEYB = 9  # backend the slot's routing key maps to (ip and session keys)
S_NATG = 10  # NAT group of the client, -1 when it has its own address
S_SESSION = 11  # the session's sequence number
S_IP = 12  # current address id (static ids < n_static_ip, fresh ones above)
NS_I = 13
# slot float fields
SF_ISSUE = 0  # when the request in flight was issued
SF_LAST = 1  # when the state was last touched (TTL) / the last request issued
NS_F = 2

# slot flag bits
F_ACTIVE = 1
F_INFLIGHT = 2
F_STATE = 4  # the session has state (somewhere)
F_LOST = 8  # the session has lost its state at least once
F_IPCH = 16  # the client's address changed since the last request
F_IPCH_SEEN = 32  # counted among sessions whose address changed
F_IPCH_LOST = 64  # lost its state on an address change
F_QUEUED = 128
F_AT_CRASH = 256  # active on another backend at a crash; cleared by its next request

# event kinds (the low two bits of h_k; the slot generation above them)
EV_ISSUE = 0
EV_DONE = 1
EV_ARRIVAL = 2

# -- global ints gi[...] ---------------------------------------------------------
G_HEAPN = 0
G_FREE = 1  # free-list head
G_NFREE = 2
G_ACTIVE = 3  # active sessions
G_ISSUED = 4
G_DONE = 5
G_FAILED = 6
G_SESSIONS = 7
G_RR = 8
G_LC = 9
G_MAXOUT = 10
G_SUMOUT = 11  # outstanding over up backends
G_NUP = 12
G_NELIG = 13
G_PENDING = 14  # slot waiting for a Python pick, -1 when none
G_PICK = 15
G_LOST_CRASH = 16
G_LOST_REROUTE = 17
G_LOST_IP = 18
G_LOST_TTL = 19
G_STATE_LOSSES = 20  # every loss event, a session can lose state more than once
G_IPCH_SESSIONS = 21
G_IPCH_LOST_SESSIONS = 22
G_CLOG_N = 23  # entries in the log of cache requests (clog, clog_t)
G_BLK_NEXT = 24  # next fresh key id to hand out
G_BLK_END = 25  # one past the last id the block covers
G_BLK_BASE = 26  # id of blk_digest[0]
G_ARR_POS = 27
G_ARR_NEED = 28  # 1: need the next arrivals block; 2: block loaded, schedule it
G_EMP_POS = 29
G_EVENTS = 30
G_STOPPED = 31
G_PEAKOUT = 32
G_CRASH_PINNED = 33
G_CRASH_LOST = 34
G_REPINS = 35  # cookie pointed at a dead backend: re-pinned
G_NAT_REQ = 36
G_SUMOUT_ELIG = 37
G_MEASURING = 38
G_WINDOWS = 39
G_NEXT_SESSION = 40  # sequence number of the next session
G_NEXT_IP = 41  # id of the next fresh address when addresses are not hashed
G_ARR_MORE = 42  # 1 while more arrival blocks may follow
G_ISSUED_MEASURED = 43
G_DONE_MEASURED = 44
G_LAST_KEY = 45  # content key of the request being routed
G_LAND_N = 46  # requests whose landing load was measured
G_SER_N = 47  # rows of the load series in use
G_BL_N = 48  # bounded-load picks while measuring
G_BL_OFF = 49  # of those, sent past the key's hash owner
G_CRASH_ACTIVE = 50  # active sessions already served once, at crash instants
G_CRASH_OTHERS_LOST = 51  # active on another backend at a crash, lost state at the next request
NG_I = 52

# -- global floats gf[...] --------------------------------------------------------
GF_NOW = 0
GF_TLAST = 1  # last time the imbalance integrals were brought up to date
GF_WIN_END = 2
GF_WIN_INT_MAX = 3
GF_WIN_INT_MEAN = 4
GF_OUT_RATIO_SUM = 5  # sum over windows of ratio * window length
GF_OUT_RATIO_W = 6  # total length of windows with a ratio
GF_OUT_RATIO_WORST = 7
GF_SRV_RATIO_SUM = 8
GF_SRV_RATIO_W = 9
GF_SRV_RATIO_WORST = 10
GF_TOT_INT_MAX = 11
GF_TOT_INT_MEAN = 12
GF_LAT_SUM = 13
GF_LAT_MAX = 14
GF_STOP_T = 15  # when new requests stopped (end of measurement)
GF_WIN_START = 16
GF_NAT_LOAD_SUM = 17
GF_ALL_LOAD_SUM = 18
GF_LAST_DONE = 19
GF_NEXT_TOPO = 20
NG_F = 21

# -- configuration ints ci[...] and floats cf[...] (read-only in the loop) ----------
C_POLICY = 0
C_STICKY = 1
C_D = 2
C_ON = 3
C_EXTERNAL = 4
C_LEN_KIND = 5
C_SVC_KIND = 6
C_THINK_KIND = 7
C_POISSON = 8  # 1: Poisson arrivals; 0: arrival blocks
C_CLIENTS = 9
C_MAXREQ = 10  # stop issuing after this many requests, 0 for no limit
C_QLIMIT = 11  # queue limit per backend, 0 for none
C_NSTATIC = 12  # entries in the static hash table
C_CACHE = 13  # 1: each backend owns a cache: routed requests' content keys are logged
NC_I = 15
CF_RATE = 0  # session arrival rate (Poisson)
CF_LEN_A = 1
CF_LEN_B = 2
CF_SVC_A = 3
CF_SVC_B = 4
CF_THINK_A = 5
CF_THINK_B = 6
CF_RTT = 7
CF_TTL = 8
CF_IPCH_RATE = 9
CF_EPS = 10
CF_DURATION = 11  # stop issuing at this time, inf for none
CF_WARMUP = 12
CF_WIN_LEN = 13
NC_F = 16

# -- latency histogram: log-spaced bins, 1 us to 1e6 s -----------------------------
HIST_MIN_LOG10 = -6.0
HIST_PER_DECADE = 100  # bin width 2.3 %: quantiles within ~1.2 %
HIST_DECADES = 12
HIST_BINS = HIST_PER_DECADE * HIST_DECADES + 2  # plus under- and overflow


# ==================================================================================
# random streams: xoshiro256**
# ==================================================================================
@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << U64(k)) | (x >> U64(64 - k))


@njit(cache=True, inline="always")
def _next(rng, s):
    s0 = rng[s, 0]
    s1 = rng[s, 1]
    s2 = rng[s, 2]
    s3 = rng[s, 3]
    result = _rotl(s1 * U64(5), 7) * U64(9)
    t = s1 << U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    rng[s, 0] = s0
    rng[s, 1] = s1
    rng[s, 2] = s2
    rng[s, 3] = s3
    return result


@njit(cache=True, inline="always")
def _uniform(rng, s):
    """Uniform in (0, 1): never 0, so logarithms and powers are safe."""
    return (np.float64(_next(rng, s) >> U64(11)) + 0.5) * _INV53


@njit(cache=True, inline="always")
def _randint(rng, s, n):
    """Uniform in [0, n)."""
    i = np.int64(_uniform(rng, s) * n)
    return i if i < n else n - 1


@njit(cache=True, inline="always")
def _normal(rng, s):
    u1 = _uniform(rng, s)
    u2 = _uniform(rng, s)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(cache=True)
def _draw(rng, s, kind, a, b):
    """One draw. fixed: a; exp: mean a; lognormal: mean a, sigma b; pareto: mean a, alpha b."""
    if kind == D_EXP:
        return -a * np.log(_uniform(rng, s))
    if kind == D_LOGNORMAL:
        mu = np.log(a) - 0.5 * b * b
        return np.exp(mu + b * _normal(rng, s))
    if kind == D_PARETO:
        xm = a * (b - 1.0) / b
        return xm * _uniform(rng, s) ** (-1.0 / b)
    return a


def seed_streams(seed: int) -> np.ndarray:
    """Independent xoshiro256** states for every stream, from numpy's SeedSequence."""
    words = np.random.SeedSequence(seed).generate_state(N_STREAMS * 4, dtype=np.uint64)
    words[words == 0] = 1  # an all-zero state is the one xoshiro cannot leave
    return words.reshape(N_STREAMS, 4).copy()


# ==================================================================================
# event heap: binary min-heap on time
# ==================================================================================
@njit(cache=True)
def _push(gi, h_t, h_s, h_k, t, slot, kind, gen):
    i = gi[G_HEAPN]
    gi[G_HEAPN] = i + 1
    k = gen * 4 + kind
    while i > 0:
        p = (i - 1) >> 1
        if h_t[p] <= t:
            break
        h_t[i] = h_t[p]
        h_s[i] = h_s[p]
        h_k[i] = h_k[p]
        i = p
    h_t[i] = t
    h_s[i] = slot
    h_k[i] = k


@njit(cache=True)
def _pop(gi, h_t, h_s, h_k):
    """Remove the root; the caller read it from index 0 first."""
    n = gi[G_HEAPN] - 1
    gi[G_HEAPN] = n
    if n == 0:
        return
    t = h_t[n]
    s = h_s[n]
    k = h_k[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and h_t[c + 1] < h_t[c]:
            c += 1
        if h_t[c] >= t:
            break
        h_t[i] = h_t[c]
        h_s[i] = h_s[c]
        h_k[i] = h_k[c]
        i = c
    h_t[i] = t
    h_s[i] = s
    h_k[i] = k


# ==================================================================================
# streamed metrics
# ==================================================================================
@njit(cache=True, inline="always")
def _hist_add(hist, x):
    if x <= 0.0:
        hist[0] += 1
        return
    j = np.int64(np.floor((np.log10(x) - HIST_MIN_LOG10) * HIST_PER_DECADE))
    if j < 0:
        hist[0] += 1
    elif j >= HIST_BINS - 2:
        hist[HIST_BINS - 1] += 1
    else:
        hist[j + 1] += 1


def quantiles(hist: np.ndarray, qs, lo: float, hi: float) -> list[float | None]:
    """Quantiles from the histogram: the geometric middle of the bin, clamped to [lo, hi]."""
    total = int(hist.sum())
    if total == 0:
        return [None for _ in qs]
    cum = np.cumsum(hist)
    out: list[float | None] = []
    for q in qs:
        rank = min(max(int(np.ceil(q * total)), 1), total)
        j = int(np.searchsorted(cum, rank))
        if j == 0:
            v = lo
        elif j == hist.size - 1:
            v = hi
        else:
            v = 10.0 ** (HIST_MIN_LOG10 + (j - 1 + 0.5) / HIST_PER_DECADE)
        out.append(float(min(max(v, lo), hi)))
    return out


@njit(cache=True)
def _integrate(gi, gf, bi, bf, cf, ser, t):
    """Bring the imbalance integrals up to ``t``, closing every window that ends before."""
    t0 = gf[GF_TLAST]
    if t <= t0:
        return
    if gi[G_MEASURING] == 0:
        gf[GF_TLAST] = t
        return
    while True:
        end = gf[GF_WIN_END]
        t1 = t if t < end else end
        dt = t1 - t0
        if dt > 0.0 and gi[G_NUP] > 0:
            mx = np.float64(gi[G_MAXOUT])
            mean = np.float64(gi[G_SUMOUT]) / gi[G_NUP]
            gf[GF_WIN_INT_MAX] += mx * dt
            gf[GF_WIN_INT_MEAN] += mean * dt
        t0 = t1
        if t < end:
            break
        _close_window(gi, gf, bi, bf, ser, end)
        gf[GF_WIN_END] = end + cf[CF_WIN_LEN]
    gf[GF_TLAST] = t


@njit(cache=True)
def _close_window(gi, gf, bi, bf, ser, end):
    """Fold the window ending at ``end`` into the running imbalance figures."""
    length = end - gf[GF_WIN_START]
    if length > 0.0:
        _record_load(gi, bi, bf, ser, end)
        m = gf[GF_WIN_INT_MEAN]
        if m > 0.0:
            r = gf[GF_WIN_INT_MAX] / m
            gf[GF_OUT_RATIO_SUM] += r * length
            gf[GF_OUT_RATIO_W] += length
            if r > gf[GF_OUT_RATIO_WORST]:
                gf[GF_OUT_RATIO_WORST] = r
        gf[GF_TOT_INT_MAX] += gf[GF_WIN_INT_MAX]
        gf[GF_TOT_INT_MEAN] += m
        mx = 0
        tot = 0
        n = 0
        for b in range(bi.shape[1]):
            if bi[B_UP, b] == 1:
                v = bi[B_SERVED_WIN, b]
                tot += v
                n += 1
                if v > mx:
                    mx = v
        if tot > 0:
            r = mx / (tot / n)
            gf[GF_SRV_RATIO_SUM] += r * length
            gf[GF_SRV_RATIO_W] += length
            if r > gf[GF_SRV_RATIO_WORST]:
                gf[GF_SRV_RATIO_WORST] = r
        gi[G_WINDOWS] += 1
    for b in range(bi.shape[1]):
        bi[B_SERVED_WIN, b] = 0
    gf[GF_WIN_INT_MAX] = 0.0
    gf[GF_WIN_INT_MEAN] = 0.0
    gf[GF_WIN_START] = end


@njit(cache=True)
def _record_load(gi, bi, bf, ser, end):
    """Append the window ending at ``end`` to the load series.

    ``ser[row, 0]`` is the window's end, ``ser[row, 1 + b]`` the integral of
    backend ``b``'s outstanding requests over the window (Python divides by
    the length). When every row is used, neighbouring rows are merged in
    pairs, so the series keeps the whole measured time at half the resolution.
    """
    n = gi[G_SER_N]
    if n == ser.shape[0]:  # full (an even number of rows): merge neighbours in pairs
        n //= 2
        for i in range(n):
            ser[i, 0] = ser[2 * i + 1, 0]
            for c in range(1, ser.shape[1]):
                ser[i, c] = ser[2 * i, c] + ser[2 * i + 1, c]
    ser[n, 0] = end
    for b in range(bi.shape[1]):  # windows close only while measuring
        cur = bf[BF_OUT_INT, b]
        if end > bf[BF_T, b]:
            cur += bi[B_OUT, b] * (end - bf[BF_T, b])
        ser[n, 1 + b] = cur - bf[BF_OUT_SNAP, b]
        bf[BF_OUT_SNAP, b] = cur
    gi[G_SER_N] = n + 1


@njit(cache=True)
def _touch(gi, bi, bf, b, t):
    """Bring backend ``b``'s outstanding and busy integrals up to ``t``."""
    t0 = bf[BF_T, b]
    if gi[G_MEASURING] == 1 and t > t0:
        dt = t - t0
        bf[BF_OUT_INT, b] += bi[B_OUT, b] * dt
        bf[BF_BUSY_INT, b] += bi[B_BUSY, b] * dt
    bf[BF_T, b] = t


@njit(cache=True)
def _out_add(gi, bi, lvl, b, delta):
    """Change backend ``b``'s outstanding count by +-1, keeping the max via level counts."""
    v = bi[B_OUT, b]
    w = v + delta
    bi[B_OUT, b] = w
    if bi[B_UP, b] == 1:
        lvl[v] -= 1
        lvl[w] += 1
        gi[G_SUMOUT] += delta
        if bi[B_DRAIN, b] == 0:
            gi[G_SUMOUT_ELIG] += delta
        if w > gi[G_MAXOUT]:
            gi[G_MAXOUT] = w
            if w > gi[G_PEAKOUT]:
                gi[G_PEAKOUT] = w
        elif v == gi[G_MAXOUT] and lvl[v] == 0:
            gi[G_MAXOUT] = w
    if w > bi[B_PEAK, b]:
        bi[B_PEAK, b] = w


# ==================================================================================
# routing
# ==================================================================================
@njit(cache=True)
def _pick(policy, d, gi, bi, elig, rng, digest, keyb, ring_pts, ring_own, eps):  # noqa: C901 (a numba kernel)
    """A backend for one request under ``policy``; -1 when no backend is eligible."""
    n = gi[G_NELIG]
    if n == 0:
        return -1
    if policy == P_ROUND_ROBIN:
        i = gi[G_RR] % n
        gi[G_RR] = i + 1
        return elig[i]
    if policy == P_RANDOM:
        return elig[_randint(rng, R_BALANCER, n)]
    if policy == P_LEAST_CONN:
        start = gi[G_LC] % n  # rotate the scan so ties spread round-robin
        gi[G_LC] = start + 1
        best = elig[start]
        bo = bi[B_OUT, best]
        for j in range(1, n):
            b = elig[(start + j) % n]
            o = bi[B_OUT, b]
            if o < bo:
                best = b
                bo = o
        return best
    if policy == P_P2C:
        if d >= n:
            best = elig[_randint(rng, R_BALANCER, n)]
            bo = bi[B_OUT, best]
            for j in range(n):
                b = elig[j]
                if bi[B_OUT, b] < bo:
                    best = b
                    bo = bi[B_OUT, b]
            return best
        # d distinct candidates by a partial Fisher-Yates shuffle of a scratch copy
        best = -1
        bo = 0
        for j in range(d):
            k = j + _randint(rng, R_BALANCER, n - j)
            b = elig[k]
            elig[k] = elig[j]
            elig[j] = b
            o = bi[B_OUT, b]
            if best < 0 or o < bo:
                best = b
                bo = o
        return best
    if policy == P_HASH:
        return keyb
    if policy == P_BOUNDED:
        # Mirrokni, Thorup & Zadimoghaddam: walk the ring from the key's point to
        # the first backend whose load is under ceil((1 + eps) * average)
        total = gi[G_SUMOUT_ELIG] + 1
        cap = np.ceil((1.0 + eps) * total / n)
        m = ring_pts.size
        lo = successor_index(ring_pts, digest)
        owner = ring_own[lo % m]
        if gi[G_MEASURING] == 1:
            gi[G_BL_N] += 1
        for j in range(m):
            b = ring_own[(lo + j) % m]
            if bi[B_OUT, b] + 1 <= cap:
                if b != owner and gi[G_MEASURING] == 1:
                    gi[G_BL_OFF] += 1
                return b
        return owner
    return -2  # P_PYTHON: ask Python


# ==================================================================================
# the loop
# ==================================================================================
@njit(cache=True)
def _start_service(gi, bi, bf, si, cf, ci, rng, emp, h_t, h_s, h_k, s, b, t):
    _touch(gi, bi, bf, b, t)
    bi[B_BUSY, b] += 1
    kind = ci[C_SVC_KIND]
    if kind == D_EMPIRICAL:
        x = emp[gi[G_EMP_POS] % emp.size]
        gi[G_EMP_POS] += 1
    else:
        x = _draw(rng, R_SERVICE, kind, cf[CF_SVC_A], cf[CF_SVC_B])
    x = x / bf[BF_SPEED, b]
    if ci[C_EXTERNAL] == 1:
        x += cf[CF_RTT]
    _push(gi, h_t, h_s, h_k, t + x, s, EV_DONE, si[S_GEN, s])


@njit(cache=True)
def _lose(gi, si, s, cause):
    """Session ``s`` loses its state; count the session once, under its first cause."""
    gi[G_STATE_LOSSES] += 1
    f = si[S_FLAGS, s]
    if f & F_LOST == 0:
        si[S_FLAGS, s] = f | F_LOST
        gi[cause] += 1
    if cause == G_LOST_REROUTE and f & F_AT_CRASH != 0:
        gi[G_CRASH_OTHERS_LOST] += 1
    si[S_FLAGS, s] &= ~F_STATE
    si[S_HOME, s] = -1


@njit(cache=True)
def _next_request(gi, si, ci, cf, rng, h_t, h_s, h_k, s, t):
    """After a response or a failure: think, then the next request, or end the session."""
    si[S_REMAIN, s] -= 1
    if si[S_REMAIN, s] > 0 and gi[G_STOPPED] == 0:
        z = _draw(rng, R_THINK, ci[C_THINK_KIND], cf[CF_THINK_A], cf[CF_THINK_B])
        _push(gi, h_t, h_s, h_k, t + z, s, EV_ISSUE, si[S_GEN, s])
    else:
        _end_session(gi, si, s)


@njit(cache=True)
def _end_session(gi, si, s):
    si[S_FLAGS, s] = 0
    si[S_GEN, s] += 1
    si[S_NEXT, s] = gi[G_FREE]
    gi[G_FREE] = s
    gi[G_NFREE] += 1
    gi[G_ACTIVE] -= 1


@njit(cache=True)
def _fail(gi, si, s):
    gi[G_FAILED] += 1
    si[S_FLAGS, s] &= ~(F_INFLIGHT | F_QUEUED)
    si[S_GEN, s] += 1


@njit(cache=True)
def _stop(gi, gf, bi, bf, cf, ser, t):
    """Stop issuing requests: freeze the measurements at ``t``."""
    if gi[G_STOPPED] == 1:
        return
    _integrate(gi, gf, bi, bf, cf, ser, t)
    for b in range(bi.shape[1]):
        _touch(gi, bi, bf, b, t)
    if gi[G_MEASURING] == 1:
        _close_window(gi, gf, bi, bf, ser, t)
        for b in range(bi.shape[1]):
            bi[B_OUT1, b] = bi[B_OUT, b]
    gi[G_STOPPED] = 1
    gi[G_MEASURING] = 0
    gf[GF_STOP_T] = t


@njit(cache=True)
def _issue(gi, gf, bi, bf, si, sf, su, ci, cf, rng, elig, lvl, emp, hist,
           h_t, h_s, h_k, tab_d, tab_b, blk_d, blk_b, key_cdf, ring_pts, ring_own,
           nat_req, s, t, clog, clog_t):
    """Session ``s`` issues a request at ``t``; returns False when Python must pick."""
    f = si[S_FLAGS, s]
    # the address may have changed since the last request (mobile handover)
    rate = cf[CF_IPCH_RATE]
    if rate > 0.0 and si[S_LAST, s] >= 0:
        if _uniform(rng, R_IPCHANGE) < -np.expm1(-rate * (t - sf[SF_LAST, s])):
            f |= F_IPCH
            si[S_FLAGS, s] = f
            if ci[C_ON] == ON_IP:
                i = gi[G_BLK_NEXT]
                gi[G_BLK_NEXT] = i + 1
                j = i - gi[G_BLK_BASE]
                su[s] = blk_d[j]
                si[S_KEYB, s] = blk_b[j]
                si[S_IP, s] = ci[C_NSTATIC] + i
            else:
                si[S_IP, s] = ci[C_NSTATIC] + gi[G_NEXT_IP]
                gi[G_NEXT_IP] += 1
            si[S_NATG, s] = -1  # a new address is the client's own
    # idle too long: the state expired
    if f & F_STATE != 0 and t - sf[SF_LAST, s] > cf[CF_TTL]:
        _lose(gi, si, s, G_LOST_TTL)
    # the routing key
    digest = su[s]
    keyb = si[S_KEYB, s]
    on = ci[C_ON]
    if on == ON_USER:
        c = si[S_CLIENT, s]
        digest = tab_d[c]
        keyb = tab_b[c]
    elif on == ON_KEY:
        k = _content_key(gi, rng, key_cdf)
        digest = tab_d[k]
        keyb = tab_b[k]
    if on != ON_KEY and ci[C_CACHE] == 1:  # the content key the backend's cache looks up
        _content_key(gi, rng, key_cdf)
    # cookie affinity: a live cookie backend wins (draining ones still serve their sessions)
    b = -1
    cookie = si[S_COOKIE, s]
    sticky = ci[C_STICKY] == 1
    if sticky and cookie >= 0 and bi[B_UP, cookie] == 1:
        b = cookie
    else:
        if sticky and cookie >= 0:
            gi[G_REPINS] += 1
        b = _pick(ci[C_POLICY], ci[C_D], gi, bi, elig, rng, digest, keyb, ring_pts, ring_own,
                  cf[CF_EPS])
        if b == -2:
            gi[G_PENDING] = s
            return False
        if sticky:
            si[S_COOKIE, s] = b
    _route_to(gi, gf, bi, bf, si, sf, ci, cf, rng, lvl, emp, h_t, h_s, h_k, nat_req, s, b, t,
              clog, clog_t)
    return True


@njit(cache=True, inline="always")
def _content_key(gi, rng, key_cdf):
    """Draw the request's content key (Zipf popularity) into gi[G_LAST_KEY]."""
    u = _uniform(rng, R_KEY)
    k = np.searchsorted(key_cdf, u)
    if k >= key_cdf.size:
        k = key_cdf.size - 1
    gi[G_LAST_KEY] = k
    return k


@njit(cache=True, inline="always")
def _cache_request(gi, ci, clog, clog_t, b, t):
    """Log the request's content key for backend ``b``'s cache (caches on; ``run``
    keeps a free entry, Python decides hit or miss when it flushes the log)."""
    if b >= 0 and ci[C_CACHE] == 1:
        n = gi[G_CLOG_N]
        clog[0, n] = b
        clog[1, n] = gi[G_LAST_KEY]
        clog_t[n] = t
        gi[G_CLOG_N] = n + 1


@njit(cache=True)
def _route_to(gi, gf, bi, bf, si, sf, ci, cf, rng, lvl, emp, h_t, h_s, h_k, nat_req, s, b, t,
              clog, clog_t):
    """Send session ``s``'s request to backend ``b`` (-1: none available, it fails).

    With caches on, the request's content key is logged for ``b``'s cache.
    """
    _cache_request(gi, ci, clog, clog_t, b, t)
    gi[G_ISSUED] += 1
    if gi[G_MEASURING] == 1:
        gi[G_ISSUED_MEASURED] += 1
    sf[SF_ISSUE, s] = t
    f = si[S_FLAGS, s]
    if b < 0:
        _fail(gi, si, s)
        sf[SF_LAST, s] = t
        _next_request(gi, si, ci, cf, rng, h_t, h_s, h_k, s, t)
        return
    # where is the session's state?
    ipch = f & F_IPCH != 0
    if ci[C_EXTERNAL] == 1:
        had = f & F_STATE != 0
        lost = False
    else:
        had = f & F_STATE != 0 and si[S_HOME, s] >= 0
        lost = had and si[S_HOME, s] != b
    if ipch and had:
        if f & F_IPCH_SEEN == 0:
            si[S_FLAGS, s] |= F_IPCH_SEEN
            gi[G_IPCH_SESSIONS] += 1
        if lost and si[S_FLAGS, s] & F_IPCH_LOST == 0:
            si[S_FLAGS, s] |= F_IPCH_LOST
            gi[G_IPCH_LOST_SESSIONS] += 1
    if lost:
        _lose(gi, si, s, G_LOST_IP if ipch else G_LOST_REROUTE)
    if gi[G_MEASURING] == 1:
        _offer(bi, si, ci, s, b)
    si[S_FLAGS, s] = (si[S_FLAGS, s] & ~(F_IPCH | F_AT_CRASH)) | F_STATE | F_INFLIGHT
    si[S_HOME, s] = b
    si[S_LAST, s] = b
    si[S_BACKEND, s] = b
    g = si[S_NATG, s]
    if g >= 0:
        nat_req[g, b] += 1
    # landing load: the backend's outstanding over the mean, as the request arrives
    if gi[G_MEASURING] == 1 and gi[G_SUMOUT] > 0:
        r = bi[B_OUT, b] / (gi[G_SUMOUT] / gi[G_NUP])
        gf[GF_ALL_LOAD_SUM] += r
        gi[G_LAND_N] += 1
        if g >= 0:
            gf[GF_NAT_LOAD_SUM] += r
            gi[G_NAT_REQ] += 1
    _touch(gi, bi, bf, b, t)
    limit = ci[C_QLIMIT]
    if bi[B_BUSY, b] < bi[B_WORKERS, b]:
        _out_add(gi, bi, lvl, b, 1)
        _start_service(gi, bi, bf, si, cf, ci, rng, emp, h_t, h_s, h_k, s, b, t)
    elif limit > 0 and bi[B_QLEN, b] >= limit:
        bi[B_FAILED, b] += 1
        _fail(gi, si, s)
        sf[SF_LAST, s] = t
        _next_request(gi, si, ci, cf, rng, h_t, h_s, h_k, s, t)
    else:
        _out_add(gi, bi, lvl, b, 1)
        si[S_FLAGS, s] |= F_QUEUED
        si[S_NEXT, s] = -1
        if bi[B_QTAIL, b] >= 0:
            si[S_NEXT, bi[B_QTAIL, b]] = s
        else:
            bi[B_QHEAD, b] = s
        bi[B_QTAIL, b] = s
        bi[B_QLEN, b] += 1


@njit(cache=True, inline="always")
def _offer(bi, si, ci, s, b):
    """Count the requests session ``s`` commits to backend ``b`` (its offered load).

    A session-affine policy (a cookie, or a hash of the session, address or user)
    commits the session's remaining requests with its first one; the others decide
    request by request.
    """
    on = ci[C_ON]
    if ci[C_STICKY] == 1 or (ci[C_POLICY] == P_HASH and on != ON_KEY and on != ON_NONE):
        if si[S_LAST, s] < 0:
            bi[B_OFFERED, b] += si[S_REMAIN, s]
    else:
        bi[B_OFFERED, b] += 1


@njit(cache=True)
def _new_session(gi, gf, si, sf, su, ci, cf, rng, client_ip, client_nat, tab_d, tab_b,
                 blk_d, blk_b, t):
    """A session arrives: take a free slot and draw its client and length."""
    s = gi[G_FREE]
    gi[G_FREE] = si[S_NEXT, s]
    gi[G_NFREE] -= 1
    gi[G_ACTIVE] += 1
    gi[G_SESSIONS] += 1
    c = _randint(rng, R_ARRIVAL, ci[C_CLIENTS])
    x = _draw(rng, R_ARRIVAL, ci[C_LEN_KIND], cf[CF_LEN_A], cf[CF_LEN_B])
    n = np.int64(np.floor(x + 0.5))
    si[S_FLAGS, s] = F_ACTIVE
    si[S_CLIENT, s] = c
    si[S_REMAIN, s] = n if n > 1 else 1
    si[S_HOME, s] = -1
    si[S_COOKIE, s] = -1
    si[S_BACKEND, s] = -1
    si[S_LAST, s] = -1
    si[S_NATG, s] = client_nat[c]
    si[S_SESSION, s] = gi[G_NEXT_SESSION]
    si[S_IP, s] = client_ip[c]
    gi[G_NEXT_SESSION] += 1
    sf[SF_LAST, s] = t
    on = ci[C_ON]
    if on == ON_IP:
        ip = client_ip[c]
        su[s] = tab_d[ip]
        si[S_KEYB, s] = tab_b[ip]
    elif on == ON_SESSION:
        i = gi[G_BLK_NEXT]
        gi[G_BLK_NEXT] = i + 1
        j = i - gi[G_BLK_BASE]
        su[s] = blk_d[j]
        si[S_KEYB, s] = blk_b[j]
    else:
        su[s] = U64(0)
        si[S_KEYB, s] = -1
    return s


@njit(cache=True)
def _done(gi, gf, bi, bf, si, sf, ci, cf, rng, lvl, emp, hist, h_t, h_s, h_k, s, t):
    """The request of session ``s`` completes at ``t``."""
    b = si[S_BACKEND, s]
    lat = t - sf[SF_ISSUE, s]
    if sf[SF_ISSUE, s] >= cf[CF_WARMUP]:
        _hist_add(hist, lat)
        gf[GF_LAT_SUM] += lat
        if lat > gf[GF_LAT_MAX]:
            gf[GF_LAT_MAX] = lat
        gi[G_DONE_MEASURED] += 1
    gi[G_DONE] += 1
    gf[GF_LAST_DONE] = t
    _touch(gi, bi, bf, b, t)
    bi[B_SERVED, b] += 1
    if gi[G_MEASURING] == 1:
        bi[B_SERVED_WIN, b] += 1
    _out_add(gi, bi, lvl, b, -1)
    bi[B_BUSY, b] -= 1
    si[S_FLAGS, s] &= ~F_INFLIGHT
    si[S_GEN, s] += 1
    sf[SF_LAST, s] = t
    # the next queued request starts on the freed worker
    q = bi[B_QHEAD, b]
    if q >= 0:
        nq = si[S_NEXT, q]
        bi[B_QHEAD, b] = nq
        if nq < 0:
            bi[B_QTAIL, b] = -1
        bi[B_QLEN, b] -= 1
        si[S_FLAGS, q] &= ~F_QUEUED
        _start_service(gi, bi, bf, si, cf, ci, rng, emp, h_t, h_s, h_k, q, b, t)
    _next_request(gi, si, ci, cf, rng, h_t, h_s, h_k, s, t)


class LoopState(NamedTuple):
    """Every array the compiled loop reads and writes, by name (see the field tables above)."""

    bi: np.ndarray  # backend ints [B_*, backend]
    bf: np.ndarray  # backend floats [BF_*, backend]
    si: np.ndarray  # session ints [S_*, session]
    sf: np.ndarray  # session floats [SF_*, session]
    su: np.ndarray  # session digests
    gi: np.ndarray  # global ints [G_*]
    gf: np.ndarray  # global floats [GF_*]
    ci: np.ndarray  # config ints [C_*]
    cf: np.ndarray  # config floats [CF_*]
    rng: np.ndarray  # random streams
    h_t: np.ndarray  # event heap: times
    h_s: np.ndarray  # event heap: sessions
    h_k: np.ndarray  # event heap: kinds
    elig: np.ndarray  # eligible backend ids
    lvl: np.ndarray  # load-level buckets
    hist: np.ndarray  # latency histogram
    emp: np.ndarray  # empirical service times
    arrivals: np.ndarray  # the current block of arrival times
    client_ip: np.ndarray
    client_nat: np.ndarray
    tab_d: np.ndarray  # static key digests and their backends
    tab_b: np.ndarray
    blk_d: np.ndarray  # fresh key digests (a block) and their backends
    blk_b: np.ndarray
    key_cdf: np.ndarray  # content-key popularity
    ring_pts: np.ndarray  # the bounded-load ring
    ring_own: np.ndarray
    nat_req: np.ndarray  # requests per NAT group and backend
    ser: np.ndarray  # the load-over-time series
    clog: np.ndarray  # the log of cache requests: (backend, content key) rows x entries
    clog_t: np.ndarray  # and their times (1-entry dummies when caches are off)


@njit(cache=True)
def run(st, max_events):  # noqa: C901 (a numba kernel)
    """Simulate until Python is needed; returns an ``ST_*`` status."""
    bi, bf, si, sf, su, gi, gf, ci, cf = st.bi, st.bf, st.si, st.sf, st.su, st.gi, st.gf, \
        st.ci, st.cf
    rng, h_t, h_s, h_k, elig, lvl, hist, emp = st.rng, st.h_t, st.h_s, st.h_k, st.elig, \
        st.lvl, st.hist, st.emp
    arrivals, client_ip, client_nat = st.arrivals, st.client_ip, st.client_nat
    tab_d, tab_b, blk_d, blk_b, key_cdf = st.tab_d, st.tab_b, st.blk_d, st.blk_b, st.key_cdf
    ring_pts, ring_own, nat_req, ser = st.ring_pts, st.ring_own, st.nat_req, st.ser
    clog, clog_t = st.clog, st.clog_t
    # finish a decision a Python balancer has made
    s = gi[G_PENDING]
    if s >= 0:
        gi[G_PENDING] = -1
        b = gi[G_PICK]
        t = gf[GF_NOW]
        if ci[C_STICKY] == 1:
            si[S_COOKIE, s] = b
        _route_to(gi, gf, bi, bf, si, sf, ci, cf, rng, lvl, emp, h_t, h_s, h_k, nat_req, s, b, t,
                  clog, clog_t)
        if ci[C_MAXREQ] > 0 and gi[G_ISSUED] >= ci[C_MAXREQ]:
            _stop(gi, gf, bi, bf, cf, ser, t)
    if gi[G_ARR_NEED] == 2:  # a new block of arrival times has been loaded
        gi[G_ARR_NEED] = 0
        _push(gi, h_t, h_s, h_k, arrivals[gi[G_ARR_POS]], -1, EV_ARRIVAL, 0)
    count = 0
    while True:
        if count >= max_events:
            return ST_YIELD
        if gi[G_NFREE] == 0 or gi[G_HEAPN] + 4 >= h_t.size:
            return ST_GROW
        if gi[G_BLK_NEXT] >= gi[G_BLK_END]:
            return ST_REFILL
        if gi[G_ARR_NEED] == 1:
            return ST_ARRIVALS
        # room for this event's request and a Python pick's on the next call
        if ci[C_CACHE] == 1 and gi[G_CLOG_N] + 2 >= clog_t.size:
            return ST_CACHE_FLUSH
        if gi[G_HEAPN] == 0:
            return ST_DONE
        t = h_t[0]
        if t >= gf[GF_NEXT_TOPO]:
            t = gf[GF_NEXT_TOPO]
            if gi[G_STOPPED] == 0 and t >= cf[CF_DURATION]:
                _stop(gi, gf, bi, bf, cf, ser, cf[CF_DURATION])
            _integrate(gi, gf, bi, bf, cf, ser, t)
            gf[GF_NOW] = t
            return ST_TOPO
        s = h_s[0]
        k = h_k[0]
        _pop(gi, h_t, h_s, h_k)
        count += 1
        gi[G_EVENTS] += 1
        if gi[G_STOPPED] == 0 and t >= cf[CF_DURATION]:
            _stop(gi, gf, bi, bf, cf, ser, cf[CF_DURATION])
        if gi[G_MEASURING] == 0 and gi[G_STOPPED] == 0 and t >= cf[CF_WARMUP]:
            _start_measuring(gi, gf, bi, bf, cf, cf[CF_WARMUP])
        _integrate(gi, gf, bi, bf, cf, ser, t)
        gf[GF_NOW] = t
        kind = k & 3
        if kind == EV_ARRIVAL:
            if gi[G_STOPPED] == 1:
                continue
            s = _new_session(gi, gf, si, sf, su, ci, cf, rng, client_ip, client_nat,
                             tab_d, tab_b, blk_d, blk_b, t)
            if ci[C_POISSON] == 1:
                gap = -np.log(_uniform(rng, R_ARRIVAL)) / cf[CF_RATE]
                _push(gi, h_t, h_s, h_k, t + gap, -1, EV_ARRIVAL, 0)
            else:
                p = gi[G_ARR_POS] + 1
                gi[G_ARR_POS] = p
                if p < arrivals.size:
                    _push(gi, h_t, h_s, h_k, arrivals[p], -1, EV_ARRIVAL, 0)
                elif gi[G_ARR_MORE] == 1:
                    gi[G_ARR_NEED] = 1
            if not _issue(gi, gf, bi, bf, si, sf, su, ci, cf, rng, elig, lvl, emp, hist,
                          h_t, h_s, h_k, tab_d, tab_b, blk_d, blk_b, key_cdf, ring_pts,
                          ring_own, nat_req, s, t, clog, clog_t):
                return ST_PICK
            if ci[C_MAXREQ] > 0 and gi[G_ISSUED] >= ci[C_MAXREQ]:
                _stop(gi, gf, bi, bf, cf, ser, t)
            continue
        if (k >> 2) != si[S_GEN, s]:
            continue  # stale: the request failed or the session ended meanwhile
        if kind == EV_DONE:
            _done(gi, gf, bi, bf, si, sf, ci, cf, rng, lvl, emp, hist, h_t, h_s, h_k, s, t)
        else:  # EV_ISSUE
            if gi[G_STOPPED] == 1:
                _end_session(gi, si, s)
                continue
            if not _issue(gi, gf, bi, bf, si, sf, su, ci, cf, rng, elig, lvl, emp, hist,
                          h_t, h_s, h_k, tab_d, tab_b, blk_d, blk_b, key_cdf, ring_pts,
                          ring_own, nat_req, s, t, clog, clog_t):
                return ST_PICK
            if ci[C_MAXREQ] > 0 and gi[G_ISSUED] >= ci[C_MAXREQ]:
                _stop(gi, gf, bi, bf, cf, ser, t)


@njit(cache=True)
def _start_measuring(gi, gf, bi, bf, cf, t):
    gi[G_MEASURING] = 1
    gf[GF_TLAST] = t
    gf[GF_WIN_START] = t
    gf[GF_WIN_END] = t + cf[CF_WIN_LEN]
    for b in range(bi.shape[1]):
        bf[BF_T, b] = t
        bi[B_SERVED_WIN, b] = 0
        bi[B_OUT0, b] = bi[B_OUT, b]


# ==================================================================================
# topology events
# ==================================================================================
EVT_CRASH = EVENT_KINDS.index("crash")
EVT_RECOVER = EVENT_KINDS.index("recover")
EVT_JOIN = EVENT_KINDS.index("join")
EVT_DRAIN = EVENT_KINDS.index("drain")


@njit(cache=True)
def apply_event(bi, bf, si, sf, gi, gf, ci, cf, rng, h_t, h_s, h_k, lvl, kind, b):
    """Crash, recover, join or drain backend ``b`` at the current time.

    A crash fails every request queued or in service there, and loses the local
    state of every session pinned there (its last request went there). The
    caller rebuilds the eligible list and any hash tables afterwards.
    """
    t = gf[GF_NOW]
    _touch(gi, bi, bf, b, t)
    if kind == EVT_CRASH:
        if bi[B_UP, b] == 0:
            return 0
        for s in range(si.shape[1]):
            f = si[S_FLAGS, s]
            if f & F_ACTIVE == 0:
                continue
            if f & F_INFLIGHT != 0 and si[S_BACKEND, s] == b:
                bi[B_FAILED, b] += 1
                _fail(gi, si, s)
                sf[SF_LAST, s] = t
                _next_request(gi, si, ci, cf, rng, h_t, h_s, h_k, s, t)
                f = si[S_FLAGS, s]
                if f & F_ACTIVE == 0:
                    continue
            if si[S_LAST, s] >= 0:
                _at_crash(gi, si, ci, s, b, f)
        while bi[B_OUT, b] > 0:
            _out_add(gi, bi, lvl, b, -1)
        lvl[0] -= 1
        bi[B_UP, b] = 0
        bi[B_BUSY, b] = 0
        bi[B_QHEAD, b] = -1
        bi[B_QTAIL, b] = -1
        bi[B_QLEN, b] = 0
        gi[G_NUP] -= 1
        _recompute_max(gi, bi, lvl)
        return 1
    if kind == EVT_RECOVER or kind == EVT_JOIN:
        if bi[B_UP, b] == 1:
            if kind == EVT_RECOVER and bi[B_DRAIN, b] == 1:  # undrain
                bi[B_DRAIN, b] = 0
                gi[G_SUMOUT_ELIG] += bi[B_OUT, b]
                return 1
            return 0
        bi[B_UP, b] = 1
        bi[B_EVER, b] = 1
        bi[B_DRAIN, b] = 0
        lvl[0] += 1
        gi[G_NUP] += 1
        return 1
    if kind == EVT_DRAIN:
        if bi[B_UP, b] == 0 or bi[B_DRAIN, b] == 1:
            return 0
        bi[B_DRAIN, b] = 1
        gi[G_SUMOUT_ELIG] -= bi[B_OUT, b]
        return 1
    return 0


@njit(cache=True)
def _at_crash(gi, si, ci, s, b, f):
    """Count an active session at backend ``b``'s crash: pinned there (local state dies
    with it), or elsewhere (flagged: its next request shows whether the hash moved it)."""
    gi[G_CRASH_ACTIVE] += 1
    if si[S_LAST, s] == b:
        gi[G_CRASH_PINNED] += 1
        if ci[C_EXTERNAL] == 0 and f & F_STATE != 0:
            gi[G_CRASH_LOST] += 1
            _lose(gi, si, s, G_LOST_CRASH)
    else:
        si[S_FLAGS, s] = f | F_AT_CRASH


@njit(cache=True)
def _recompute_max(gi, bi, lvl):
    m = 0
    for b in range(bi.shape[1]):
        if bi[B_UP, b] == 1 and bi[B_OUT, b] > m:
            m = bi[B_OUT, b]
    gi[G_MAXOUT] = m


@njit(cache=True)
def prefill(gi, gf, si, sf, su, ci, cf, rng, h_t, h_s, h_k, client_ip, client_nat,
            tab_d, tab_b, blk_d, blk_b, remain, t_next, start):
    """Sessions already between requests at time 0 (a warm start); returns how many were added.

    Stops early when the slots, the heap or the block of fresh keys run out;
    the caller makes room and calls again from the returned position.
    """
    i = start
    while i < remain.size:
        if gi[G_NFREE] == 0 or gi[G_HEAPN] + 4 >= h_t.size or gi[G_BLK_NEXT] >= gi[G_BLK_END]:
            break
        s = _new_session(gi, gf, si, sf, su, ci, cf, rng, client_ip, client_nat,
                         tab_d, tab_b, blk_d, blk_b, 0.0)
        si[S_REMAIN, s] = remain[i]
        _push(gi, h_t, h_s, h_k, t_next[i], s, EV_ISSUE, si[S_GEN, s])
        i += 1
    return i
