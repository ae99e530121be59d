"""Synthetic traces, seeded and reproducible: uniform, Zipf, NAT groups.

The same name, parameters, request count, seed and chunk size give the same
requests on every machine.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._errors import RoutebenchError, choices
from .._params import Param
from ._trace import Chunk, InternedColumn, RawColumn, SyntheticTrace, Vocabulary

__all__ = ["UniformTrace", "ZipfTrace", "NatTrace", "AccessLogTrace", "SYNTHETIC",
           "USER_AGENTS", "parse_sizes"]


class UniformTrace(SyntheticTrace):
    name = "uniform"
    summary = "every request a distinct random key (64-bit tokens as hex)"

    def _chunk(self, index: int, n: int, rng: np.random.Generator) -> Chunk:
        tokens = rng.integers(0, 2**63, size=n, dtype=np.int64).tolist()
        return Chunk({"key": RawColumn([b"%016x" % t for t in tokens])})


class ZipfTrace(SyntheticTrace):
    name = "zipf"
    summary = "keys drawn from a fixed universe with Zipf popularity (rank r has weight r^-s)"
    params = (
        Param("s", 1.0, "Zipf exponent: 0 is uniform, ~1 is typical web/cache popularity",
              minimum=0.0),
        Param("universe", 100_000, "distinct keys that can be drawn", minimum=1),
    )

    def __init__(self, requests: int, seed: int = 0, **kw: Any) -> None:
        super().__init__(requests, seed, **kw)
        u, s = self.config["universe"], self.config["s"]
        cdf = np.cumsum(np.arange(1, u + 1, dtype=np.float64) ** -s)
        self._cdf = cdf / cdf[-1]
        self._vocab = Vocabulary(u, lambda: [b"item-%d" % i for i in range(u)])

    def _chunk(self, index: int, n: int, rng: np.random.Generator) -> Chunk:
        ids = np.searchsorted(self._cdf, rng.random(n), side="right")
        np.minimum(ids, self._cdf.size - 1, out=ids)
        return Chunk({"key": InternedColumn(ids, self._vocab)})


def parse_sizes(text: str | tuple[int, ...], what: str = "groups") -> tuple[int, ...]:
    """``"500,200,50"`` -> ``(500, 200, 50)``: NAT group sizes, each >= 1."""
    if isinstance(text, tuple):
        return text
    try:
        sizes = tuple(int(p) for p in str(text).replace("+", ",").split(",") if p.strip())
    except ValueError:
        raise RoutebenchError(
            f"{what} {text!r}: expected comma-separated user counts, e.g. 500,200,50"
        ) from None
    if any(s < 1 for s in sizes):
        raise RoutebenchError(f"{what} {text!r}: every group needs at least 1 user")
    return sizes


def _check_groups(value: str) -> str | None:
    try:
        parse_sizes(value)
    except RoutebenchError as exc:
        return str(exc).split(": ", 1)[1]
    return None


def _ipv4(ints: np.ndarray) -> list[bytes]:
    return [b"%d.%d.%d.%d" % (i >> 24, (i >> 16) & 255, (i >> 8) & 255, i & 255)
            for i in ints.tolist()]


class NatTrace(SyntheticTrace):
    name = "nat"
    summary = "users behind shared public IPs: NAT groups plus users with their own IP"
    COLUMNS: ClassVar[tuple[str, ...]] = ("client", "user")
    ROUTE_ON = "client"
    params: ClassVar[tuple[Param, ...]] = (
        Param("users", 10_000, "distinct end users", minimum=1),
        Param("groups", "500,200,50", "users behind each shared NAT IP", check=_check_groups),
    )

    def __init__(self, requests: int, seed: int = 0, **kw: Any) -> None:
        super().__init__(requests, seed, **kw)
        users = self.config["users"]
        self.groups = parse_sizes(self.config["groups"])
        natted = sum(self.groups)
        if natted > users:
            raise RoutebenchError(
                f"trace 'nat': groups {self.config['groups']!r} hold {natted} users, "
                f"more than users={users}"
            )
        rng = np.random.default_rng([self.seed, 2**31])
        n_ips = len(self.groups) + users - natted
        # distinct public addresses: a random sample of 1.0.0.0 - 223.255.255.255
        ips = np.unique(rng.integers(1 << 24, 224 << 24, size=n_ips * 2 + 16))
        ips = rng.permutation(ips)[:n_ips]
        # user -> IP index: group g's users share IP g; the rest have one each
        owner = np.concatenate([np.repeat(np.arange(len(self.groups)), self.groups),
                                np.arange(len(self.groups), n_ips)])
        self.user_ip = rng.permutation(owner)
        self._ips = Vocabulary(n_ips, lambda: _ipv4(ips))
        self._users = Vocabulary(users, lambda: [b"user-%d" % i for i in range(users)])

    def _chunk(self, index: int, n: int, rng: np.random.Generator) -> Chunk:
        users = rng.integers(0, self._users.size, size=n)
        return Chunk({
            "client": InternedColumn(self.user_ip[users], self._ips),
            "user": InternedColumn(users, self._users),
        })


#: user agents of the synthetic access log, one per user (by user id)
USER_AGENTS = (
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/120.0.0.0 Safari/537.36",
    b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    b"Version/17.1 Safari/605.1.15",
    b"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    b"(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    b"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/120.0.0.0 Mobile Safari/537.36",
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    b"curl/8.4.0",
    b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    b"python-requests/2.31.0",
)
#: the first request of the synthetic access log: 2024-01-01T00:00:00Z
ACCESS_LOG_EPOCH = 1704067200.0


class AccessLogTrace(NatTrace):
    name = "access-log"
    summary = ("web traffic: users (some behind shared NAT IPs) with a user agent each, "
               "Zipf-popular URL paths, Poisson arrival times")
    COLUMNS = ("client", "user", "path", "ua")
    ROUTE_ON = "client"
    params = NatTrace.params + (
        Param("paths", 20_000, "distinct URL paths", minimum=1),
        Param("s", 1.0, "Zipf exponent of path popularity", minimum=0.0),
        Param("rate", 1000.0, "requests per second (mean of Poisson arrivals)", minimum=1e-6),
    )

    def __init__(self, requests: int, seed: int = 0, **kw: Any) -> None:
        super().__init__(requests, seed, **kw)
        p, s = self.config["paths"], self.config["s"]
        cdf = np.cumsum(np.arange(1, p + 1, dtype=np.float64) ** -s)
        self._cdf = cdf / cdf[-1]
        rng = np.random.default_rng([self.seed, 2**31 + 1])
        sections = (b"static", b"api/v1", b"blog", b"products", b"images", b"docs")
        sec = rng.integers(0, len(sections), size=p).tolist()
        self._paths = Vocabulary(p, lambda: [b"/%s/item-%d%s" % (sections[x], i,
                                                                 b".png" if x == 4 else b"")
                                             for i, x in enumerate(sec)])
        users = self.config["users"]
        self.user_ua = rng.integers(0, len(USER_AGENTS), size=users)
        self._uas = Vocabulary(len(USER_AGENTS), lambda: list(USER_AGENTS))

    def _chunk(self, index: int, n: int, rng: np.random.Generator) -> Chunk:
        users = rng.integers(0, self._users.size, size=n)
        paths = np.searchsorted(self._cdf, rng.random(n), side="right")
        np.minimum(paths, self._cdf.size - 1, out=paths)
        # arrivals: chunk i starts at its expected time, Poisson gaps within
        rate = self.config["rate"]
        t0 = ACCESS_LOG_EPOCH + index * self.chunk_size / rate
        ts = t0 + np.cumsum(rng.exponential(1.0 / rate, size=n))
        return Chunk({
            "client": InternedColumn(self.user_ip[users], self._ips),
            "user": InternedColumn(users, self._users),
            "path": InternedColumn(paths, self._paths),
            "ua": InternedColumn(self.user_ua[users], self._uas),
        }, ts=ts)


SYNTHETIC: dict[str, type[SyntheticTrace]] = {
    t.name: t for t in (UniformTrace, ZipfTrace, NatTrace, AccessLogTrace)
}


def synthetic_trace(name: str, requests: int, seed: int = 0, route_on: str | None = None,
                    **params: Any) -> SyntheticTrace:
    """The synthetic trace ``name``; a clear error naming the ones there are otherwise."""
    try:
        cls = SYNTHETIC[name]
    except KeyError:
        raise RoutebenchError(
            f"unknown trace {name!r}; available: {choices(SYNTHETIC)}"
        ) from None
    if requests < 1:
        raise RoutebenchError(f"requests {requests}: a trace needs at least 1 request")
    return cls(requests, seed, route_on=route_on, **params)
