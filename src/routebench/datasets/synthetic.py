"""Synthetic traces, seeded and reproducible: uniform, Zipf, NAT groups.

The same name, parameters, request count, seed and chunk size give the same
requests on every machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import RoutebenchError, choices
from .._params import Param
from ._trace import Chunk, InternedColumn, RawColumn, Trace, Vocabulary

__all__ = ["UniformTrace", "ZipfTrace", "NatTrace", "SYNTHETIC", "parse_sizes"]


class UniformTrace(Trace):
    name = "uniform"
    summary = "every request a distinct random key (64-bit tokens as hex)"

    def _chunk(self, index: int, n: int, rng: np.random.Generator) -> Chunk:
        tokens = rng.integers(0, 2**63, size=n, dtype=np.int64).tolist()
        return Chunk({"key": RawColumn([b"%016x" % t for t in tokens])})


class ZipfTrace(Trace):
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


class NatTrace(Trace):
    name = "nat"
    summary = "users behind shared public IPs: NAT groups plus users with their own IP"
    columns = ("client", "user")
    route_on = "client"
    params = (
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


SYNTHETIC: dict[str, type[Trace]] = {t.name: t for t in (UniformTrace, ZipfTrace, NatTrace)}


def synthetic_trace(name: str, requests: int, seed: int = 0, **params: Any) -> Trace:
    """The synthetic trace ``name``; a clear error naming the ones there are otherwise."""
    try:
        cls = SYNTHETIC[name]
    except KeyError:
        raise RoutebenchError(
            f"unknown trace {name!r}; available: {choices(SYNTHETIC)}"
        ) from None
    if requests < 1:
        raise RoutebenchError(f"requests {requests}: a trace needs at least 1 request")
    return cls(requests, seed, **params)
