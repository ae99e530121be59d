"""Key columns of recorded traces: interned per chunk, derived, or built on first use.

Only a chunk's distinct keys ever become ``bytes`` objects, and each is hashed
once per hash function (``InternedColumn`` over a per-chunk ``Vocabulary``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import numpy as np

from ...hashing import Hasher, get_hasher
from .._trace import InternedColumn, KeyColumn, Vocabulary

__all__ = ["LazyColumn", "mapped", "paired", "prefix_of", "cookie_value",
           "Sessionizer"]


class LazyColumn(KeyColumn):
    """A column built on first use (most chunks are only ever routed on one column)."""

    def __init__(self, size: int, build: Callable[[], InternedColumn]) -> None:
        self._size = size
        self._build: Callable[[], InternedColumn] | None = build
        self._col: InternedColumn | None = None

    @property
    def column(self) -> InternedColumn:
        if self._col is None:
            assert self._build is not None
            self._col = self._build()
            self._build = None
        return self._col

    def __len__(self) -> int:
        return self._size

    def digest(self, hasher: Hasher) -> np.ndarray:
        return self.column.digest(hasher)

    def keys(self, n: int | None = None) -> list[bytes]:
        return self.column.keys(n)


def _reintern(keys: list[bytes]) -> tuple[np.ndarray, list[bytes]]:
    index: dict[bytes, int] = {}
    ids = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64,
                      count=len(keys))
    return ids, list(index)


def mapped(col: InternedColumn, fn: Callable[[bytes], bytes]) -> InternedColumn:
    """``fn`` applied to each distinct value (not each row), re-interned."""
    remap, values = _reintern([fn(v) for v in col.vocab.values])
    return InternedColumn(remap[col.ids], Vocabulary(len(values), lambda: values))


def paired(a: InternedColumn, b: InternedColumn, sep: bytes = b" ") -> InternedColumn:
    """Rows keyed by the pair of two columns' values, ``a + sep + b``."""
    nb = max(b.vocab.size, 1)
    combo = a.ids.astype(np.int64) * nb + b.ids
    uniq, inverse = np.unique(combo, return_inverse=True)
    av, bv = a.vocab, b.vocab

    def values() -> list[bytes]:
        va, vb = av.values, bv.values
        return [va[i] + sep + vb[j] for i, j in zip((uniq // nb).tolist(), (uniq % nb).tolist())]
    return InternedColumn(inverse.reshape(-1).astype(np.int64), Vocabulary(int(uniq.size), values))


def prefix_of(ip: bytes, v4: int = 24, v6: int = 64) -> bytes:
    """A client address's network: ``/24`` for IPv4, ``/64`` for IPv6; other text as it is."""
    if ip.count(b".") == 3 and b":" not in ip:
        head = ip.rpartition(b".")[0]
        if v4 == 24:
            return head + b".0/24"
    try:
        addr = ipaddress.ip_address(ip.decode("ascii").strip("[]"))
    except (UnicodeDecodeError, ValueError):
        return ip
    bits = v4 if addr.version == 4 else v6
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False)).encode()


def cookie_value(header: bytes, name: bytes) -> bytes:
    """The value of cookie ``name`` in a ``Cookie:`` header (``b""`` if absent)."""
    for part in header.split(b";"):
        k, eq, v = part.strip().partition(b"=")
        if eq and k == name:
            return v
    return b""


class Sessionizer:
    """Sessions rebuilt from an identity column and times: a new session after ``gap`` s idle.

    State is one entry per identity seen within the last ``gap`` seconds, so it
    stays bounded by the active users, not the trace length. A session's key is
    its identity plus the time of its first request.
    """

    def __init__(self, gap: float) -> None:
        self.gap = float(gap)
        self.state: dict[int, tuple[float, float]] = {}  # identity digest -> (last ts, start)
        self._h = get_hasher("xxh3")
        self._evict_at = 1 << 16

    def __call__(self, ident: InternedColumn, ts: np.ndarray) -> InternedColumn:
        n = len(ident)
        ids = ident.ids
        if n == 0:
            return InternedColumn(ids, Vocabulary(0, list))
        order = np.argsort(ids, kind="stable")
        sid = ids[order]
        st = ts[order]
        first = np.empty(n, dtype=bool)
        first[0] = True
        np.not_equal(sid[1:], sid[:-1], out=first[1:])
        brk = np.zeros(n, dtype=bool)
        brk[1:] = (st[1:] - st[:-1]) > self.gap
        brk &= ~first
        start = np.where(first | brk, st, np.nan)
        digests = ident.vocab.digests(self._h)
        g_rows = np.flatnonzero(first)
        g_dig = digests[sid[g_rows]].tolist()
        state = self.state
        for r, d, t in zip(g_rows.tolist(), g_dig, st[g_rows].tolist()):
            prev = state.get(d)
            if prev is not None and t - prev[0] <= self.gap:
                start[r] = prev[1]
        idx = np.where(np.isnan(start), 0, np.arange(n))
        np.maximum.accumulate(idx, out=idx)
        start = start[idx]
        last = np.flatnonzero(np.r_[first[1:], True])
        for d, t, s in zip(digests[sid[last]].tolist(), st[last].tolist(), start[last].tolist()):
            state[d] = (t, s)
        if len(state) > self._evict_at:
            horizon = float(np.nanmax(st)) - self.gap
            self.state = state = {d: v for d, v in state.items() if v[0] >= horizon}
            self._evict_at = max(1 << 16, 2 * len(state))
        # session key: (identity id, start) -> distinct sessions of this chunk
        pairs = np.rec.fromarrays([sid, start])
        uniq, inv = np.unique(pairs, return_inverse=True)
        out = np.empty(n, dtype=np.int64)
        out[order] = inv.reshape(-1)
        vocab = ident.vocab
        u_ids = uniq["f0"].tolist()
        u_start = uniq["f1"].tolist()

        def values() -> list[bytes]:
            v = vocab.values
            return [b"%s#%.3f" % (v[i], s) for i, s in zip(u_ids, u_start)]
        return InternedColumn(out, Vocabulary(len(u_ids), values))
