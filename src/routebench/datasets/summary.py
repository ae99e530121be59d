"""What is in a trace: counts, time span, skew, NAT hints (``routebench trace inspect``).

One streaming pass in bounded memory: distinct keys are exact up to
``DISTINCT_CAP`` per column (then a bottom-k estimate), request counts per key
are exact up to ``TALLY_CAP`` keys (then the heaviest are kept and the counts
are flagged approximate).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ..hashing import Hasher, get_hasher
from ._distinct import DistinctSample
from ._trace import Chunk, InternedColumn, KeyColumn, Trace

__all__ = ["summarize_trace", "DISTINCT_CAP", "TALLY_CAP"]

DISTINCT_CAP = 1 << 22
TALLY_CAP = 1 << 17
_H = get_hasher("xxh3")


def _given(digests: np.ndarray, _hasher: Hasher) -> np.ndarray:
    """Digests already made with the one hash function the sketch uses."""
    return digests


def _distinct() -> DistinctSample:
    """Distinct xxh3 digests: exact up to ``DISTINCT_CAP``, then a bottom-k sample."""
    return DistinctSample([_H], capacity=DISTINCT_CAP)


class _Tally:
    """Requests per key with the key's bytes: exact up to ``cap`` keys, then the heaviest."""

    def __init__(self, cap: int = TALLY_CAP) -> None:
        self.cap = cap
        self.dig = np.empty(0, np.uint64)
        self.cnt = np.empty(0, np.int64)
        self.keys: dict[int, bytes] = {}
        self.extra: dict[int, int] = {}  # optional second count a key (distinct sub-keys)
        self.error = 0  # largest count dropped: counts may be low by at most this

    def add(self, digests: np.ndarray, counts: np.ndarray, values: Callable[[int], bytes]) -> None:
        all_d = np.concatenate([self.dig, digests])
        all_c = np.concatenate([self.cnt, counts])
        u, inv = np.unique(all_d, return_inverse=True)
        c = np.bincount(inv.reshape(-1), weights=all_c, minlength=u.size).astype(np.int64)
        known = self.keys
        for i, d in enumerate(digests.tolist()):
            if d not in known:
                known[d] = values(i)
        if u.size > self.cap:
            keep = np.sort(np.argpartition(-c, self.cap)[: self.cap])
            dropped = np.ones(u.size, bool)
            dropped[keep] = False
            self.error = max(self.error, int(c[dropped].max()))
            u, c = u[keep], c[keep]
            kept = set(u.tolist())
            self.keys = {d: k for d, k in known.items() if d in kept}
            self.extra = {d: v for d, v in self.extra.items() if d in kept}
        self.dig, self.cnt = u, c

    def add_extra(self, digests: np.ndarray) -> None:
        for d in digests.tolist():
            self.extra[d] = self.extra.get(d, 0) + 1

    def top(self, k: int, by_extra: bool = False) -> list[tuple[bytes, int, int]]:
        if by_extra:
            items = sorted(self.extra.items(), key=lambda kv: -kv[1])[:k]
            cnt = dict(zip(self.dig.tolist(), self.cnt.tolist()))
            return [(self.keys.get(d, b"?"), cnt.get(d, 0), e) for d, e in items]
        order = np.argsort(-self.cnt, kind="stable")[:k]
        return [(self.keys.get(d, b"?"), c, self.extra.get(d, 0))
                for d, c in zip(self.dig[order].tolist(), self.cnt[order].tolist())]


def _parts(col: KeyColumn) -> tuple[np.ndarray, np.ndarray, Callable[[int], bytes], np.ndarray]:
    """(distinct digests, requests each, key bytes of distinct i, row -> distinct index)."""
    inner = col if isinstance(col, InternedColumn) else getattr(col, "column", None)
    if isinstance(inner, InternedColumn):
        counts = np.bincount(inner.ids, minlength=inner.vocab.size)
        used = np.flatnonzero(counts)
        dig = inner.vocab.digests(_H)[used]
        values = inner.vocab.values
        remap = np.full(inner.vocab.size, -1, np.int64)
        remap[used] = np.arange(used.size)
        return dig, counts[used], (lambda i: values[int(used[i])]), remap[inner.ids]
    d = col.digest(_H)
    u, first, inv, counts = np.unique(d, return_index=True, return_inverse=True,
                                      return_counts=True)
    keys = col.keys()
    return u, counts, (lambda i: keys[int(first[i])]), inv.reshape(-1)


def _pair_digest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = a * np.uint64(0x9E3779B97F4A7C15) ^ (b + np.uint64(0x632BE59BD9B4E019))
        x ^= x >> np.uint64(31)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(29)
    return x


def summarize_trace(trace: Trace, top: int = 10,
                    progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """One pass over ``trace``: what ``routebench trace inspect`` shows, as a dict."""
    route = trace.route_on
    cols = list(trace.columns)
    distinct_cols = [c for c in ("client", "client24", "user", "session", "path", "url", "key",
                                 route) if c in cols]
    distinct_cols = list(dict.fromkeys(distinct_cols))
    distinct = {c: _distinct() for c in distinct_cols}
    tallies = {c: _Tally() for c in dict.fromkeys([route, "client", "client24"]) if c in cols}
    pairs_24 = _distinct()
    pairs_user = _distinct()
    requests = 0
    t_min, t_max = np.inf, -np.inf
    has_ts = False
    for chunk in trace.chunks():
        requests += len(chunk)
        if chunk.ts is not None and chunk.ts.size:
            has_ts = True
            t_min = min(t_min, float(np.nanmin(chunk.ts)))
            t_max = max(t_max, float(np.nanmax(chunk.ts)))
        parts = {}
        for c in distinct_cols:
            parts[c] = _parts(chunk.columns[c])
            distinct[c].add(partial(_given, parts[c][0]))
        for c, tally in tallies.items():
            dig, counts, values, _ = parts.get(c) or _parts(chunk.columns[c])
            tally.add(dig, counts, values)
        _nat_hints(chunk, parts, tallies, pairs_24, pairs_user)
        if progress:
            progress(len(chunk))
    out: dict[str, Any] = {"trace": trace.label, "describe": trace.describe(),
                           "route_on": route, "columns": cols, "requests": requests}
    stats = getattr(trace, "stats", None)
    if stats is not None:
        out["read"] = stats.as_dict()
    if has_ts:
        span = t_max - t_min
        out["time"] = {"first": t_min, "last": t_max, "span_s": span,
                       "rate_per_s": requests / span if span > 0 else None}
    out["distinct"] = {c: {"count": d.estimate(), "exact": d.exact} for c, d in distinct.items()}
    tops: dict[str, Any] = {}
    for c, tally in tallies.items():
        rows = tally.top(top, by_extra=False)
        tops[c] = [{"key": _show(k), "requests": n, "share": n / requests if requests else 0.0,
                    **({"distinct_clients": e} if c == "client24" else {}),
                    **({"distinct_users": e} if c == "client" and "user" in cols else {})}
                   for k, n, e in rows]
        tops[c + "_approximate"] = tally.error > 0
    out["top"] = tops
    if route in tallies:
        t = tallies[route]
        shares = np.sort(t.cnt)[::-1] / max(requests, 1)
        out["skew"] = {f"top{k}_share": float(shares[:k].sum()) for k in (1, 10, 100, 1000)}
    if "client" in tallies and "user" in cols:
        rows = tallies["client"].top(top, by_extra=True)
        out["nat_hints"] = [{"client": _show(k), "requests": n, "distinct_users": e}
                            for k, n, e in rows if e > 1]
    return out


def _nat_hints(chunk: Chunk, parts: dict[str, Any], tallies: dict[str, _Tally],
               pairs_24: DistinctSample, pairs_user: DistinctSample) -> None:
    """Distinct client IPs per /24 and distinct users (IP + UA) per IP, as they first appear."""
    if "client" not in parts:
        return
    cdig, _, _, crow = parts["client"]
    row_client = cdig[crow]
    if "client24" in parts and "client24" in tallies:
        pdig, _, _, prow = parts["client24"]
        row_prefix = pdig[prow]
        pairs = _pair_digest(row_prefix, row_client)
        new = pairs_24.add(partial(_given, pairs))
        if new.size:
            # which prefixes the new (prefix, client) pairs belong to
            _, first = np.unique(pairs, return_index=True)
            sel = first[np.isin(pairs[first], new)]
            tallies["client24"].add_extra(row_prefix[sel])
    if "user" in parts:
        udig, _, _, urow = parts["user"]
        pd = _pair_digest(row_client, udig[urow])
        new = pairs_user.add(partial(_given, pd))
        if new.size:
            _, first = np.unique(pd, return_index=True)
            sel = first[np.isin(pd[first], new)]
            tallies["client"].add_extra(row_client[sel])


def _show(key: bytes) -> str:
    text = key.decode("utf-8", "backslashreplace")
    return text if len(text) <= 120 else text[:117] + "..."
