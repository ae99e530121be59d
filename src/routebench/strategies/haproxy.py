"""HAProxy's hash-based balancing, exactly: ``hash-type consistent`` and
``hash-type map-based`` with ``balance uri | hdr(name) | url_param | source``,
as HAProxy 2.6 does them.

Node names are the server names; HAProxy hashes a server's numeric id (its
``puid``: ``id N`` on the server line, else numbered 1, 2, ... in declaration
order, skipping ids taken by explicit ones). ``ids=`` gives them in node order
(default: 1..N). A node added later takes the first free id from its position
on; removing a node keeps the others' ids, as HAProxy's runtime ``del server``
does (deleting a line from the configuration and reloading renumbers the
servers after it unless they have explicit ids: ``routebench.lbconfig``
models that). Weights are ``weight`` (whole numbers 1-256; weight 0 takes no
traffic, so it is left out). ``down=`` names servers that are disabled or
failed their checks: HAProxy takes them out of the tree (map) and keeps the
other servers' ids.

The rules (haproxy ``src/lb_chash.c``, ``src/lb_map.c``, ``src/hash.c``,
``src/backend.c``, ``include/haproxy/intops.h``, ``src/cfgparse.c``,
``src/cfgparse-listen.c``, tag ``v2.6.0``; the hashing code is unchanged
through 2.6.12, the Debian 12 package):

- key hash: ``hash=`` sdbm (the default), djb2, wt6 or crc32 over the key's
  bytes (what ``balance uri``, ``hdr()`` and ``url_param`` extract), then
  ``full_hash()`` when ``avalanche`` is on (``hash-type consistent`` without a
  function means sdbm with avalanche; with a function, avalanche only when
  written). ``balance source`` (``key=source``) does not use the function: it
  XORs the client address's 32-bit big-endian words (one for IPv4, four for
  IPv6), then avalanche if on;
- consistent: a server of weight w has 16 w points,
  ``full_hash(id x 4096 + k)`` for k < 16 w; a key takes the NEARER of the
  point before it and the point at or after it (distances modulo 2^32; a tie
  goes to the point before);
- map-based: a table of the servers' weights (reduced by their gcd) filled by
  ``recalc_server_map``'s weighted scores, ``map[hash % total]``.

``hash_balance_factor`` (``hash-balance-factor``) changes the choice only when
servers are busy: ``balance_slots(outstanding)`` gives each node's bound.
"""

from __future__ import annotations

import math
import zlib
from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._errors import RoutebenchError
from ._base import KeyedStrategy, Param, read_only
from ._product import DOWN_PARAM, BatchHasher, ProductStrategy, client_address, weights_as_ints
from ._product_kernels import (
    full_hash_many,
    haproxy_hash_buffer,
    haproxy_hash_one,
    haproxy_map_many,
    haproxy_nearest_many,
    haproxy_recalc_map,
)

__all__ = ["HaproxyChashStrategy", "HaproxyMapStrategy", "haproxy_hasher", "full_hash",
           "gen_hash", "HASH_FUNCTIONS", "BE_WEIGHT_SCALE", "SRV_EWGHT_RANGE", "assign_ids"]

HASH_FUNCTIONS = ("sdbm", "djb2", "wt6", "crc32")
BE_WEIGHT_SCALE = 16
SRV_EWGHT_RANGE = 256 * BE_WEIGHT_SCALE
_M32 = 0xFFFFFFFF


# -- HAProxy's hash functions (src/hash.c), one key at a time ----------------------
def _sdbm(key: bytes) -> int:
    h = 0
    for c in key:
        h = (c + (h << 6) + (h << 16) - h) & _M32
    return h


def _djb2(key: bytes) -> int:
    h = 5381
    for c in key:
        h = ((h << 5) + h + c) & _M32
    return h


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32 if r else x


def _wt6(key: bytes) -> int:
    h0, h1, s0, s1 = 0xA53C965A, 0x5CA6953A, 6, 18
    for c in key:
        h0 = ~(h0 ^ c) & _M32
        h1 = ~(h1 + c) & _M32
        t = _rotl(h1, s0)
        h1 = _rotl(h0, s1)
        h0 = t
        t = ((h0 >> 16) ^ h1) & 0xFFFF
        s0, s1 = t & 0x1F, t >> 11
    return h0 ^ h1


_FUNCS: dict[str, Callable[[bytes], int]] = {"sdbm": _sdbm, "djb2": _djb2, "wt6": _wt6,
                                             "crc32": zlib.crc32}


def gen_hash(fn: str, key: bytes) -> int:
    """HAProxy's gen_hash(): the configured function over the key's bytes."""
    return _FUNCS[fn](key)


def full_hash(a: int) -> int:
    """HAProxy's full_hash() (avalanche) of a 32-bit value."""
    a &= _M32
    a = ((a + 0x7ED55D16) + (a << 12)) & _M32
    a = ((a ^ 0xC761C23C) ^ (a >> 19)) & _M32
    a = ((a + 0x165667B1) + (a << 5)) & _M32
    a = ((a + 0xD3A2646C) ^ (a << 9)) & _M32
    a = ((a + 0xFD7046C5) + (a << 3)) & _M32
    a = ((a ^ 0xB55A4F09) ^ (a >> 16)) & _M32
    return (a * 3221225473) & _M32


def _source_hash(key: bytes) -> int:
    addr = client_address(key)
    h = 0
    for i in range(0, len(addr) - 3, 4):
        h ^= int.from_bytes(addr[i:i + 4], "big")
    return h


def _avalanched(fn):
    return lambda key: full_hash(fn(key))


def _avalanche_array(d: np.ndarray) -> np.ndarray:
    out = np.empty_like(d)
    full_hash_many(d, out)
    return out


_HASHERS: dict[tuple[str, bool], BatchHasher] = {}


def haproxy_hasher(fn: str, avalanche: bool) -> BatchHasher:
    """The key hash of ``hash-type ... FN [avalanche]`` (fn ``source``: ``balance source``)."""
    key = (fn, avalanche)
    if key not in _HASHERS:
        code = HASH_FUNCTIONS.index(fn) if fn != "source" else -1
        if fn == "source":
            one = _avalanched(_source_hash) if avalanche else _source_hash
        else:
            def one(key: bytes, _code=code) -> int:
                return int(haproxy_hash_one(key, _code, avalanche))

        def batch(data, ends, _code=code):
            out = np.empty(ends.size, dtype=np.uint64)
            haproxy_hash_buffer(data, ends, _code, out)
            return _avalanche_array(out) if avalanche else out

        name = f"haproxy-{fn}" + ("+avalanche" if avalanche else "")
        what = ("balance source: XOR of the address's 32-bit words" if fn == "source"
                else f"HAProxy {fn}")
        _HASHERS[key] = BatchHasher(
            name, 32, one,
            what + (", then full_hash" if avalanche else ""),
            batch=None if fn == "source" else batch,
        )
    return _HASHERS[key]


def assign_ids(explicit: list[int | None]) -> list[int]:
    """Server ids as HAProxy's configuration check numbers them: explicit ids
    stay; the others, in declaration order, take the first id not taken from a
    counter that advances by one at every server (explicit ones included)."""
    used = {i for i in explicit if i is not None}
    out = []
    next_id = 1
    for e in explicit:
        if e is None:
            while next_id in used:
                next_id += 1
            used.add(next_id)
            out.append(next_id)
        else:
            out.append(e)
        next_id += 1
    return out


def _check_ids(text: str) -> str | None:
    if not text:
        return None
    try:
        ids = [int(t) for t in text.split(",")]
    except ValueError:
        return "is not a comma-separated list of server ids (whole numbers)"
    if any(i < 1 or i >= 2**31 for i in ids):
        return "holds an id outside 1..2147483647 (HAProxy: 'custom id has to be > 0')"
    if len(set(ids)) != len(ids):
        return "repeats an id (HAProxy: 'custom id already used')"
    return None


_KEY_PARAM = Param("key", "text", "what keys are: text hashed with hash= (balance uri, hdr(), "
                   "url_param), or client addresses (balance source)",
                   choices=("text", "source"))
_IDS_PARAM = Param("ids", "", "server ids (HAProxy puid) in node order, comma-separated; "
                   "default 1..N", check=_check_ids)


class _Haproxy(ProductStrategy):
    product = "HAProxy"
    max_weight = 256
    has_down = True
    _default_avalanche = False

    @classmethod
    def resolve_params(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        out = super().resolve_params(given)
        if "avalanche" not in given:
            out["avalanche"] = cls._default_avalanche and "hash" not in given
        return out

    def _make_hasher(self):
        fn = "source" if self.config["key"] == "source" else self.config["hash"]
        return haproxy_hasher(fn, self.config["avalanche"])

    def _assign_ids(self) -> None:
        """Keep each node's id; give new nodes the first free id from their position."""
        known: dict[str, int] | None = getattr(self, "_id_of", None)
        if known is None:
            given = self.config["ids"]
            if given:
                ids = [int(t) for t in given.split(",")]
                if len(ids) != len(self._names):
                    raise RoutebenchError(
                        f"{self.name} ids={given!r}: {len(ids)} ids for {len(self._names)} "
                        "nodes; give one id a node, in node order"
                    )
            else:
                ids = list(range(1, len(self._names) + 1))
            known = dict(zip(self._names, ids))
        self._id_of = {n: known[n] for n in self._names if n in known}
        used = set(self._id_of.values())
        for pos, n in enumerate(self._names, start=1):
            if n not in self._id_of:
                i = pos
                while i in used:
                    i += 1
                self._id_of[n] = i
                used.add(i)

    @property
    def ids(self) -> tuple[int, ...]:
        """Each node's server id (puid), in node order."""
        return tuple(self._id_of[n] for n in self._names)

    def _usable(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the nodes in the tree or map, their integer weights)."""
        self._down = self._down_mask()
        idx = np.flatnonzero(~self._down)
        return idx, weights_as_ints(self._weights)[idx]


class HaproxyChashStrategy(_Haproxy):
    name = "haproxy-chash"
    summary = "HAProxy `hash-type consistent`: 16 points per weight unit, nearest point"
    _default_avalanche = True
    params = (
        Param("hash", "sdbm", "HAProxy hash function", choices=HASH_FUNCTIONS),
        Param("avalanche", True, "apply full_hash() to the key hash (on unless hash= is "
              "given: `hash-type consistent` alone is sdbm with avalanche)"),
        _KEY_PARAM,
        _IDS_PARAM,
        DOWN_PARAM,
        Param("hash_balance_factor", 0, "hash-balance-factor: 0 (off) or above 100; bounds "
              "busy servers, see balance_slots()", check=lambda v: None if v == 0 or v > 100
              else "must be 0 or greater than 100 (HAProxy)"),
    )
    conformance = {
        "balance": 2.2,
        "floor": 0.4,
        "reason": "16 points per weight unit (HAProxy's own ring): a server's share strays "
                  "far from its weight at small N (0.54x-1.87x seen over 2,000 random "
                  "configurations of up to 12 servers, weights 1-4); a server re-added gets "
                  "HAProxy's first free id from its new position (puid), not the id it had, and "
                  "its points hash the id: re-adding removed servers does not bring their keys "
                  "back (19% of keys home seen; give fixed ids= for that), so restore is not "
                  "promised",
        "restore": 0.0,
    }

    def _estimate_bytes(self) -> int:
        # per point, as nginx-chash's ring (tracemalloc, 320k points: 63 held, 103 at the peak)
        return int(sum(self._weights)) * BE_WEIGHT_SCALE * 110

    def _rebuild(self) -> None:
        self._assign_ids()
        idx, w = self._usable()
        parts, owners, ids = [], [], np.array(self.ids, dtype=np.uint64)
        for i, wi in zip(idx.tolist(), w.tolist()):
            k = np.arange(wi * BE_WEIGHT_SCALE, dtype=np.uint64)
            raw = (ids[i] * np.uint64(SRV_EWGHT_RANGE) + k) & np.uint64(_M32)
            parts.append(_avalanche_array(raw))
            owners.append(np.full(k.size, i, dtype=np.intp))
        points = np.concatenate(parts)
        own = np.concatenate(owners)
        order = np.argsort(points, kind="stable")  # equal keys: insertion order
        self._points = np.ascontiguousarray(points[order])
        self._owners = np.ascontiguousarray(own[order])
        self._point_list = self._points.tolist()
        self._owner_list = self._owners.tolist()
        self._eweights = np.zeros(len(self._names), dtype=np.int64)
        self._eweights[idx] = w * BE_WEIGHT_SCALE

    def _lookup_one(self, digest: int) -> int:
        h = digest & _M32
        pts = self._point_list
        n = len(pts)
        nx = bisect_left(pts, h)
        if nx == n:
            nx = 0
        pv = nx - 1 if nx else n - 1
        if (h - pts[pv]) & _M32 <= (pts[nx] - h) & _M32:
            return self._owner_list[pv]
        return self._owner_list[nx]

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        haproxy_nearest_many(digests, self._points, self._owners, out)
        return out

    @property
    def points(self) -> np.ndarray:
        return read_only(self._points)

    def balance_slots(self, outstanding: int) -> dict[str, int]:
        """With ``hash_balance_factor`` F and ``outstanding`` requests in flight, the
        most each usable node may serve before HAProxy passes its keys on along the
        ring (lb_chash.c, chash_server_is_eligible): ceil((outstanding + 1) x F / 100)
        slots shared in proportion to the weights, at least one each."""
        f = self.config["hash_balance_factor"]
        if not f:
            raise RoutebenchError("haproxy-chash: hash_balance_factor is 0 (off): no bound")
        tot = int(self._eweights.sum())
        tot_slots = ((outstanding + 1) * f + 99) // 100
        per, rem = divmod(tot_slots, tot)
        out, cum = {}, 0
        for n, e in zip(self._names, self._eweights.tolist()):
            if not e:
                continue
            s = e * per + ((cum + e) * rem) // tot - (cum * rem) // tot
            out[n] = max(s, 1)
            cum += e
        return out


class HaproxyMapStrategy(_Haproxy):
    name = "haproxy-map"
    summary = "HAProxy `hash-type map-based`: hash modulo the total weight into a weighted map"
    consistent = False
    params = (
        Param("hash", "sdbm", "HAProxy hash function", choices=HASH_FUNCTIONS),
        Param("avalanche", False, "apply full_hash() to the key hash"),
        _KEY_PARAM,
        _IDS_PARAM,
        DOWN_PARAM,
    )

    def _rebuild(self) -> None:
        self._assign_ids()
        idx, w = self._usable()
        g = math.gcd(*weights_as_ints(self._weights).tolist())
        e = (w // g).astype(np.int64)  # scaling every weight alike leaves the routing as is
        slots = haproxy_recalc_map(e, int(e.sum()))
        self._table = np.ascontiguousarray(idx[slots], dtype=np.intp)
        self._table_list = self._table.tolist()

    def _lookup_one(self, digest: int) -> int:
        t = self._table_list
        return t[(digest & _M32) % len(t)]

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        haproxy_map_many(digests, self._table, out)
        return out

    @property
    def table(self) -> np.ndarray:
        return read_only(self._table)


STRATEGIES: tuple[type[KeyedStrategy], ...] = (HaproxyChashStrategy, HaproxyMapStrategy)
