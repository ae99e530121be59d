"""nginx's hashing balancers, exactly: ``hash KEY consistent;``, ``hash KEY;`` and
``ip_hash;`` of the upstream module (http and stream), as nginx 1.22 does them.

Node names are the ``server`` strings as written in the upstream block
(``10.0.0.1:8080``, ``backend.example:80``, ``unix:/run/app.sock``): nginx
hashes that text, not the resolved address. Weights are ``weight=`` (whole
numbers, 1 or more). ``down=`` names servers marked ``down``: they stay in the
configuration, and nginx routes their keys elsewhere in its own way (the next
ring point, or another hash attempt with the down server's weight still in
the total).

The rules (nginx ``src/http/modules/ngx_http_upstream_hash_module.c``,
``ngx_http_upstream_ip_hash_module.c``, ``src/http/ngx_http_upstream_round_robin.c``,
tag ``release-1.22.1``; the stream module's hash is the same code):

- key hash: CRC-32 of the key's bytes (``$request_uri`` keeps its query string);
- ``consistent``: each server puts ``160 x weight`` points on a 32-bit circle:
  point j is CRC-32 of ``HOST "\\0" PORT`` followed by point j-1's four bytes
  (little-endian; zeros for j = 0), where PORT is the digits after the last
  ``:`` (none for ``unix:`` paths or names not ending in ``:digits``).
  Points are sorted and equal points dropped but the first (in server order).
  A key goes to the first point at or after its hash, wrapping; if that
  point's server is down, the next point, up to 20 more;
- without ``consistent``: attempt r hashes the decimal r before the key (r > 0)
  and adds ``(crc >> 16) & 0x7fff`` to a running sum; the sum modulo the total
  weight (down servers included) picks the server whose weight range holds it
  (servers in order); a down server means another attempt, up to 20 more;
- ``ip_hash``: h = 89, then h = (h x 113 + byte) mod 6271 over the client
  address's first three bytes (IPv4) or all 16 (IPv6), once an attempt; the
  server is picked from h modulo the total weight the same way.

After 21 attempts nginx falls back to round robin, which depends on the
traffic before; the model keeps hashing (the next points, further attempts)
instead, and ``tries(digests)`` shows which keys got that far (beyond 20).
A key nginx would hash as empty goes round robin too; it is not modelled.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left

import numpy as np

from ._base import KeyedStrategy, read_only
from ._product import DOWN_PARAM, BatchHasher, ProductStrategy, client_address, weights_as_ints
from ._product_kernels import (
    CRC_TABLE,
    IPHASH_MOD,
    X2N,
    nginx_chash_many,
    nginx_hash_many,
    nginx_iphash_many,
)

__all__ = ["NginxChashStrategy", "NginxHashStrategy", "NginxIpHashStrategy", "chash_points",
           "split_server", "CHASH_POINTS_PER_WEIGHT", "CHASH_POINT_BYTES", "MAX_CHASH_POINTS",
           "NGINX_CRC32", "NGINX_IPHASH", "iphash_bytes"]

CHASH_POINTS_PER_WEIGHT = 160
#: sizeof(ngx_http_upstream_chash_point_t) on 64-bit: a uint32 hash and a pointer
CHASH_POINT_BYTES = 16
#: the most ring points ``routebench.lbconfig`` reads by default (nginx: 256 MiB)
MAX_CHASH_POINTS = 1 << 24
_BYTES_PER_POINT = 110


def _crc_len(key: bytes) -> int:
    return zlib.crc32(key) | (len(key) << 32)


#: nginx's key hash: CRC-32 of the key in the low 32 bits, the key's length above
#: them (``hash`` without ``consistent`` rehashes a prefixed key on retries, and
#: CRC-32(prefix + key) follows from CRC-32(key) and its length)
NGINX_CRC32 = BatchHasher("nginx-crc32", 32, _crc_len,
                          "nginx: CRC-32 of the key, its length in the high 32 bits")


def iphash_bytes(key: bytes) -> bytes:
    """The bytes ip_hash folds: the first three of an IPv4 address, all 16 of IPv6."""
    packed = client_address(key)
    return packed[:3] if len(packed) == 4 else packed


def _iphash_digest(key: bytes) -> int:
    b = iphash_bytes(key)
    c = 0
    for x in b:
        c = (c * 113 + x) % IPHASH_MOD
    return c | (len(b) << 32)


#: ip_hash's key: the client address's folded bytes (see ``nginx_iphash_many``)
NGINX_IPHASH = BatchHasher("nginx-iphash", 32, _iphash_digest,
                           "nginx ip_hash: 113/6271 fold of the client address bytes")


def split_server(server: str) -> tuple[bytes, bytes]:
    """(HOST, PORT) of a server string as the consistent hash splits it."""
    s = server.encode("utf-8")
    if len(s) >= 5 and s[:5].lower() == b"unix:":
        return s[5:], b""
    for j in range(len(s)):
        c = s[len(s) - j - 1]
        if c == 0x3A:  # ':'
            return s[: len(s) - j - 1], s[len(s) - j:]
        if not 0x30 <= c <= 0x39:
            break
    return s, b""


def chash_points(server: str, weight: int) -> np.ndarray:
    """The ring points of one server, in the order nginx computes them."""
    host, port = split_server(server)
    base = zlib.crc32(host + b"\0" + port)
    out = np.empty(weight * CHASH_POINTS_PER_WEIGHT, dtype=np.uint64)
    prev = 0
    crc = zlib.crc32
    for j in range(out.size):
        prev = crc(prev.to_bytes(4, "little"), base)
        out[j] = prev
    return out


class _Nginx(ProductStrategy):
    product = "nginx"
    weight_syntax = "weight="
    has_down = True
    params = (DOWN_PARAM,)

    def tries(self, digests: np.ndarray) -> np.ndarray:
        """Extra attempts each key took past down servers (above 20: nginx itself
        would have fallen back to round robin)."""
        d = np.ascontiguousarray(np.asarray(digests, dtype=np.uint64)).ravel()
        out = np.empty(d.size, dtype=np.intp)
        t = np.empty(d.size, dtype=np.int64)
        self._kernel(d, out, t)
        return t

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = np.empty(digests.size, dtype=np.intp)
        self._kernel(digests, out, np.empty(0, dtype=np.int64))
        return out

    def _kernel(self, digests: np.ndarray, out: np.ndarray, tries: np.ndarray) -> None:
        raise NotImplementedError


class NginxChashStrategy(_Nginx):
    name = "nginx-chash"
    summary = "nginx `hash KEY consistent;`: CRC-32 ring, 160 points per weight unit"

    def _make_hasher(self):
        return NGINX_CRC32

    def _estimate_bytes(self) -> int:
        # per point at the build's peak: the uint32 points as uint64, owners, the sort's
        # copies and the Python lists the scalar lookup bisects (tracemalloc, 320k points:
        # 71 bytes held, 104 at the peak)
        return int(sum(self._weights)) * CHASH_POINTS_PER_WEIGHT * _BYTES_PER_POINT

    def _rebuild(self) -> None:
        cache: dict[tuple[str, int], np.ndarray] = getattr(self, "_point_cache", {})
        self._point_cache = {}
        parts, owners = [], []
        for i, (name, w) in enumerate(zip(self._names, weights_as_ints(self._weights))):
            pts = cache.get((name, int(w)))
            if pts is None:
                pts = chash_points(name, int(w))
            self._point_cache[(name, int(w))] = pts
            parts.append(pts)
            owners.append(np.full(pts.size, i, dtype=np.intp))
        points = np.concatenate(parts)
        own = np.concatenate(owners)
        order = np.argsort(points, kind="stable")  # equal points: server order
        points, own = points[order], own[order]
        keep = np.ones(points.size, dtype=np.bool_)
        keep[1:] = points[1:] != points[:-1]
        self._points = np.ascontiguousarray(points[keep])
        self._owners = np.ascontiguousarray(own[keep])
        self._down = self._down_mask()
        self._any_down = bool(self._down.any())
        self._point_list = self._points.tolist()
        self._owner_list = self._owners.tolist()

    def _lookup_one(self, digest: int) -> int:
        if self._any_down:
            return super()._lookup_one(digest)
        i = bisect_left(self._point_list, digest & 0xFFFFFFFF)
        return self._owner_list[i if i < len(self._point_list) else 0]

    def _kernel(self, digests, out, tries):
        nginx_chash_many(digests, self._points, self._owners, self._down, self._any_down,
                         out, tries)

    @property
    def points(self) -> np.ndarray:
        """The ring: sorted 32-bit points (duplicates dropped), read-only."""
        return read_only(self._points)


class NginxHashStrategy(_Nginx):
    name = "nginx-hash"
    summary = "nginx `hash KEY;`: CRC-32 of the key modulo the total weight, 20 retries"
    consistent = False

    def _make_hasher(self):
        return NGINX_CRC32

    def _rebuild(self) -> None:
        self._cum = np.cumsum(weights_as_ints(self._weights))
        total = int(self._cum[-1])
        v = np.arange(0x8000, dtype=np.int64)
        self._first = np.searchsorted(self._cum, v % total, side="right").astype(np.intp)
        self._first_list = self._first.tolist()
        self._down = self._down_mask()
        self._any_down = bool(self._down.any())

    def _lookup_one(self, digest: int) -> int:
        p = self._first_list[(digest >> 16) & 0x7FFF]
        if self._any_down and self._down[p]:
            return super()._lookup_one(digest)
        return p

    def _kernel(self, digests, out, tries):
        nginx_hash_many(digests, self._first, self._cum, self._down, self._any_down, X2N,
                        CRC_TABLE, out, tries)


class NginxIpHashStrategy(_Nginx):
    name = "nginx-iphash"
    summary = "nginx `ip_hash;`: 113/6271 hash of the client's /24 (IPv6: address)"
    consistent = False

    def _make_hasher(self):
        return NGINX_IPHASH

    def _rebuild(self) -> None:
        self._cum = np.cumsum(weights_as_ints(self._weights))
        total = int(self._cum[-1])
        c = np.arange(IPHASH_MOD, dtype=np.int64)
        self._mul3 = pow(113, 3, IPHASH_MOD)
        self._mul16 = pow(113, 16, IPHASH_MOD)
        h = np.concatenate([(89 * self._mul3 + c) % IPHASH_MOD,
                            (89 * self._mul16 + c) % IPHASH_MOD])
        self._first = np.searchsorted(self._cum, h % total, side="right").astype(np.intp)
        self._first_list = self._first.tolist()
        self._down = self._down_mask()
        self._any_down = bool(self._down.any())

    def _lookup_one(self, digest: int) -> int:
        c = (digest & 0xFFFFFFFF) % IPHASH_MOD
        p = self._first_list[c + IPHASH_MOD if digest >> 32 == 16 else c]
        if self._any_down and self._down[p]:
            return super()._lookup_one(digest)
        return p

    def _kernel(self, digests, out, tries):
        nginx_iphash_many(digests, self._first, self._cum, self._down, self._any_down,
                          self._mul3, self._mul16, out, tries)


STRATEGIES: tuple[type[KeyedStrategy], ...] = (NginxChashStrategy, NginxHashStrategy,
                                               NginxIpHashStrategy)
