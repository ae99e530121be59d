"""The streaming driver: byte blocks in, fixed-size columnar chunks out.

Blocks of decompressed bytes are read into fresh numpy buffers (a chunk's
lazily built columns may still point into its block); complete lines are
parsed a chunk at a time by the format's compiled scanner; the tail of a
block that is not a whole line is carried into the next block. Memory is a
block and a chunk or two, whatever the trace's length.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from ..._errors import RoutebenchError
from .._trace import Chunk, InternedColumn, KeyColumn, Vocabulary
from . import _kernels as K
from ._columns import LazyColumn, Sessionizer, cookie_value, mapped, paired, prefix_of
from ._formats import Piece, ReadOptions, TraceFormat, unquote_csv
from ._io import BLOCK, ByteStream, show_bytes

__all__ = ["ReadStats", "ChunkReader", "MAX_EXAMPLES"]

#: rejected lines quoted in reports
MAX_EXAMPLES = 5

#: decompressed bytes asked of a compressed stream at a time
_SLICE = 1 << 20


@dataclass
class ReadStats:
    """What reading a trace did: lines read, used and rejected, and why."""

    source: str = ""
    format: str = ""
    compression: str = "none"
    header_lines: int = 0
    lines: int = 0
    used: int = 0
    rejected: int = 0
    bytes: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, text)
    complete: bool = False  # the whole input was read (no --limit cut)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "format": self.format, "compression": self.compression,
                "lines_read": self.lines, "used": self.used, "rejected": self.rejected,
                "header_lines": self.header_lines, "bytes": self.bytes,
                "rejected_by_reason": dict(self.reasons.most_common()),
                "rejected_examples": [{"line": n, "reason": r, "text": t}
                                      for n, r, t in self.examples],
                "complete": self.complete}

    def summary(self) -> str:
        """One line: read, used, rejected (with the commonest reason)."""
        s = f"{self.lines:,} lines read, {self.used:,} used, {self.rejected:,} rejected"
        if self.reasons:
            r, c = self.reasons.most_common(1)[0]
            s += f" ({c:,} {r}" + (", ..." if len(self.reasons) > 1 else "") + ")"
        return s


def _snippet(buf: np.ndarray, start: int, limit: int = 120) -> str:
    """The line at ``start`` as a person reads it, cut to ``limit`` characters."""
    raw = bytes(buf[start:min(buf.size, start + 4 * limit)])
    nl = raw.find(b"\n")
    return show_bytes((raw if nl < 0 else raw[:nl]).rstrip(b"\r"), limit)


class ChunkReader:
    """Reads one pass over a stream: ``chunks()`` yields Chunks, ``stats`` says what it saw."""

    def __init__(self, stream: ByteStream, head: bytes, fmt: TraceFormat, opts: ReadOptions,
                 route_on: str, columns: tuple[str, ...], stats: ReadStats,
                 block: int = BLOCK, sample: bytes = b"") -> None:
        self.stream = stream
        self.head = head
        self.fmt = fmt
        self.opts = opts
        self.route_on = route_on
        self.columns = columns
        self.stats = stats
        self.block = block
        self.sessions = Sessionizer(opts.session_gap) if "session" in columns else None
        # the raw columns the chunks are built from: only their slices are kept
        keep = set(self._route_sources())
        for c in columns:
            keep |= (set(self._session_sources()) if c == "session" else
                     {"client", "ua"} if c in ("client24", "user") else {c})
        self.keep = sorted(keep)
        self.workers = max(1, min(2, os.cpu_count() or 1))
        sample = sample or head
        lines = sample.count(b"\n")
        self.avg_line = max(16, len(sample) // lines) if lines else 256

    # -- bytes ----------------------------------------------------------------
    def _blocks(self) -> Iterator[tuple[np.ndarray, int, bool]]:
        """(buffer, bytes of whole lines in it, at end of input) a block at a time."""
        carry = self.head
        size = max(self.block, 2 * len(carry))
        eof = False
        while True:
            buf = np.empty(size + 8, dtype=np.uint8)
            m = len(carry)
            buf[:m] = np.frombuffer(carry, dtype=np.uint8)
            mv = buf.data
            while m < size and not eof:
                # a decompressor reads a whole request before it fails: read compressed
                # input in slices so that an error can say how far the data was good
                step = size if self.stats.compression == "none" else min(size, m + _SLICE)
                try:
                    got = self.stream.readinto(mv[m:step])
                except Exception as exc:  # noqa: BLE001 - decompressors raise many kinds
                    raise RoutebenchError(self._read_error(exc)) from None
                if not got:
                    eof = True
                    break
                m += got
                self.stats.bytes += got
            if m == 0:
                return
            if eof:
                cut = m
            else:
                cut = _last_newline(buf, m) + 1
                if cut == 0:  # one line longer than the block: read a bigger block
                    carry = bytes(buf[:m])
                    size *= 2
                    continue
            yield buf[:m], cut, eof
            if eof:
                return
            carry = bytes(buf[cut:m])
            size = max(self.block, 2 * len(carry))

    def _read_error(self, exc: BaseException) -> str:
        what = f"{self.stats.compression}-compressed data" if self.stats.compression != "none" \
            else "data"
        msg = str(exc) or type(exc).__name__
        return (f"{self.stats.source}: cannot read {what} after {self.stats.bytes:,} good "
                f"decompressed bytes: {msg} (corrupt or truncated?)")

    # -- pieces (a background thread; the compiled scanners release the GIL) -----
    def _ranges(self, buf: np.ndarray, w64: np.ndarray, pos: int,
                cut: int) -> list[tuple[int, int]]:
        """Split buf[pos:cut] at line ends into ranges of about a chunk (at least one a worker)."""
        total = cut - pos
        target = max(1, self.avg_line * self.opts.chunk_size)
        nr = max(self.workers, -(-total // target))
        if total < 1 << 16:
            nr = 1
        out = []
        a = pos
        for k in range(1, nr):
            x = pos + total * k // nr
            if x <= a:
                continue
            nl = K._find_nl(buf, w64, x, cut)
            if nl >= cut - 1:
                break
            out.append((a, nl + 1))
            a = nl + 1
        out.append((a, cut))
        return out

    def _parse_range(self, buf: np.ndarray, w64: np.ndarray, a: int, b: int,
                     fuse: list[str]) -> list[Piece]:
        pieces = []
        est = max(1024, int((b - a) / max(self.avg_line / 2, 1)) + 1024)
        while a < b:
            m = min(self.opts.chunk_size, est)
            piece, a = self.fmt.parse(buf, w64, a, b, m, fuse, self.keep)
            if piece.n == 0:
                break
            pieces.append(piece)
        return pieces

    def _pieces(self, stop: threading.Event, fuse: list[str]) -> Iterator[tuple[np.ndarray, Piece]]:
        """Parsed pieces in file order; the next block is read while this one is parsed."""
        header = self.fmt.header_lines
        pool = ThreadPoolExecutor(self.workers)
        pending: list[tuple[np.ndarray, Any]] = []
        try:
            for buf, cut, _eof in self._blocks():
                w64 = word_view(buf)
                pos = 0
                while header and pos < cut:  # skip header lines
                    nl = K._find_nl(buf, w64, pos, cut)
                    pos = nl + 1
                    header -= 1
                    self.stats.header_lines += 1
                if pos < cut:
                    futures = [pool.submit(self._parse_range, buf, w64, a, b, fuse)
                               for a, b in self._ranges(buf, w64, pos, cut)]
                    pending.append((buf, futures))
                if stop.is_set():  # the consumer has what it wants
                    return
                # hand on the previous block's pieces while this block is parsed
                while len(pending) > 1:
                    yield from self._collect(*pending.pop(0))
            while pending:
                yield from self._collect(*pending.pop(0))
        finally:
            for _, futures in pending:
                for f in futures:
                    f.cancel()
            pool.shutdown(wait=True)

    @staticmethod
    def _collect(buf: np.ndarray, futures: list[Any]) -> Iterator[tuple[np.ndarray, Piece]]:
        for f in futures:
            for piece in f.result():
                yield buf, piece

    # -- chunks ---------------------------------------------------------------
    def chunks(self) -> Iterator[Chunk]:
        opts, stats = self.opts, self.stats
        limit = opts.limit
        route_src = self._route_sources()
        fuse = list(dict.fromkeys([*route_src, "client",
                                   *(("ua",) if {"user", "session"} & set(self.columns) else ())]))
        q: queue.Queue[Any] = queue.Queue(maxsize=2)
        stop = threading.Event()

        def produce() -> None:
            try:
                for item in self._pieces(stop, fuse):
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                q.put(_DONE)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                q.put(_Failed(exc))

        th = threading.Thread(target=produce, name="routebench-reader", daemon=True)
        th.start()
        line_no = 0  # lines seen so far, header excluded
        try:
            while True:
                item = q.get()
                if item is _DONE:
                    stats.complete = True
                    break
                if isinstance(item, _Failed):
                    raise item.exc
                buf, piece = item
                chunk, lines = self._chunk(buf, piece, route_src,
                                           line_no + stats.header_lines, limit)
                line_no += lines
                if chunk is not None and len(chunk):
                    yield chunk
                if limit is not None and stats.used >= limit:
                    return
        finally:
            stop.set()
            while th.is_alive():
                try:
                    q.get(timeout=0.05)
                except queue.Empty:
                    pass
            th.join()
            try:
                self.stream.close()
            except Exception:  # noqa: BLE001
                pass

    def _route_sources(self) -> list[str]:
        """The raw columns a row needs to be routable on ``route_on``."""
        r = self.route_on
        if r in ("client24", "user"):
            return ["client"]
        if r == "session":  # the session's identity; the user agent is optional
            return self._session_sources()[:1]
        return [r]

    def _session_sources(self) -> list[str]:
        """The raw columns the ``session`` column is made from (see ``_session``)."""
        kind, _, name = self.opts.session.partition(":")
        if kind == "cookie":
            return [self._cookie_source(name)]
        if kind == "field":
            return [name]
        if "session" in self.fmt.raw:
            return ["session"]
        return ["client", "ua"]

    def _cookie_source(self, name: str) -> str:
        raw = self.fmt.raw
        if f"cookie_{name}" in raw:
            return f"cookie_{name}"
        if "http_cookie" in raw:
            return "http_cookie"
        return f"cookie_{name}"

    def _reject(self, piece: Piece, rows: np.ndarray, reason_of: Callable[[int], str],
                buf: np.ndarray,
                line_no: int) -> None:
        stats = self.stats
        stats.rejected += int(rows.size)
        quote = rows.size and (self.opts.strict or len(stats.examples) < MAX_EXAMPLES)
        for r in rows[:MAX_EXAMPLES].tolist() if quote else []:
            reason = reason_of(r)
            text = _snippet(buf, int(piece.lstart[r]))
            if self.opts.strict:
                raise RoutebenchError(
                    f"{stats.source} line {line_no + r + 1}: {reason}: {text} "
                    "(--strict: the first rejected line stops the run)"
                )
            if len(stats.examples) < MAX_EXAMPLES:
                stats.examples.append((line_no + r + 1, reason, text))
        # reasons for all rows: counted by code (cheap) then named, or one by one where
        # a format words its reasons row by row (JSON lines)
        if piece.reasons:
            for r in rows.tolist():
                stats.reasons[reason_of(r)] += 1
        elif rows.size:
            codes = piece.errcode[rows].astype(np.int64) * 65536 + piece.errtok[rows] + 1
            uniq, first, counts = np.unique(codes, return_index=True, return_counts=True)
            for f, c in zip(first.tolist(), counts.tolist()):
                stats.reasons[reason_of(int(rows[f]))] += c

    def _chunk(self, buf: np.ndarray, piece: Piece, route_src: list[str], line_no: int,
               limit: int | None) -> tuple[Chunk | None, int]:
        stats, fmt = self.stats, self.fmt
        n = piece.n
        ok = piece.errcode == 0
        # rows whose route-on source is absent cannot be routed: rejected too
        missing = np.zeros(n, dtype=bool)
        for src in route_src:
            present = self._present(piece, src)
            if present is None:
                raise RoutebenchError(
                    f"{stats.source}: no column {src!r} to route on; this trace has: "
                    f"{', '.join(fmt.raw)}"
                )
            missing |= ok & ~present
            if src == "http_cookie" and self.route_on == "session":
                missing |= self._without_cookie(buf, piece, ok & ~missing)
        rows = np.flatnonzero(ok & ~missing)
        lines = n
        if limit is not None and stats.used + rows.size > limit:
            rows = rows[: max(limit - stats.used, 0)]
            lines = int(rows[-1]) + 1 if rows.size else 0
        bad = np.flatnonzero(~(ok & ~missing)[:lines])

        def reason_of(r: int) -> str:
            code = int(piece.errcode[r])
            if code == 0:
                return self._missing_reason(route_src)
            if r in piece.reasons:
                return piece.reasons[r]
            return fmt.reason(code, int(piece.errtok[r]))
        self._reject(piece, bad, reason_of, buf, line_no)
        stats.lines += lines
        stats.used += int(rows.size)
        if rows.size == 0:
            return None, lines
        chunk = self._build(buf, piece, rows)
        return chunk, lines

    def _without_cookie(self, buf: np.ndarray, piece: Piece, rows_ok: np.ndarray) -> np.ndarray:
        """Rows whose Cookie header lacks the session cookie: they cannot be routed on it."""
        name = self.opts.session.partition(":")[2].encode()
        rows = np.flatnonzero(rows_ok)
        out = np.zeros(rows_ok.size, dtype=bool)
        if rows.size:
            col = _raw_column(buf, piece, rows, "http_cookie")
            has = np.fromiter((cookie_value(v, name) != b"" for v in col.vocab.values),
                              dtype=bool, count=col.vocab.size)
            out[rows] = ~has[col.ids]
        return out

    def _missing_reason(self, route_src: list[str]) -> str:
        src = route_src[0]
        if src in ("path", "url") and self.fmt.name == "access-log":
            return f"request line has no URL to route on ({src})"
        if src.startswith("cookie_") or src == "http_cookie":
            return f"no cookie {self.opts.session.partition(':')[2]!r} to route on"
        return f"no {src} to route on"

    @staticmethod
    def _present(piece: Piece, col: str) -> np.ndarray | None:
        if col in piece.fused:
            return piece.fused[col][0] >= 0
        if col in piece.slots:
            assert piece.starts is not None
            return piece.starts[:, piece.slots[col]] >= 0
        return None

    def _build(self, buf: np.ndarray, piece: Piece, rows: np.ndarray) -> Chunk:
        cache: dict[str, InternedColumn] = {}

        def raw(name: str) -> InternedColumn:
            col = cache.get(name)
            if col is None:
                col = cache[name] = _raw_column(buf, piece, rows, name)
            return col

        cols: dict[str, KeyColumn] = {}
        nrows = int(rows.size)
        for name in self.columns:
            if name in piece.fused:
                cols[name] = raw(name)
            elif name == "client24":
                cols[name] = LazyColumn(nrows, lambda: mapped(raw("client"), prefix_of))
            elif name == "user" and "user" not in piece.slots and "user" not in piece.fused:
                cols[name] = LazyColumn(nrows, lambda: paired(raw("client"), raw("ua")))
            elif name == "session":
                cols[name] = self._session(raw, piece, rows)
            else:
                cols[name] = LazyColumn(nrows, partial(raw, name))
        ts = piece.ts[rows] if piece.ts is not None else None
        return Chunk(cols, ts)

    def _session(self, raw: Callable[[str], InternedColumn], piece: Piece,
                 rows: np.ndarray) -> KeyColumn:
        kind, _, name = self.opts.session.partition(":")
        if kind == "cookie":
            src = self._cookie_source(name)
            if src == "http_cookie":
                nb = name.encode()
                return mapped(raw(src), lambda h: cookie_value(h, nb))
            return raw(src)
        if kind == "field":
            return raw(name)
        if "session" in self.fmt.raw:
            return raw("session")
        assert self.sessions is not None and piece.ts is not None
        ident = raw("client")
        if kind != "client" and "ua" in self.fmt.raw:
            ident = paired(ident, raw("ua"))
        return self.sessions(ident, piece.ts[rows])


def _raw_column(buf: np.ndarray, piece: Piece, rows: np.ndarray, name: str) -> InternedColumn:
    """A raw column of the used rows, interned; absent values are ``b""``."""
    if name in piece.fused:
        ids, fused, size = piece.fused[name]
        sub = ids[rows]
        if size and (sub >= 0).all():
            return InternedColumn(sub, Vocabulary(size, fused))
        sub = np.where(sub < 0, size, sub)
        return InternedColumn(sub, Vocabulary(size + 1, lambda: [*fused(), b""]))
    assert piece.starts is not None and piece.ends is not None
    slot = piece.slots[name]
    s = np.ascontiguousarray(piece.starts[rows, slot])
    e = np.ascontiguousarray(piece.ends[rows, slot])
    ids, firsts = K.intern_slices(buf, word_view(buf), s, e)
    mv = buf.data
    fs = np.where(s[firsts] < 0, 0, s[firsts]).tolist()
    fe = np.where(s[firsts] < 0, 0, e[firsts]).tolist()
    unquote = piece.unquote

    def values() -> list[bytes]:
        out = [mv[a:b].tobytes() for a, b in zip(fs, fe)]
        return [unquote_csv(v) for v in out] if unquote else out
    return InternedColumn(ids, Vocabulary(len(fs), values))


def word_view(buf: np.ndarray) -> np.ndarray:
    """``buf`` as little-endian 64-bit words for the scanners (empty where it cannot be)."""
    if buf.ctypes.data % 8 or sys.byteorder != "little":
        return np.empty(0, np.uint64)
    return buf[: buf.size // 8 * 8].view(np.uint64)


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def _last_newline(buf: np.ndarray, m: int) -> int:
    """The index of the last ``\\n`` in buf[:m], or -1."""
    step = 1 << 16
    hi = m
    while hi > 0:
        lo = max(0, hi - step)
        idx = bytes(buf[lo:hi]).rfind(b"\n")
        if idx >= 0:
            return lo + idx
        hi = lo
        step *= 2
    return -1


def describe_reading(d: dict[str, Any], fmt: Any, route_on: str, opts: Any,
                     stats: ReadStats | None) -> dict[str, Any]:
    """``d`` (a file trace's description) with how it is read: the log format, sessions,
    and what a read counted; one file's and a file set's end the same way."""
    if fmt.name == "access-log":
        d["log_format"] = getattr(fmt, "log_format", None)
    if route_on == "session":
        d["session"] = opts.session
        d["session_gap_s"] = opts.session_gap
    if stats is not None:
        d["read"] = stats.as_dict()
    return d
